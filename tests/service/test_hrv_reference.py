"""The HRV the service reports on the real RR files of ../shared/data, against NeuroKit2's Kubios method.

Each file is imported through a real HTTP server (uvicorn, production settings: analysis debounced in the
background) by a user in UTC with resting HR 55, its first beat at 06:30:00 UTC, and read back once the
service says its analysis is done:

- the day's HRV at rest, ``GET /days/{date}`` ``hrv.rmssd_ms`` (what the Recovery page shows): the median
  ln RMSSD of the day's quiet 5-minute windows (service/analysis/baseline.py), corrected for artefacts, and
  the day's resting HR, which those windows give when the day was worn for less than an hour;
- the corrected RMSSD of every 5-minute window, ``GET /interviews/{id}/stress`` ``windows[].rmssd_ms``, for an
  interview logged during the recording (no earlier days, so no baseline: the plain series is shown).

How the reference is computed (``_neurokit_windows``): the file's beats as R-peak sample indices at 1 kHz
(the cumulative sum of its whole-ms RR intervals), ``nk.signal_fixpeaks(peaks, sampling_rate=1000,
method="Kubios")`` (its default iterative mode, as bench/analysis.py ``bench_hrv``) over the whole file, as
the service corrects the whole span it reads; then, for each of the service's windows (UTC multiples of
300 s; an interval belongs to the window its closing beat falls in), ``nk.hrv_time`` on the corrected peaks
closing in the window plus the peak before them, so both sides take the same intervals. The peaks start at
the end of the file's first interval: NeuroKit2 replaces the first interval by the mean of the others when it
detects (``rr[0] = np.mean(rr[1:])``) and never corrects the first two (``_correct_missed`` and
``_correct_misaligned`` skip indices <= 1), so the cycling file's first interval, 1589 ms, a missed beat
between two of 783-794 ms, would stay in its reference and make the window's RMSSD 50.7 ms (raw: 50.7 ms)
where the service, which splits it, gives 28.9 ms; NeuroKit2 given the intervals after it gives 29.2 ms.

Measured (NeuroKit2 0.3.0): supine rest, day at rest 52.95 ms against 52.84 ms over the same three quiet
windows (+0.2 %); per window -5.6, -2.1, +0.2, 0.0 % (see below); submaximal cycling, every window within
2.4 % (rest 28.90 / 29.20 ms, exercise 7.4-16.9 ms, recovery 19.86 / 19.89 ms and 20.98 / 20.98 ms).

The supine file's first window is the one place the two differ by more than 5 % (56.72 against 60.06 ms),
and there the difference is NeuroKit2's pairing, not a fault of the service: both flag the same beats, but
at 966, 1120 ms and 938, 1165 ms (a premature beat and its compensatory pause, twice, between beats of
996-1081 ms) NeuroKit2 moves the R wave after the long interval, averaging the pause with the next normal
beat and keeping the premature 966 and 938 ms; the service averages each premature beat with its own pause
(Lipponen & Tarvainen 2019). So the window is checked for that direction, not against the 5 %.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, sign_up

nk = pytest.importorskip("neurokit2")

START = dt.datetime(2026, 3, 1, 6, 30, tzinfo=dt.UTC)  # a multiple of the 300-s windows
WINDOW_S = 300
TOLERANCE = 0.05
MIN_COVERED_FRACTION = 0.8  # the windows the service reads rest HRV from are this well covered (baseline.py)


def _rr_ms(path: Path) -> np.ndarray:
    """The file's RR intervals in ms: one a line, or a Polar HRM file's [HRData] section."""
    text = path.read_text()
    if path.suffix == ".hrm":
        text = text.split("[HRData]", 1)[1]
    return np.array(text.split(), dtype=float)


def _import(http: httpx.Client, rr: np.ndarray) -> TestUser:
    user = sign_up(http, timezone="UTC", resting_hr=55, max_hr=185)
    body = ("\n".join(str(int(x)) for x in rr) + "\n").encode()
    answer = http.post(
        "/api/v1/imports", files={"file": ("rr.txt", body)}, data={"start": START.isoformat()},
        headers=user.headers,
    )  # fmt: skip
    assert answer.status_code == 200 and answer.json()["accepted"] == rr.size, answer.text
    wait_for_analysis(http)
    return user


def _service_windows(http: httpx.Client, user: TestUser) -> dict[float, float]:
    """The service's corrected RMSSD per window (offset of its start from the first beat, s)."""
    at = START + dt.timedelta(minutes=10)
    interview = http.post(
        "/api/v1/interviews", json={"company": "Initech", "role": "Analyst", "at": at.isoformat()},
        headers=user.headers,
    ).json()  # fmt: skip
    stress = http.get(f"/api/v1/interviews/{interview['id']}/stress", headers=user.headers).json()
    assert stress["has_data"] and stress["baseline"] is None, stress["statement"]
    return {
        dt.datetime.fromisoformat(w["start"]).timestamp() - START.timestamp(): w["rmssd_ms"]
        for w in stress["windows"]
        if w["rmssd_ms"] is not None
    }


def _neurokit_windows(rr: np.ndarray) -> dict[float, tuple[float, float]]:
    """NeuroKit2's Kubios-corrected RMSSD per service window, with the seconds its intervals cover."""
    peaks = np.cumsum(rr).astype(np.int64)  # R waves at 1 kHz from the end of the first interval (docstring)
    _, fixed = nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios")
    fixed = np.asarray(fixed, dtype=np.int64)
    out = {}
    for lo in np.arange(0, fixed[-1] / 1000, WINDOW_S):
        inside = np.flatnonzero((fixed >= lo * 1000) & (fixed < (lo + WINDOW_S) * 1000))
        span = fixed[max(inside[0] - 1, 0) : inside[-1] + 1]
        if span.size >= 3:
            rmssd = float(nk.hrv_time(span, sampling_rate=1000)["HRV_RMSSD"].iloc[0])
            out[float(lo)] = (rmssd, (span[-1] - span[0]) / 1000)
    return out


def _pct(ours: float, reference: float) -> float:
    return 100 * (ours - reference) / reference


def test_supine_rest_hrv_at_rest_is_neurokit2s_over_the_same_quiet_windows(
    http: httpx.Client, shared_data: Path
) -> None:
    rr = _rr_ms(shared_data / "hrv_supine_rest_rri.txt")
    user = _import(http, rr)
    day = http.get(f"/api/v1/days/{START.date()}", headers=user.headers).json()
    reference = _neurokit_windows(rr)
    # The span the day's value is read from: the windows at least 80 % covered (the three full ones; the
    # fourth holds 64 s), all steady (30-s HR SD <= 2 bpm) and within 10 bpm of rest (56-57 bpm).
    quiet = [v for v, covered in reference.values() if covered >= MIN_COVERED_FRACTION * WINDOW_S]
    assert len(quiet) == 3
    expected = math.exp(float(np.median(np.log(quiet))))
    served = day["hrv"]["rmssd_ms"]
    assert served == pytest.approx(expected, rel=TOLERANCE), _pct(served, expected)
    # 16 minutes are under the hour of wear the minute quantile needs, but a quiet reading: the day's resting
    # HR is the median rate of those windows, by hand 60000 / the mean RR closing in each (56.8, 56.4, 56.4).
    closes_s = np.cumsum(rr) / 1000
    rates = [60_000 / rr[(closes_s >= lo) & (closes_s < lo + WINDOW_S)].mean() for lo in (0, 300, 600)]
    assert day["resting_hr"] == pytest.approx(float(np.median(rates)), abs=0.2)
    windows = _service_windows(http, user)
    assert sorted(windows) == sorted(reference)
    for lo, ours in windows.items():
        nk_rmssd = reference[lo][0]
        if lo == 0:  # NeuroKit2 keeps two premature beats there (docstring): the service is lower
            assert 0.9 * nk_rmssd <= ours < nk_rmssd
        else:
            assert ours == pytest.approx(nk_rmssd, rel=TOLERANCE), (lo, _pct(ours, nk_rmssd))


def test_submax_cycling_rmssd_of_every_window_is_neurokit2s(http: httpx.Client, shared_data: Path) -> None:
    rr = _rr_ms(shared_data / "hrv_submax_cycling_rri.hrm")
    user = _import(http, rr)
    windows = _service_windows(http, user)
    reference = _neurokit_windows(rr)
    assert sorted(windows) == sorted(reference) and len(windows) == 9  # 42.7 min: rest, cycling, recovery
    for lo, ours in windows.items():
        assert ours == pytest.approx(reference[lo][0], rel=TOLERANCE), (lo, _pct(ours, reference[lo][0]))
    # No HRV at rest for the day: its one rest window (5 min at 76 bpm) is neither three windows nor within
    # 10 bpm of the resting HR of 55, and the rest are cycling or a recovery still falling.
    day = http.get(f"/api/v1/days/{START.date()}", headers=user.headers).json()
    assert day["hrv"] is None


@pytest.mark.parametrize(
    ("name", "raw_ms"), [("hrv_supine_rest_rri.txt", 55.14), ("hrv_submax_cycling_rri.hrm", 36.46)]
)
def test_corrected_rmssd_of_each_whole_file_is_within_5_percent_of_neurokit2(
    shared_data: Path, name: str, raw_ms: float
) -> None:
    # The whole file at once, with the correction the service runs on each span it reads
    # (service.analysis.hrv.time_domain), against NeuroKit2's Kubios correction and hrv_time on the same
    # beats (peaks from the end of the first interval, as ``_neurokit_windows``). Measured (NeuroKit2
    # 0.3.0): supine 51.37 against 52.76 ms (-2.6 %), cycling 15.35 against 15.44 ms (-0.6 %). The raw
    # series give 55.14 ms (+4.5 %: the supine file's few premature beats barely move it) and 36.46 ms
    # (+136 %: the cycling file's missed and ectopic beats), so uncorrected intervals fail the cycling file.
    from service.analysis.hrv import time_domain

    rr = _rr_ms(shared_data / name)
    _, fixed = nk.signal_fixpeaks(np.cumsum(rr).astype(np.int64), sampling_rate=1000, method="Kubios")
    reference = float(nk.hrv_time(np.asarray(fixed, dtype=np.int64), sampling_rate=1000)["HRV_RMSSD"].iloc[0])
    ours = time_domain(rr).rmssd_ms
    assert ours == pytest.approx(reference, rel=TOLERANCE), _pct(ours, reference)
    assert time_domain(rr, correct_artifacts=False).rmssd_ms == pytest.approx(raw_ms, abs=0.01)
