"""Bluetooth ingestion benchmarks, each a ratio against a baseline measured in the same run.

    .venv/bin/python bench/ble.py [--quick]

bench_decode: payloads/s of devices.hrs.decode_measurement against Bumble's
HeartRateService.HeartRateMeasurement.from_bytes on the same realistic notification mix.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from any directory

from bumble.profiles.heart_rate_service import HeartRateService  # noqa: E402

from devices.hrs import HeartRateMeasurement, decode_measurement, encode_measurement  # noqa: E402

DECODE_TARGET_RATIO = 3.0
MIX_SEED = 7


def realistic_mix(n: int, seed: int = MIX_SEED) -> list[bytes]:
    """Notifications as straps send them: 8/16-bit bpm, energy or not, contact bits, 0-4 RR intervals."""
    rng = random.Random(seed)
    payloads = []
    for _ in range(n):
        bpm = rng.randint(45, 200)
        n_rr = rng.choice((0, 1, 1, 1, 2, 2, 3, 4))
        rr_ms = tuple(round(rng.uniform(300, 1300) * 1.024) / 1.024 for _ in range(n_rr))
        m = HeartRateMeasurement(
            bpm=bpm,
            sensor_contact=rng.choice((None, True, True, False)),
            energy_expended_kj=rng.randint(0, 3000) if rng.random() < 0.25 else None,
            rr_intervals_ms=rr_ms,
            uint16_bpm=rng.random() < 0.3,
        )
        payloads.append(encode_measurement(m))
    return payloads


def rate_per_s(decode: Callable[[bytes], object], payloads: Sequence[bytes]) -> float:
    """Throughput of one pass in payloads per second."""
    start = time.perf_counter()
    for payload in payloads:
        decode(payload)
    return len(payloads) / (time.perf_counter() - start)


def bench_decode(*, quick: bool = False) -> float:
    """Print our decode rate against Bumble's on the same mix; return the ratio (ours / Bumble's)."""
    payloads = realistic_mix(5_000 if quick else 50_000)
    repeats = 2 if quick else 5
    bumble_decode = HeartRateService.HeartRateMeasurement.from_bytes
    for payload in payloads[:1000]:  # same answers, or the comparison means nothing
        ours, theirs = decode_measurement(payload), bumble_decode(payload)
        assert (ours.bpm, ours.energy_expended_kj) == (theirs.heart_rate, theirs.energy_expended)
    # Interleave the two and keep each one's best pass, so drifting load on a shared machine hits both alike.
    ours_rate = bumble_rate = 0.0
    for _ in range(repeats):
        bumble_rate = max(bumble_rate, rate_per_s(bumble_decode, payloads))
        ours_rate = max(ours_rate, rate_per_s(decode_measurement, payloads))
    ratio = ours_rate / bumble_rate
    verdict = "ok" if ratio >= DECODE_TARGET_RATIO else f"BELOW TARGET {DECODE_TARGET_RATIO:.1f}x"
    print(f"decode  {len(payloads):>6} payloads  bumble {bumble_rate:>12,.0f}/s  ours {ours_rate:>12,.0f}/s  "
          f"ratio {ratio:5.2f}x  ({verdict})")
    return ratio


def main(argv: Sequence[str] | None = None) -> int:
    """Run every benchmark; exit 1 when one misses its target ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a CI smoke run")
    args = parser.parse_args(argv)
    met = [bench_decode(quick=args.quick) >= DECODE_TARGET_RATIO]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
