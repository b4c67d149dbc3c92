"""Rest-time HRV per day and the recovery status against the personal baseline, on constructed data."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis.baseline import daily_rest_hrv, recovery_status
from service.analysis.errors import InvalidSeries
from service.analysis.hrv import time_domain

DAY_S = 86_400
DAY0 = 20_000  # 2024-10-04, days since the epoch


def _beats(
    start_s: float, duration_s: float, hr_bpm: float, amp_ms: float, seed: int
) -> tuple[np.ndarray, ...]:
    """Beats at a steady rate with breathing (5-beat cycle) and a little noise."""
    n = int(duration_s * hr_bpm / 60.0)
    k = np.arange(n)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, n)
    rr = 60_000.0 / hr_bpm + amp_ms * np.sin(2 * np.pi * k / 5.0) + noise
    return start_s + np.cumsum(rr) / 1000.0, rr


def _day(day: int, night_amp_ms: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A night of quiet sleep at 55 bpm (00:00-06:00 UTC) and an afternoon sitting at 80 bpm."""
    t1, rr1 = _beats(day * DAY_S, 6 * 3600, 55.0, night_amp_ms, seed)
    t2, rr2 = _beats(day * DAY_S + 12 * 3600, 2 * 3600, 80.0, 10.0, seed + 1)
    return np.concatenate([t1, t2]), np.concatenate([rr1, rr2])


def test_daily_value_is_ln_rmssd_of_the_quiet_night() -> None:
    parts = [_day(DAY0 + i, amp, i) for i, amp in enumerate([30.0, 15.0])]
    t, rr = (np.concatenate(x) for x in zip(*parts, strict=True))
    daily = daily_rest_hrv(t, rr, utc_offset_s=0.0)
    assert daily.day.tolist() == [DAY0, DAY0 + 1]
    assert np.all(daily.n_windows >= 70)  # the 72 windows of the night, less partial ones
    for i, (t_day, rr_day) in enumerate(parts):
        night = rr_day[t_day < (DAY0 + i) * DAY_S + 6 * 3600]
        expected = np.log(time_domain(night, correct_artifacts=False).rmssd_ms)
        assert daily.ln_rmssd[i] == pytest.approx(expected, abs=0.05)
    assert daily.ln_rmssd[0] - daily.ln_rmssd[1] == pytest.approx(np.log(2.0), abs=0.1)


def test_days_follow_the_local_calendar() -> None:
    t, rr = _day(DAY0, 30.0, 7)
    # Ten hours ahead of UTC the night (00:00-06:00 UTC) is 10:00-16:00 local, still the same day;
    # eight hours behind, it is the evening of the day before, and the afternoon sitting (04:00-06:00
    # local) is the quietest time of its own day.
    ahead = daily_rest_hrv(t, rr, utc_offset_s=10 * 3600)
    assert ahead.day.tolist() == [DAY0]
    behind = daily_rest_hrv(t, rr, utc_offset_s=np.full(t.size, -8 * 3600.0))
    assert behind.day.tolist() == [DAY0 - 1, DAY0]
    assert behind.ln_rmssd[0] == pytest.approx(ahead.ln_rmssd[0])


def test_restless_or_artefact_ridden_windows_are_not_quiet() -> None:
    t, rr = _day(DAY0, 30.0, 3)
    restless = rr.copy()
    night = t < DAY0 * DAY_S + 6 * 3600
    # HR swinging by 20 bpm every minute: movement, not rest
    restless[night] = 60_000.0 / (55.0 + 10.0 * np.sign(np.sin(2 * np.pi * t[night] / 120.0)))
    sitting = daily_rest_hrv(t[~night], rr[~night], utc_offset_s=0.0)
    daily = daily_rest_hrv(t, restless, utc_offset_s=0.0)
    assert daily.n_windows.tolist() == sitting.n_windows.tolist() == [24]  # only the afternoon is quiet
    assert daily.ln_rmssd[0] == pytest.approx(sitting.ln_rmssd[0])
    # a night where one beat in ten is missed by the strap is not quiet either
    missed = np.flatnonzero(night)[::10]
    dropped = np.ones(t.size, dtype=bool)
    dropped[missed] = False
    merged = rr.copy()
    merged[missed + 1] += rr[missed]
    daily = daily_rest_hrv(t[dropped], merged[dropped], utc_offset_s=0.0)
    assert daily.n_windows.tolist() == [24]


def _history(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    day = np.arange(DAY0, DAY0 + len(values))
    return day, np.asarray(values, dtype=float)


BAND = [4.0 + 0.2 * ((i % 4) - 1.5) for i in range(53)]  # mean 4.0, SD 0.2236: band 3.888-4.112


@pytest.mark.parametrize(
    ("last_week", "expected"),
    [([4.0] * 7, "within"), ([3.5] * 7, "below"), ([4.6] * 7, "above"), ([3.9, 4.1] * 3 + [4.0], "within")],
)
def test_recovery_status_against_the_60_day_band(last_week: list[float], expected: str) -> None:
    day, ln = _history(BAND + last_week)
    status = recovery_status(day, ln, on_day=int(day[-1]))
    assert status.status == expected
    assert status.n_acute_days == 7 and status.n_band_days == 60
    assert status.acute_ln_rmssd == pytest.approx(np.mean(last_week))
    assert status.band_low == pytest.approx(ln.mean() - 0.5 * ln.std(ddof=1))
    assert status.band_high == pytest.approx(ln.mean() + 0.5 * ln.std(ddof=1))


def test_recovery_status_needs_history_and_ignores_missing_days() -> None:
    day, ln = _history(BAND[:10] + [4.0] * 2)
    assert recovery_status(day, ln, on_day=int(day[-1])).status is None  # 12 days of history
    day, ln = _history(BAND + [3.5] * 7)
    ln[-3:] = np.nan  # three recent days without a value: four remain
    status = recovery_status(day, ln, on_day=int(day[-1]))
    assert (status.status, status.n_acute_days) == ("below", 4)
    # judging an earlier day only looks at history up to it
    assert recovery_status(day, ln, on_day=int(day[-8])).status == "within"
    with pytest.raises(InvalidSeries):
        recovery_status(day, ln[:-1], on_day=int(day[-1]))
