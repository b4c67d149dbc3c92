"""Sample cleaning: lost contact, zeros, physiological limits, impossible jumps, frozen values."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis.cleaning import Reason, clean_hr
from service.analysis.errors import AnalysisError, InvalidSeries

T0 = 1_700_000_000.0


def _steady(n: int = 600, level: float = 120.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    t = T0 + np.arange(n, dtype=float)
    return t, np.rint(level + np.random.default_rng(seed).normal(0, 1.5, n))


def test_clean_data_stays_valid() -> None:
    t, bpm = _steady()
    result = clean_hr(t, bpm)
    assert result.valid.all()
    assert not result.reasons.any()


def test_zero_nan_and_out_of_range_are_invalid_with_their_reason() -> None:
    t, bpm = _steady()
    bpm[10], bpm[20], bpm[30], bpm[40] = 0, np.nan, 15, 260
    result = clean_hr(t, bpm)
    assert np.flatnonzero(~result.valid).tolist() == [10, 20, 30, 40]
    assert result.reasons[10] == Reason.ZERO
    assert result.reasons[[20, 30, 40]].tolist() == [Reason.OUT_OF_RANGE] * 3
    assert (result.count(Reason.ZERO), result.count(Reason.OUT_OF_RANGE)) == (1, 3)


def test_lost_contact_is_invalid() -> None:
    t, bpm = _steady()
    contact = np.ones(t.size, bool)
    contact[100:130] = False
    result = clean_hr(t, bpm, contact=contact)
    assert np.flatnonzero(~result.valid).tolist() == list(range(100, 130))
    assert result.count(Reason.NO_CONTACT) == 30


def test_a_single_spike_flags_only_the_spike() -> None:
    t, bpm = _steady()
    bpm[200] += 70
    result = clean_hr(t, bpm)
    assert np.flatnonzero(~result.valid).tolist() == [200]
    assert result.reasons[200] == Reason.JUMP


def test_a_short_excursion_is_flagged_whole() -> None:
    t, bpm = _steady(level=80.0)
    bpm[300:320] *= 2  # locked onto double the rate for 20 s
    result = clean_hr(t, bpm)
    assert np.flatnonzero(~result.valid).tolist() == list(range(300, 320))


def test_a_lone_jump_flags_both_sides() -> None:
    t, bpm = _steady()
    bpm[400:] += 60  # a step that never returns
    result = clean_hr(t, bpm)
    assert np.flatnonzero(~result.valid).tolist() == [399, 400]


def test_fast_but_real_changes_are_kept() -> None:
    t = T0 + np.arange(120, dtype=float)
    bpm = np.clip(90 + 3.0 * np.arange(120), 90, 180)  # 3 bpm/s, a sprint start
    assert clean_hr(t, bpm).valid.all()


def test_a_jump_across_a_gap_is_not_an_artefact() -> None:
    t = T0 + np.array([0.0, 1.0, 2.0, 60.0, 61.0, 62.0])
    bpm = np.array([80.0, 81.0, 80.0, 150.0, 151.0, 150.0])
    assert clean_hr(t, bpm).valid.all()


def test_frozen_values_for_minutes_are_invalid() -> None:
    t, bpm = _steady(n=900)
    bpm[300:480] = 117.0  # identical for 3 minutes at 1 Hz
    result = clean_hr(t, bpm)
    frozen = np.flatnonzero(result.reasons & Reason.FROZEN)
    assert frozen.min() <= 300 and frozen.max() >= 479
    assert frozen.size < 190  # only the run (and equal neighbours) is flagged
    assert result.valid[:290].all() and result.valid[490:].all()


def test_short_identical_runs_and_sparse_samples_are_not_frozen() -> None:
    t, bpm = _steady()
    bpm[100:125] = 118.0  # 25 s identical: a calm heart at integer resolution
    assert clean_hr(t, bpm).valid.all()
    sparse_t = T0 + np.arange(0, 600, 25.0)  # "smart recording": 24 samples over 10 min
    assert clean_hr(sparse_t, np.full(sparse_t.size, 140.0)).valid.all()


def test_chunked_cleaning_equals_one_piece() -> None:
    t, bpm = _steady(n=5000, level=80.0, seed=4)
    bpm[[999, 1000, 2001]] = 0.0  # zeros on and next to chunk edges
    bpm[1500] += 70  # a spike
    bpm[4500] = 300.0  # out of range
    bpm[2990:3010] *= 2  # an excursion across an edge
    bpm[3900:4100] = 81.0  # a frozen run across an edge
    contact = np.ones(t.size, bool)
    contact[100:120] = False
    whole = clean_hr(t, bpm, contact=contact, chunk_samples=10**9)
    for chunk in (1000, 997, 14):
        pieces = clean_hr(t, bpm, contact=contact, chunk_samples=chunk)
        np.testing.assert_array_equal(pieces.reasons, whole.reasons)
    assert all(whole.count(r) for r in Reason)


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidSeries):
        clean_hr([0.0, 2.0, 1.0], [80, 80, 80])
    with pytest.raises(InvalidSeries):
        clean_hr([0.0, 1.0], [80])
    with pytest.raises(InvalidSeries):
        clean_hr([0.0, np.nan, 2.0], [80, 80, 80])
    with pytest.raises(AnalysisError):
        clean_hr([0.0, 1.0], [80, 80], contact=[True])


def test_empty_and_single_sample() -> None:
    assert clean_hr([], []).valid.size == 0
    assert clean_hr([T0], [0.0]).reasons.tolist() == [Reason.ZERO]
