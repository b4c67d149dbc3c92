"""Exercise vs confidence: Spearman's rho against scipy, bootstrap interval, minimum days, sentences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from service.analysis.errors import InvalidSeries
from service.analysis.insights import MIN_PAIRED_DAYS, exercise_vs_rating


def _related(n: int = 30, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    minutes = rng.integers(0, 120, n).astype(float)
    return minutes, np.clip(np.round(4 + minutes / 30 + rng.normal(0, 1, n)), 1, 10)


def test_rho_and_p_match_scipy_and_the_sentence_reads_well() -> None:
    minutes, rating = _related()
    result = exercise_vs_rating(minutes, rating, rng=np.random.default_rng(0))
    expected = stats.spearmanr(minutes, rating)
    assert result.rho == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.n_days == 30
    assert result.ci95 is not None and result.ci95[0] < result.rho < result.ci95[1] and result.ci95[0] > 0
    met = minutes >= 60
    assert result.mean_when_target_met == pytest.approx(rating[met].mean())
    assert result.mean_when_target_missed == pytest.approx(rating[~met].mean())
    assert result.statement.startswith("On days you got your hour in, your confidence averaged ")
    assert f"rho {result.rho:.2f}, 95 % CI" in result.statement and "30 days" in result.statement
    again = exercise_vs_rating(minutes, rating, rng=np.random.default_rng(0))
    assert again.ci95 == result.ci95  # seeded: the same interval


def test_next_day_lag_pairs_minutes_with_tomorrows_rating() -> None:
    minutes, rating = _related(n=31)
    tomorrow = np.roll(rating, 1)  # the rating now follows the minutes by a day
    result = exercise_vs_rating(minutes, tomorrow, rng=np.random.default_rng(1), lag_days=1, metric="mood")
    assert result.n_days == 30
    assert result.rho == pytest.approx(stats.spearmanr(minutes[:-1], tomorrow[1:]).statistic)
    assert result.statement.startswith("On days after you got your hour in, your mood averaged")


def test_unrelated_data_give_an_interval_that_includes_zero() -> None:
    rng = np.random.default_rng(11)
    minutes, rating = rng.integers(0, 120, 40).astype(float), rng.integers(1, 11, 40).astype(float)
    result = exercise_vs_rating(minutes, rating, rng=np.random.default_rng(2))
    assert result.ci95 is not None and result.ci95[0] < 0 < result.ci95[1]
    assert "could be chance" in result.statement


def test_missing_days_are_left_out_of_the_pairs() -> None:
    minutes, rating = _related()
    rating[::3] = np.nan
    minutes[1] = np.nan
    result = exercise_vs_rating(minutes, rating, rng=np.random.default_rng(0))
    assert result.n_days == 19


def test_below_the_minimum_no_claim_is_made() -> None:
    minutes, rating = _related(n=MIN_PAIRED_DAYS - 1)
    result = exercise_vs_rating(minutes, rating, rng=np.random.default_rng(0))
    assert (result.rho, result.ci95, result.p_value) == (None, None, None)
    assert result.n_days == 13
    assert "1 more is needed" in result.statement
    few = exercise_vs_rating(minutes[:5], rating[:5], rng=np.random.default_rng(0))
    assert "9 more are needed" in few.statement


def test_constant_ratings_do_not_blow_up() -> None:
    minutes, _ = _related()
    result = exercise_vs_rating(minutes, np.full(30, 7.0), rng=np.random.default_rng(0))
    assert result.rho is None
    assert "have been the same" in result.statement
    assert result.mean_when_target_met == 7.0


def test_a_single_active_day_gives_no_biased_interval() -> None:
    minutes = np.zeros(20)
    minutes[4] = 75.0
    rating = np.random.default_rng(5).integers(3, 9, 20).astype(float)
    result = exercise_vs_rating(minutes, rating, rng=np.random.default_rng(0))
    assert result.rho is not None and result.ci95 is None
    assert "too few differing days" in result.statement


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidSeries):
        exercise_vs_rating([1.0, 2.0], [1.0], rng=np.random.default_rng(0))
    with pytest.raises(InvalidSeries):
        exercise_vs_rating([1.0], [1.0], rng=np.random.default_rng(0), lag_days=2)
