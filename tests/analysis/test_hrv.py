"""Time-domain HRV against NeuroKit2 on real recordings, and against the synthetic day's truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analysis.errors import AnalysisError, InvalidSeries, TooFewBeats
from service.analysis.hrv import time_domain, window_stats

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
UNITS_TO_MS = 1000.0 / 1024.0
TRUTH_RMSSD_MS, TRUTH_SDNN_MS, TRUTH_PNN50_PCT = 24.43, 192.91, 6.06  # data/README.md
NEUROKIT_RMSSD_MS = 26.03  # NeuroKit2 0.2.13 Kubios (iterative) + hrv_time on the same day, README


def _data(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} is not in ../shared/data")
    return path


def _windows() -> dict[str, np.ndarray]:
    rest = np.loadtxt(_data("hrv_supine_rest_rri.txt"))
    text = _data("hrv_submax_cycling_rri.hrm").read_text()
    ex = np.array(text.split("[HRData]", 1)[1].split(), dtype=float)
    t_s = np.cumsum(ex) / 1000.0
    # Seated rest (first 5 min) and passive recovery (after 37.5 min). The first interval, 1589 ms,
    # is a missed beat that NeuroKit2 cannot correct (it skips the first peaks), so both start at 1.
    return {"supine": rest, "seated": ex[1:][t_s[1:] < 300.0], "recovery": ex[t_s > 2250.0]}


def _neurokit(rr: np.ndarray, *, fix: bool) -> dict[str, float]:
    nk = pytest.importorskip("neurokit2")
    peaks = np.concatenate([[0], np.cumsum(rr)]).astype(int)
    if fix:
        _, peaks = nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios")
    out = nk.hrv_time(peaks, sampling_rate=1000)
    return {k: float(out[f"HRV_{k}"].iloc[0]) for k in ("RMSSD", "SDNN", "pNN50", "MeanNN")}


@pytest.mark.parametrize("window", ["supine", "seated", "recovery"])
def test_uncorrected_metrics_equal_neurokit2(window: str) -> None:
    rr = _windows()[window]
    ours, theirs = time_domain(rr, correct_artifacts=False), _neurokit(rr, fix=False)
    assert ours.rmssd_ms == pytest.approx(theirs["RMSSD"], rel=1e-12)
    assert ours.sdnn_ms == pytest.approx(theirs["SDNN"], rel=1e-12)  # both sample SD, ddof=1
    # NeuroKit2 divides NN50 by the number of intervals, the Task Force by the number of differences;
    # and its ms from peaks (x / 1000 * 1000) can lift a difference of exactly 50 ms above 50: one beat.
    assert ours.pnn50_pct * (rr.size - 1) / rr.size == pytest.approx(theirs["pNN50"], abs=101.0 / rr.size)
    assert ours.mean_hr_bpm == pytest.approx(60_000.0 / theirs["MeanNN"], rel=1e-12)
    assert (ours.n_beats, ours.n_corrected) == (rr.size, 0)


@pytest.mark.parametrize("window", ["supine", "seated", "recovery"])
def test_corrected_metrics_close_to_neurokit2_kubios(window: str) -> None:
    rr = _windows()[window]
    ours, theirs = time_domain(rr), _neurokit(rr, fix=True)
    assert ours.rmssd_ms == pytest.approx(theirs["RMSSD"], rel=0.04)
    assert ours.sdnn_ms == pytest.approx(theirs["SDNN"], rel=0.03)


def test_recovery_window_missed_beat_is_what_both_correct() -> None:
    rr = _windows()["recovery"]
    raw, fixed = time_domain(rr, correct_artifacts=False), time_domain(rr)
    assert fixed.n_corrected == 1 and fixed.n_beats == rr.size + 1
    assert fixed.rmssd_ms < 0.5 * raw.rmssd_ms


def test_synthetic_day_closer_to_truth_than_neurokit2() -> None:
    d = np.load(_data("synthetic_24h_rr.npz"))
    m = time_domain(d["corrupted_units"] * UNITS_TO_MS)
    err = abs(m.rmssd_ms - TRUTH_RMSSD_MS) / TRUTH_RMSSD_MS
    assert err <= abs(NEUROKIT_RMSSD_MS - TRUTH_RMSSD_MS) / TRUTH_RMSSD_MS
    assert err < 0.02
    assert m.sdnn_ms == pytest.approx(TRUTH_SDNN_MS, rel=0.002)
    assert m.pnn50_pct == pytest.approx(TRUTH_PNN50_PCT, abs=0.2)
    assert m.n_beats == d["clean_units"].size
    raw = time_domain(d["corrupted_units"] * UNITS_TO_MS, correct_artifacts=False)
    assert raw.rmssd_ms > 3 * TRUTH_RMSSD_MS  # 0.96 % artefacts quadruple uncorrected RMSSD


def test_too_few_beats_and_bad_input_raise_analysis_errors() -> None:
    for rr in ([], [800.0]):
        with pytest.raises(TooFewBeats) as info:
            time_domain(rr)
        assert (info.value.n_beats, info.value.minimum) == (len(rr), 2)
    for bad in ([[800.0, 810.0]], [800.0, 0.0], [800.0, np.inf]):
        with pytest.raises(InvalidSeries):
            time_domain(bad)
    assert issubclass(TooFewBeats, AnalysisError) and issubclass(AnalysisError, ValueError)
    two = time_domain([800.0, 850.0])
    assert (two.rmssd_ms, two.pnn50_pct, two.mean_hr_bpm) == (50.0, 0.0, 60_000.0 / 825.0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 500), k=st.floats(0.25, 4.0))
def test_uncorrected_metrics_scale_with_the_series(seed: int, n: int, k: float) -> None:
    rr = 600.0 + np.random.default_rng(seed).gamma(4.0, 50.0, n)
    a, b = time_domain(rr, correct_artifacts=False), time_domain(k * rr, correct_artifacts=False)
    assert b.rmssd_ms == pytest.approx(k * a.rmssd_ms, rel=1e-9)
    assert b.sdnn_ms == pytest.approx(k * a.sdnn_ms, rel=1e-9)
    assert b.mean_hr_bpm == pytest.approx(a.mean_hr_bpm / k, rel=1e-9)


def test_window_stats_on_a_constructed_series_with_a_gap() -> None:
    k = np.arange(900)
    rr = 1000.0 + 40.0 * np.sin(2 * np.pi * k / 5)  # 60 bpm with breathing
    t = 1_700_000_100.0 + np.cumsum(rr) / 1000.0  # starts 100 s after a window boundary
    keep = (t < t[0] + 400) | (t > t[0] + 600)  # a 200-s hole in the recording
    stats = window_stats(t[keep], rr[keep])
    assert np.all(np.diff(stats.start_s) > 0) and np.all(stats.start_s % 300 == 0)
    first = (t < stats.start_s[0] + 300) & keep
    assert stats.rmssd_ms[0] == pytest.approx(np.sqrt(np.mean(np.diff(rr[first]) ** 2)))
    assert stats.mean_hr_bpm[0] == pytest.approx(60_000.0 / rr[first].mean())
    assert stats.n_beats.sum() == keep.sum()
    assert np.all(stats.hr_sd_bpm < 1.0) and np.all(stats.artifact_fraction == 0)
    full = stats.covered_s > 290.0
    np.testing.assert_allclose(stats.rmssd_ms[full], stats.rmssd_ms[full][0], rtol=0.02)
    with pytest.raises(InvalidSeries):
        window_stats(t, rr, window_s=45)
    with pytest.raises(InvalidSeries):
        window_stats(t[::-1], rr)
