"""Analysis benchmarks: each prints its cost as a ratio against a baseline measured in the same run.

Run: .venv/bin/python bench/analysis.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.analysis.hrv import time_domain  # noqa: E402


def _best_of(repeats: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _synthetic_day(quick: bool) -> tuple[np.ndarray, float] | None:
    """Corrupted RR (ms) of the synthetic day and the true RMSSD of the same span, or None if absent."""
    path = ROOT / ".." / "shared" / "data" / "synthetic_24h_rr.npz"
    if not path.exists():
        return None
    data = np.load(path)
    rr = data["corrupted_units"] * (1000.0 / 1024.0)
    clean = data["clean_units"] * (1000.0 / 1024.0)
    if quick:  # the first three hours
        rr = rr[np.cumsum(rr) <= 3 * 3_600_000.0]
        clean = clean[np.cumsum(clean) <= rr.sum()]
    return rr, float(np.sqrt(np.mean(np.diff(clean) ** 2)))


def bench_hrv(quick: bool = False) -> None:
    """Artefact correction + time-domain HRV on the synthetic 24-h RR day vs NeuroKit2's default pipeline."""
    day = _synthetic_day(quick)
    if day is None:
        print("hrv: ../shared/data/synthetic_24h_rr.npz is absent, skipped")
        return
    rr, truth_ms = day
    try:
        import neurokit2 as nk  # test extra: the baseline, not a dependency of the service
    except ImportError:
        print("hrv: neurokit2 is not installed (pip install -e '.[test]'), skipped")
        return
    ours = time_domain(rr)
    ours_s = _best_of(5, lambda: time_domain(rr))
    peaks = np.rint(np.concatenate([[0.0], np.cumsum(rr)])).astype(np.int64)  # sample indices at 1 kHz

    def neurokit() -> float:
        _, fixed = nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios")  # iterative by default
        return float(nk.hrv_time(fixed, sampling_rate=1000)["HRV_RMSSD"].iloc[0])

    start = time.perf_counter()
    nk_rmssd = neurokit()
    nk_s = time.perf_counter() - start
    raw = time_domain(rr, correct_artifacts=False).rmssd_ms
    hours, nk_err, our_err = rr.sum() / 3.6e6, _pct(nk_rmssd, truth_ms), _pct(ours.rmssd_ms, truth_ms)
    print(f"hrv: {rr.size:,} RR intervals ({hours:.1f} h), true RMSSD {truth_ms:.2f} ms, raw {raw:.2f} ms")
    print(f"  NeuroKit2 Kubios + hrv_time: {nk_s * 1e3:8.1f} ms  RMSSD {nk_rmssd:6.2f} ms ({nk_err})")
    print(f"  chinup time_domain:          {ours_s * 1e3:8.1f} ms  RMSSD {ours.rmssd_ms:6.2f} ms ({our_err})")
    print(f"  speed-up {nk_s / ours_s:6.0f} x (aim >= 100); {ours.n_corrected} beats corrected")


def _pct(value: float, truth: float) -> str:
    return f"{100.0 * (value - truth) / truth:+.1f} % from truth"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter inputs, for CI smoke runs")
    args = parser.parse_args()
    bench_hrv(quick=args.quick)


if __name__ == "__main__":
    main()
