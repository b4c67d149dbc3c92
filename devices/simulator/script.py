"""What a virtual strap plays: a script of ticks (one per notification) with their bpm and RR intervals.

Made from RR intervals, read from a recording file (CSV, FIT-derived CSV, Polar HRM, RR text), or generated
as a workout; pure, so the peripheral (devices.simulator.peripheral) and tests share it.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Tick:
    """One notification of a script: `t_s` from the start, the bpm, the RR intervals since the last."""

    t_s: float
    bpm: int
    rr_ms: tuple[float, ...] = ()


# --- recordings -----------------------------------------------------------------------------------

_T_COLUMNS = ("elapsed_s", "t", "t_s", "time", "timestamp", "timestamp_utc")
_BPM_COLUMNS = ("bpm", "heart_rate_bpm", "hr", "heart_rate")
_RR_COLUMNS = ("rr_ms", "rr")


def load_recording(path: Path) -> list[Tick]:
    """Read a replay file: CSV `t,bpm[,rr_ms]` (t in s / ISO 8601 / epoch ms), FIT-derived CSV, RR text.

    Raises:
        ValueError: when the file holds no usable row.
    """
    text = Path(path).read_text(encoding="utf-8")
    if "[HRData]" in text:  # Polar HRM: RR intervals after the [HRData] section header
        ticks = ticks_from_rr([float(v) for v in text.split("[HRData]", 1)[1].split()])
    elif any(c.isalpha() for c in text.splitlines()[0] if text.strip()):
        ticks = _ticks_from_csv(text)
    else:
        ticks = ticks_from_rr([float(v) for v in text.split()])
    if not ticks:
        raise ValueError(f"{path}: no heart-rate rows")
    return ticks


def _ticks_from_csv(text: str) -> list[Tick]:
    """Rows of a CSV with a header; rows without a heart rate are skipped (a gap stays a gap)."""
    reader = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(reader)]
    t_col = _column(header, _T_COLUMNS, 0)
    bpm_col = _column(header, _BPM_COLUMNS, 1)
    rr_col = _column(header, _RR_COLUMNS, 2 if len(header) > 2 and bpm_col == 1 else None)
    rows = [r for r in reader if len(r) > bpm_col and r[bpm_col].strip()]
    if not rows:
        return []
    t0 = _time_s(rows[0][t_col])
    ticks = []
    for row in rows:
        rr = tuple(float(v) for v in row[rr_col].split()) if rr_col is not None and len(row) > rr_col else ()
        ticks.append(Tick(_time_s(row[t_col]) - t0, round(float(row[bpm_col])), rr))
    return ticks


def _column(header: list[str], names: Sequence[str], default: int | None) -> int | None:
    """Index of the first known column name present, else the positional default."""
    return next((header.index(n) for n in names if n in header), default)


def _time_s(value: str) -> float:
    """A time cell in seconds: seconds from start, epoch milliseconds, or ISO 8601."""
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return number / 1000 if number > 1e11 else number


def ticks_from_rr(rr_ms: Sequence[float], period_s: float = 1.0) -> list[Tick]:
    """Notify every `period_s`, as a strap does, with the RR of the beats since the last notification.

    bpm comes from those RR (the previous value when no beat fell in the period); an incomplete last
    period is dropped.
    """
    ticks: list[Tick] = []
    pending: list[float] = []
    beat_s, next_s, bpm = 0.0, period_s, 0
    for rr in rr_ms:
        beat_s += rr / 1000
        while beat_s > next_s:
            bpm = round(60000 * len(pending) / sum(pending)) if pending else bpm
            ticks.append(Tick(round(next_s, 6), bpm, tuple(pending)))
            pending, next_s = [], next_s + period_s
        pending.append(rr)
    if pending and beat_s >= next_s - 1e-9:  # the last period ends exactly on a beat
        ticks.append(Tick(round(next_s, 6), round(60000 * len(pending) / sum(pending)), tuple(pending)))
    return [t for t in ticks if t.bpm > 0]


# --- generated workout ----------------------------------------------------------------------------

_WORKOUT_PHASES_S_BPM = (  # (duration_s, target bpm at the end); linear inside a phase
    (120, 64),
    (300, 115),
    (180, 160),
    (120, 125),
    (180, 165),
    (120, 125),
    (180, 168),
    (300, 110),
    (240, 80),
)


def generate_workout(*, seed: int = 0, rest_bpm: float = 62.0, scale: float = 1.0) -> list[Tick]:
    """Rest, warm-up, three intervals, cool-down and recovery, notified at 1 Hz with each beat's RR.

    `scale` stretches every phase (0.1 gives a 3-minute workout for demos and tests).
    """
    rng = random.Random(seed)
    rr_ms: list[float] = []
    beat_s, t_s, prev_bpm = 0.0, 0.0, rest_bpm
    for duration_s, target_bpm in _WORKOUT_PHASES_S_BPM:
        end_s, start_bpm = t_s + duration_s * scale, prev_bpm
        while beat_s < end_s:
            bpm = start_bpm + (target_bpm - start_bpm) * (beat_s - t_s) / (end_s - t_s)
            rr = 60000 / bpm * (1 + 0.03 * math.sin(beat_s / 4) + rng.gauss(0, 0.01))  # RSA-like wobble
            rr_ms.append(round(rr))
            beat_s += rr_ms[-1] / 1000
        t_s, prev_bpm = end_s, target_bpm
    return ticks_from_rr(rr_ms)
