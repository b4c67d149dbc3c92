"""Heart-rate recovery: end of effort, HRR60/HRR120 (Cole 1999) and the exponential time constant."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis.recovery import find_end_of_effort, fit_recovery, heart_rate_recovery

T0 = 1_700_000_000.0


def _effort_then_recovery(
    *, plateau_s: int = 300, peak: float = 165.0, rest: float = 90.0, tau_s: float = 45.0, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """A plateau at ``peak`` then an exact exponential fall to ``rest``; returns t, bpm, end of effort."""
    t = T0 + np.arange(plateau_s + 600, dtype=float)
    since = np.maximum(t - (T0 + plateau_s), 0.0)
    bpm = rest + (peak - rest) * np.exp(-since / tau_s)
    bpm += np.random.default_rng(5).normal(0, noise, t.size)
    return t, bpm, T0 + plateau_s


def test_hrr_and_tau_of_a_known_exponential() -> None:
    t, bpm, end = _effort_then_recovery(noise=0.0)
    rec = heart_rate_recovery(t, bpm, end_of_effort_s=end)
    drop60 = (165 - 90) * (1 - np.exp(-60 / 45))
    drop120 = (165 - 90) * (1 - np.exp(-120 / 45))
    # HR "at" a moment is a +-5 s mean, so allow the curvature of the exponential over 10 s.
    assert rec.hrr60_bpm == pytest.approx(drop60, abs=1.0)
    assert rec.hrr120_bpm == pytest.approx(drop120, abs=1.0)
    assert rec.tau_s == pytest.approx(45.0, rel=1e-3)
    assert rec.fit is not None and rec.fit.r2 > 0.999
    curve = rec.fit.curve(end + np.array([0.0, 45.0, 1e4]))
    np.testing.assert_allclose(curve, [165.0, 90 + 75 / np.e, 90.0], atol=0.05)


def test_end_of_effort_is_where_the_fall_begins_not_the_threshold_crossing() -> None:
    t, bpm, end = _effort_then_recovery()
    crossing = float(t[np.flatnonzero(bpm < 115)[0]])  # where a 115-bpm threshold is crossed
    found = find_end_of_effort(t, bpm, effort_end_s=crossing)
    assert found == pytest.approx(end, abs=6)


def test_a_slow_fade_before_the_fall_ends_where_the_steep_fall_starts() -> None:
    t = T0 + np.arange(900, dtype=float)
    bpm = np.interp(t - T0, [0, 300, 420, 900], [165, 165, 158, 158])  # fade by 7 bpm over 2 min
    since = np.maximum(t - (T0 + 420), 0.0)
    bpm = np.where(t < T0 + 420, bpm, 90 + 68 * np.exp(-since / 40))
    found = find_end_of_effort(t, bpm, effort_end_s=T0 + 520)
    assert found == pytest.approx(T0 + 420, abs=8)


def test_an_earlier_harder_interval_is_not_the_end_of_effort() -> None:
    t = T0 + np.arange(1200, dtype=float)
    bpm = np.interp(t - T0, [0, 200, 230, 400, 430, 600, 630, 1200], [100, 175, 175, 120, 120, 160, 160, 160])
    since = np.maximum(t - (T0 + 630), 0.0)
    bpm = np.where(t < T0 + 630, bpm, 90 + 70 * np.exp(-since / 40))
    assert find_end_of_effort(t, bpm, effort_end_s=T0 + 700) == pytest.approx(T0 + 630, abs=8)


def test_no_recovery_when_the_recording_stops_during_effort() -> None:
    t = T0 + np.arange(600, dtype=float)
    bpm = 160 + np.random.default_rng(1).normal(0, 1.5, t.size)
    assert find_end_of_effort(t, bpm, effort_end_s=t[-1]) is None
    empty = heart_rate_recovery(t, bpm, end_of_effort_s=None)
    assert (empty.hrr60_bpm, empty.hrr120_bpm, empty.fit, empty.tau_s) == (None, None, None, None)


def test_hrr_is_none_when_data_after_the_effort_are_missing() -> None:
    t, bpm, end = _effort_then_recovery()
    gap = (t > end + 20) & (t < end + 100)  # 80 s hole over the 60-s point
    rec = heart_rate_recovery(t[~gap], bpm[~gap], end_of_effort_s=end)
    assert rec.hrr60_bpm is None
    assert rec.hrr120_bpm is None  # coverage up to 120 s is 67 %, below 80 %
    assert rec.fit is None


def test_invalid_samples_do_not_count_as_recovery_data() -> None:
    t, bpm, end = _effort_then_recovery()
    valid = ~((t >= end + 54) & (t <= end + 66))  # nothing valid within 5 s of the 60-s point
    rec = heart_rate_recovery(t, bpm, end_of_effort_s=end, valid=valid)
    assert rec.hrr60_bpm is None
    assert rec.hrr120_bpm is not None  # 13 s missing of 120 s leaves 89 % coverage
    assert rec.tau_s == pytest.approx(45.0, rel=0.05)


def test_a_poor_fit_gives_no_time_constant() -> None:
    t = T0 + np.arange(400, dtype=float)
    bpm = 120 + np.random.default_rng(2).normal(0, 6, t.size)  # no recovery, only noise
    assert fit_recovery(t, bpm, t0=T0 + 10) is None
    assert heart_rate_recovery(t, bpm, end_of_effort_s=T0 + 10).fit is None


def test_too_few_points_give_no_fit() -> None:
    t = T0 + np.array([0.0, 30.0, 60.0, 90.0])
    assert fit_recovery(t, np.array([160.0, 140.0, 125.0, 115.0]), t0=T0) is None
