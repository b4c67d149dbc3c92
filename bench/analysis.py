"""Analysis benchmarks: each prints its cost as a ratio against a baseline measured in the same run.

Run: .venv/bin/python bench/analysis.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._incremental import bench_incremental  # noqa: E402
from service.analysis.cleaning import clean_hr  # noqa: E402
from service.analysis.hrv import time_domain  # noqa: E402
from service.analysis.minutes import day_totals, minute_table  # noqa: E402
from service.analysis.profile import HeartProfile  # noqa: E402
from service.analysis.sessions import find_sessions  # noqa: E402

YEAR_S = 365 * 86_400
EPOCH_2025 = 1_735_689_600.0


def _year_of_hr(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n seconds of 1 Hz strap data: sleep, day, a daily 45-min interval workout, noise, drop-outs."""
    rng = np.random.default_rng(seed)
    t = EPOCH_2025 + np.arange(n, dtype=np.float64)
    sec = (np.arange(n, dtype=np.int32) % 86_400).astype(np.float32)
    bpm = np.where(sec < 7 * 3600, np.float32(54), np.float32(72))
    workout = (sec >= 18 * 3600) & (sec < 18 * 3600 + 2700)
    phase = sec[workout] - 18 * 3600
    ramp = np.minimum(phase / 120, 1)
    effort = ramp * (157 + 8 * np.sin(phase / 240 * np.pi)) + (1 - ramp) * 72  # smooth intervals
    bpm[workout] = effort.astype(np.float32)
    end_bpm = 157 + 8 * np.sin(2700 / 240 * np.pi)
    after = (sec >= 18 * 3600 + 2700) & (sec < 18 * 3600 + 3600)  # exponential recovery, tau 60 s
    since = sec[after] - (18 * 3600 + 2700)
    bpm[after] = (72 + (end_bpm - 72) * np.exp(-since / 60)).astype(np.float32)
    bpm += rng.standard_normal(n, dtype=np.float32) * np.float32(2)
    np.rint(bpm, out=bpm)
    contact = np.ones(n, dtype=np.bool_)
    off = (sec >= 12 * 3600) & (sec < 12 * 3600 + 600)  # strap off for 10 min every day
    contact[off] = False
    bpm[off] = 0
    spikes = rng.integers(0, n, n // 20_000)
    bpm[spikes] += 80  # isolated artefacts
    return t, bpm, contact


def _pipeline(t: np.ndarray, bpm: np.ndarray, contact: np.ndarray, profile: HeartProfile) -> dict[str, float]:
    """Run every stage once; return the CPU seconds of each (process time: fair on shared cores)."""
    cpu = {}
    start = time.process_time()
    clean = clean_hr(t, bpm, contact=contact)
    cpu["clean"], start = time.process_time() - start, time.process_time()
    table = minute_table(t, bpm, clean.valid, profile=profile, contact=contact)
    cpu["minutes"], start = time.process_time() - start, time.process_time()
    day_totals(table, EPOCH_2025 + 86_400.0 * np.arange(t.size // 86_400 + 2))
    cpu["days"], start = time.process_time() - start, time.process_time()
    cpu["n_sessions"] = len(find_sessions(t, bpm, clean.valid, table))
    cpu["sessions"] = time.process_time() - start
    return cpu


def _cpu_best_of(repeats: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _best_of(repeats: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_minutes(quick: bool = False) -> None:
    """Cleaning + minute table + day totals + sessions on a year of 1 Hz HR vs np.diff(t).sum()."""
    n = 7 * 86_400 if quick else YEAR_S
    t, bpm, contact = _year_of_hr(n)
    profile = HeartProfile(resting_hr=55.0, max_hr=185.0)
    runs = [_pipeline(t, bpm, contact, profile) for _ in range(2)]
    stages = {key: min(run[key] for run in runs) for key in runs[0]}
    baseline_s = _cpu_best_of(5, lambda: np.diff(t).sum())
    total_s = stages["clean"] + stages["minutes"] + stages["days"] + stages["sessions"]
    input_bytes = t.nbytes + bpm.nbytes + contact.nbytes
    tracemalloc.start()
    _pipeline(t, bpm, contact, profile)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sessions = int(stages["n_sessions"])
    print(f"minutes: {n:,} samples ({input_bytes / 1e6:.0f} MB in: t float64, bpm float32, contact bool)")
    print(f"  baseline np.diff(t).sum():  {baseline_s * 1e3:8.1f} ms CPU")
    for key in ("clean", "minutes", "days", "sessions"):
        print(f"  {key:<26s}{stages[key] * 1e3:8.1f} ms CPU  ratio {stages[key] / baseline_s:5.1f}")
    print(
        f"  all stages                {total_s * 1e3:8.1f} ms CPU  ratio {total_s / baseline_s:5.1f} (aim <= 10)"
    )
    per_sample = stages["clean"] + stages["minutes"] + stages["days"]
    print(
        f"  per-sample stages ratio {per_sample / baseline_s:.1f}; sessions {sessions} at"
        f" {stages['sessions'] * 1e3 / max(sessions, 1):.2f} ms each (one recovery fit apiece)"
    )
    print(f"  peak extra memory {peak / 1e6:.0f} MB = {peak / input_bytes:.2f} x input (aim < 1)")
    bench_sparse(t, bpm, contact, profile)


def bench_sparse(t: np.ndarray, bpm: np.ndarray, contact: np.ndarray, profile: HeartProfile) -> None:
    """The same data as a smart recording (every 1-19 s, mean 6.6 s): the per-minute work stays, samples go.

    Each stage against np.diff(t).sum() of the sparse times, so the ratio shows what per-minute work
    costs when there are fewer samples to spread it over.
    """
    rng = np.random.default_rng(3)
    kept = np.cumsum(rng.choice([1, 2, 3, 4, 5, 7, 12, 19], t.size // 4))
    kept = kept[kept < t.size]
    ts, bs, cs = t[kept], bpm[kept], contact[kept]
    runs = [_pipeline(ts, bs, cs, profile) for _ in range(2)]
    stages = {key: min(run[key] for run in runs) for key in runs[0]}
    baseline_s = _cpu_best_of(5, lambda: np.diff(ts).sum())
    input_bytes = ts.nbytes + bs.nbytes + cs.nbytes
    tracemalloc.start()
    _pipeline(ts, bs, cs, profile)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"sparse: {ts.size:,} samples ({input_bytes / 1e6:.0f} MB), baseline {baseline_s * 1e3:.1f} ms CPU")
    for key in ("clean", "minutes", "days", "sessions"):
        print(f"  {key:<26s}{stages[key] * 1e3:8.1f} ms CPU  ratio {stages[key] / baseline_s:5.1f}")
    print(f"  sessions {int(stages['n_sessions'])}; peak extra memory {peak / input_bytes:.2f} x input")


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
    bench_minutes(quick=args.quick)
    bench_hrv(quick=args.quick)
    bench_incremental(quick=args.quick)


if __name__ == "__main__":
    main()
