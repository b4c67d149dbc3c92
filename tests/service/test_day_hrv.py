"""A day's stored rest HRV is a finite number or none: beats at a fixed rate (a pacer, a replayed or
synthetic file) have RMSSD 0, whose ln is -inf; stored, it reached the HRV band of the next 60 days."""

from __future__ import annotations

import datetime as dt

import numpy as np

from service.analysis.baseline import daily_rest_hrv
from service.analysis.profile import HeartProfile
from service.pipeline.days import _day_hrv

DAY = dt.date(2026, 5, 1)


def _night(rr_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start_s = (DAY - dt.date(1970, 1, 1)).days * 86_400 + 2 * 3600  # 02:00 UTC, at rest
    return start_s + np.cumsum(rr_ms) / 1000.0, rr_ms


def test_beats_at_a_fixed_rate_give_no_hrv_rather_than_minus_infinity() -> None:
    beat_t, rr = _night(np.full(7200, 1000.0))
    assert np.isneginf(daily_rest_hrv(beat_t, rr, utc_offset_s=0.0, resting_hr_bpm=58).ln_rmssd).all()
    hrv = _day_hrv(beat_t, rr, 0.0, DAY, HeartProfile(58, 185))
    assert hrv.ln_rmssd is None and hrv.rmssd_ms is None and hrv.n_beats == 7200


def test_a_varying_rhythm_keeps_its_hrv() -> None:
    rr = 1000.0 + 40.0 * np.sin(np.arange(7200) * 2 * np.pi / 5)  # breathing every 5 beats
    hrv = _day_hrv(*_night(rr), 0.0, DAY, HeartProfile(58, 185))
    assert hrv.ln_rmssd is not None and np.isfinite(hrv.ln_rmssd) and hrv.rmssd_ms > 20
