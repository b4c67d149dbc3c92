"""Heart profile: Tanaka HRmax, Karvonen zones, resting-HR estimate from minute means."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis.errors import AnalysisError, InvalidProfile, InvalidSeries
from service.analysis.profile import (
    HeartProfile,
    build_profile,
    estimate_max_hr,
    estimate_resting_hr,
    tanaka_max_hr,
)

DAY_S = 86_400.0


def test_karvonen_threshold_and_zone_edges() -> None:
    profile = HeartProfile(resting_hr=60.0, max_hr=190.0)
    assert profile.reserve_bpm == 130.0
    assert (profile.threshold_bpm, profile.vigorous_bpm, profile.peak_bpm) == (112.0, 138.0, 170.5)
    np.testing.assert_allclose(profile.intensity([60.0, 112.0, 190.0, 200.0]), [0.0, 0.4, 1.0, 140 / 130])


def test_inconsistent_profiles_are_refused() -> None:
    for rest, top in [(80, 70), (10, 180), (60, 300), (float("nan"), 180)]:
        with pytest.raises(InvalidProfile) as info:
            HeartProfile(resting_hr=rest, max_hr=top)
        assert isinstance(info.value, AnalysisError) and isinstance(info.value, ValueError)


def test_tanaka() -> None:
    assert tanaka_max_hr(40) == pytest.approx(180.0)
    with pytest.raises(InvalidSeries):
        tanaka_max_hr(3)


def test_max_hr_is_the_users_else_tanaka_raised_to_the_highest_clean_value() -> None:
    assert estimate_max_hr(user_max_hr=175, age_years=40, observed_max_bpm=199) == 175
    assert estimate_max_hr(age_years=40, observed_max_bpm=170) == pytest.approx(180.0)
    assert estimate_max_hr(age_years=40, observed_max_bpm=186) == 186
    assert estimate_max_hr(observed_max_bpm=176) == 176
    assert estimate_max_hr() is None


def _minutes_of_days(levels_by_day: list[float | None], minutes_per_day: int = 600) -> tuple[np.ndarray, ...]:
    """Minute rows: each day a known resting level for 10 % of its minutes, higher the rest of the time."""
    starts, means, valid = [], [], []
    for day, level in enumerate(levels_by_day):
        if level is None:
            continue
        rows = np.arange(minutes_per_day)
        starts.append(day * DAY_S + rows * 60.0)
        means.append(np.where(rows % 10 == 0, level, level + 30.0))
        valid.append(np.full(minutes_per_day, 60.0))
    return np.concatenate(starts), np.concatenate(means), np.concatenate(valid)


def test_resting_hr_is_the_median_of_daily_low_quantiles_over_the_last_14_days() -> None:
    levels: list[float | None] = [80.0] * 6 + [50.0 + d for d in range(14)]  # 20 days, last 14: 50..63
    starts, means, valid = _minutes_of_days(levels)
    estimate = estimate_resting_hr(starts, means, valid, DAY_S * np.arange(21))
    assert estimate.n_days_used == 14
    assert estimate.resting_hr == pytest.approx(np.median(50.0 + np.arange(14)))
    assert estimate.daily_bpm[0] == pytest.approx(80.0)


def test_resting_hr_ignores_thin_days_and_poorly_covered_minutes() -> None:
    starts, means, valid = _minutes_of_days([55.0, 70.0, 56.0])
    thin = (starts >= DAY_S) & (starts < 2 * DAY_S)
    valid[thin] = 20.0  # day 2 has no well-covered minutes
    estimate = estimate_resting_hr(starts, means, valid, DAY_S * np.arange(4))
    assert np.isnan(estimate.daily_bpm[1])
    assert estimate.resting_hr == pytest.approx(55.5)
    nothing = estimate_resting_hr(starts[:10], means[:10], valid[:10], DAY_S * np.arange(4))
    assert nothing.resting_hr is None and nothing.n_days_used == 0


def test_build_profile_precedence() -> None:
    assert build_profile(user_resting_hr=52, user_max_hr=181) == HeartProfile(52.0, 181.0)
    assert build_profile(estimated_resting_hr=58.5, age_years=30) == HeartProfile(58.5, 187.0)
    assert build_profile() == HeartProfile(60.0, 190.0)
    with pytest.raises(InvalidProfile):
        build_profile(user_resting_hr=100, user_max_hr=90)
