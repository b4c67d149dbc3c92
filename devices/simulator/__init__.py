"""A virtual heart-rate strap: a Bumble GATT peripheral that replays a recording or a generated workout.

One module per job: `script` (the ticks it plays), `peripheral` (the GATT strap), `runner` (`chinup strap`);
the public names are re-exported here, so `from devices.simulator import VirtualStrap` keeps working.
"""

from devices.simulator.peripheral import (
    ADVERTISING_INTERVAL_MS,
    HEART_RATE_BELT_APPEARANCE,
    MAX_RR_PER_NOTIFICATION,
    TEST_COMPANY_ID,
    StrapCounters,
    StrapProfile,
    VirtualStrap,
)
from devices.simulator.runner import run_strap
from devices.simulator.script import Tick, generate_workout, load_recording, ticks_from_rr

__all__ = [
    "ADVERTISING_INTERVAL_MS", "HEART_RATE_BELT_APPEARANCE", "MAX_RR_PER_NOTIFICATION", "TEST_COMPANY_ID",
    "StrapCounters", "StrapProfile", "Tick", "VirtualStrap", "generate_workout", "load_recording", "run_strap",
    "ticks_from_rr",
]
