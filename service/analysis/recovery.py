"""Heart-rate recovery after effort: end of effort, HRR60/HRR120, an exponential fit, and why not.

DESIGN.md "Heart-rate recovery", as measured here:

- End of effort: ``service.analysis.effort`` (where the final sustained fall begins, near the session's
  peak at the stop).
- HRR60 / HRR120: HR at the end of effort (10-s means of the session's own samples there, so never above
  the session's highest) minus smoothed HR 60 / 120 s later (Cole CR et al.,
  N Engl J Med 1999;341:1351-7 measure from peak exercise). HRR120 below HRR60 means HR rose again: then
  neither is reported.
- The time constant of a mono-exponential fit of the first 3 minutes, only with its R^2 and only when the
  fit is good (``MIN_R2``) and the constant plausible (``TAU_RANGE_S``).
- A ``note`` says why a value is missing, or how to read a low one, for the page to show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import as_bpm, as_mask, as_times
from service.analysis.effort import (
    MIN_FALL_BPM,
    RISE_BPM,
    SMOOTH_S,
    _knee_of_final_fall,
    _valid_slice,
    find_end_of_effort,
    smooth,
)
from service.analysis.minutes import MAX_COVER_S

# find_end_of_effort and smooth live in service.analysis.effort; they are named here too, where recovery
# callers have always found them.
__all__ = [
    "MIN_FALL_BPM", "RISE_BPM", "Recovery", "RecoveryFit", "find_end_of_effort", "fit_recovery",
    "heart_rate_recovery", "session_recovery", "smooth",
]  # fmt: skip

F64 = NDArray[np.float64]

POINT_HALF_WIDTH_S = 5.0  # HR "at" a time is the mean of valid samples within +-5 s
MIN_COVERAGE = 0.8  # valid coverage needed over the recovery window before anything is reported
FIT_S = 180.0  # the exponential is fitted on the first 3 minutes after the end of effort
MIN_FIT_POINTS = 10
# R^2 is the share of the HR variance over the 3 minutes that the exponential explains. Real recoveries
# fit at 0.93-0.98 on the recordings of shared data, a noisy one with beat-to-beat scatter of 3 bpm on a
# 40-bpm fall near 0.9; a cool-down plateau, a step artefact or renewed effort leave a curve the
# exponential misses by more than a fifth of its variance. Below 0.8 the constant describes the model,
# not the person, so it is not shown.
MIN_R2 = 0.8
# Post-exercise time constants run from about half a minute (trained, after hard effort) to a few minutes
# (Imai K et al., J Am Coll Cardiol 1994;24:1529-35; Pierpont GL et al., Am J Cardiol 2000;85:1022-4).
# A fit faster than 10 s follows a step (an artefact), one slower than 300 s is not identifiable from a
# 3-minute window (the curve is nearly straight there): the demo's "4 s" and "2181 s" were both such.
TAU_RANGE_S = (10.0, 300.0)
TAU_GRID_S = np.geomspace(*TAU_RANGE_S, 97)  # 3.6 % steps: the parabola through the best three is exact
COARSE_STEP = 4  # the first look at the grid (15 % steps), refined point by point around its best
COOL_DOWN_HRR60_BPM = 12.0  # Cole 1999: a first-minute drop of 12 bpm or less is "abnormal"
LEVEL_NOISE_BPM = 2.0  # two 10-s means of a steady HR differ by up to this (beat-to-beat scatter)
MAX_HOLE_S = 120.0  # a longer hole ends a session, and the data beyond it are not its recovery

NOTE_PENDING = "recovery pending: the session is still going"
NOTE_NO_DATA = "not enough data after the stop"
NOTE_GAP = "a gap in the data a minute after the stop"
NOTE_SHORT = "not enough data after the stop for the two-minute drop"
NOTE_NO_EFFORT = "no effort above the heartbeat-up level to recover from"
NOTE_NO_FALL = "the heart rate did not fall clearly after the effort"
NOTE_ROSE = "the heart rate rose again within two minutes of the stop"
NOTE_COOL_DOWN = (
    "cool-down walk: the first-minute drop reads low (the heart rate stayed at an exercising level)"
)
NOTE_NO_FIT = "no time constant: the fall is not close enough to an exponential"


@dataclass(frozen=True)
class RecoveryFit:
    """HR(t) = hr_end + (hr0 - hr_end) * exp(-(t - t0) / tau), fitted from t0 over ``duration_s``."""

    t0_s: float
    hr0_bpm: float
    hr_end_bpm: float
    tau_s: float
    r2: float
    rmse_bpm: float
    duration_s: float

    def curve(self, t_s: ArrayLike) -> F64:
        """The fitted heart rate at absolute times ``t_s`` (for drawing)."""
        dt = np.asarray(t_s, dtype=np.float64) - self.t0_s
        return _exp_model(dt, self.hr0_bpm, self.hr_end_bpm, self.tau_s)


@dataclass(frozen=True)
class Recovery:
    """What the data after an effort allow: each value None when they do not, and ``note`` says why."""

    end_of_effort_s: float | None
    peak_bpm: float | None  # HR at the end of effort (the start of the drops)
    hrr60_bpm: float | None
    hrr120_bpm: float | None
    fit: RecoveryFit | None
    note: str | None = None

    @property
    def tau_s(self) -> float | None:
        """Recovery time constant (s) of an acceptable fit."""
        return self.fit.tau_s if self.fit else None


NO_RECOVERY = Recovery(None, None, None, None, None)


def _exp_model(dt: F64, hr0: float, hr_end: float, tau: float) -> F64:
    # Mono-exponential HR recovery (Imai et al., J Am Coll Cardiol 1994;24:1529-35; Pierpont et al. 2000).
    return hr_end + (hr0 - hr_end) * np.exp(-dt / tau)


def _coverage(t: F64, lo_s: float, hi_s: float) -> float:
    """Fraction of [lo_s, hi_s] covered by valid samples there, as the minutes count it: the time between
    neighbours at most MAX_COVER_S apart (from ``lo_s`` to the first and from the last to ``hi_s`` too)."""
    if t.size == 0:
        return 0.0
    spacing = np.diff(np.concatenate(([lo_s], t, [hi_s])))
    return float(spacing[spacing <= MAX_COVER_S].sum() / (hi_s - lo_s))


def _hr_at(tv: F64, bv: F64, at_s: float) -> float | None:
    """Smoothed HR at a moment: the mean of valid samples within +-5 s; between two samples of a sparse
    recording (no sample that close, neighbours at most MAX_COVER_S apart) the straight line joining them."""
    lo = np.searchsorted(tv, at_s - POINT_HALF_WIDTH_S)
    hi = np.searchsorted(tv, at_s + POINT_HALF_WIDTH_S, side="right")
    if hi > lo:
        return float(bv[lo:hi].mean())
    if 0 < lo < tv.size and tv[lo] - tv[lo - 1] <= MAX_COVER_S:
        return float(np.interp(at_s, tv[lo - 1 : lo + 1], bv[lo - 1 : lo + 1]))
    return None


def _effort_level(tv: F64, bv: F64, t0: float, start_s: float, end_s: float) -> float | None:
    """HR at the end of effort: the higher of the 10-s means up to it and around it, from samples of the
    session only (so never above its highest). The mean up to it is the effort itself where a plateau
    ends in a knee; the centred one is the smoothed peak where HR climbs to the top and falls at once
    (a maximal test), which the mean up to it would read low by the last seconds of the climb."""
    lo = np.searchsorted(tv, max(t0 - 2 * POINT_HALF_WIDTH_S, start_s))
    mid = np.searchsorted(tv, max(t0 - POINT_HALF_WIDTH_S, start_s))
    hi = np.searchsorted(tv, t0, side="right")
    top = np.searchsorted(tv, min(t0 + POINT_HALF_WIDTH_S, end_s), side="right")
    if hi <= lo:
        return None
    return float(max(bv[lo:hi].mean(), bv[mid:top].mean()))


def session_recovery(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    start_s: float,
    end_s: float,
    threshold_bpm: float,
    still_bpm: float,
    valid: ArrayLike | None = None,
) -> Recovery:
    """Recovery after a session ``[start_s, end_s)``: the end of effort, its drops, the fit, and a note.

    Pass the samples of the session and of the few minutes after it (``FIT_S`` + 2 minutes at least).

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        start_s: session start (s).
        end_s: session end (s).
        threshold_bpm: the heartbeat-up level (40 % HRR): the final effort's top lies at or above it.
        still_bpm: the still-exercising level: HR above it a minute after the stop means active recovery.
        valid: optional per-sample validity.

    Returns:
        Recovery, with ``note`` set whenever a value is missing or reads low for a known reason.
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    tv, bv = _valid_slice(t, b, ok, start_s, np.inf)
    return _session_recovery(tv, bv, start_s, end_s, threshold_bpm, still_bpm)


def _session_recovery(
    tv: F64,
    bv: F64,
    start_s: float,
    end_s: float,
    threshold_bpm: float,
    still_bpm: float,
    smoothed: F64 | None = None,
) -> Recovery:
    """``session_recovery`` on valid samples from the session's start (no validation); ``smoothed`` is
    ``smooth(tv, bv, SMOOTH_S)`` when the caller has it already."""
    s = smooth(tv, bv, SMOOTH_S) if smoothed is None else smoothed
    n_in = int(np.searchsorted(tv, end_s))
    up = np.flatnonzero(s[:n_in] >= threshold_bpm)
    if up.size == 0:
        return Recovery(None, None, None, None, None, NOTE_NO_EFFORT if n_in else NOTE_NO_DATA)
    last_up = int(up[-1])
    holes = np.flatnonzero(np.diff(tv[last_up:]) > MAX_HOLE_S)
    cut = last_up + (int(holes[0]) + 1 if holes.size else tv.size - last_up)
    knee = _knee_of_final_fall(tv[:cut], s[:cut], 0, last_up, n_in - 1, RISE_BPM, MIN_FALL_BPM)
    if knee is None:
        short = tv[cut - 1] < tv[last_up] + FIT_S or cut < tv.size
        return Recovery(None, None, None, None, None, NOTE_NO_DATA if short else NOTE_NO_FALL)
    return _recovery(tv[:cut], bv[:cut], float(tv[knee]), start_s=start_s, end_s=end_s, still_bpm=still_bpm)


def heart_rate_recovery(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    end_of_effort_s: float | None,
    valid: ArrayLike | None = None,
    min_coverage: float = MIN_COVERAGE,
    fit_s: float = FIT_S,
    min_r2: float = MIN_R2,
) -> Recovery:
    """HRR60 / HRR120 and the recovery time constant from a given end of effort (Cole et al., NEJM 1999).

    HR at the end of effort is the higher of the 10-s means up to it and around it (``_effort_level``);
    HR 60 or 120 s later is smoothed HR there (``_hr_at``). Each drop is reported only when valid data cover
    at least ``min_coverage`` of the time up to it, and the two only together when HRR120 >= HRR60. The
    time constant comes from a least-squares exponential fit (``_fit``: variable projection) over the first
    ``fit_s`` seconds, reported only when that window is covered, R^2 >= ``min_r2`` and the constant lies
    in ``TAU_RANGE_S``.

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        end_of_effort_s: from ``find_end_of_effort``; None gives an empty Recovery.
        valid: optional per-sample validity.
        min_coverage: fraction of the window that valid data must cover.
        fit_s: length of the fitted window (s).
        min_r2: least acceptable coefficient of determination.

    Returns:
        Recovery (fields None where the data do not allow them, ``note`` saying why).
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    if end_of_effort_s is None:
        return Recovery(None, None, None, None, None, NOTE_NO_DATA)
    t0 = float(end_of_effort_s)
    tv, bv = _valid_slice(t, b, ok, t0 - 2 * POINT_HALF_WIDTH_S, t0 + max(fit_s, 120.0) + MAX_COVER_S)
    return _recovery(tv, bv, t0, min_coverage=min_coverage, fit_s=fit_s, min_r2=min_r2)


def _recovery(
    tv: F64,
    bv: F64,
    t0: float,
    *,
    start_s: float = -np.inf,
    end_s: float = np.inf,
    still_bpm: float = np.inf,
    min_coverage: float = MIN_COVERAGE,
    fit_s: float = FIT_S,
    min_r2: float = MIN_R2,
) -> Recovery:
    """``heart_rate_recovery`` on valid samples only (no validation: for callers that already checked)."""
    at0 = _effort_level(tv, bv, t0, start_s, end_s)
    later, drops = [], []
    for lag_s in (60.0, 120.0):
        hr = _hr_at(tv, bv, t0 + lag_s)
        lo, hi = np.searchsorted(tv, t0), np.searchsorted(tv, t0 + lag_s, side="right")
        covered = _coverage(tv[lo:hi], t0, t0 + lag_s) >= min_coverage
        later.append(hr)
        drops.append(at0 - hr if at0 is not None and hr is not None and covered else None)
    notes = []
    hrr60, hrr120 = drops
    if hrr60 is not None and hrr120 is not None:
        if hrr120 < hrr60 - LEVEL_NOISE_BPM:
            hrr60 = hrr120 = None
            notes.append(NOTE_ROSE)
        else:
            hrr120 = max(hrr120, hrr60)  # levelled off within the noise: the drop held in the 2nd minute
    if hrr60 is None and not notes:
        notes.append(NOTE_NO_DATA if hrr120 is None else NOTE_GAP)
    elif hrr60 is not None and hrr60 <= COOL_DOWN_HRR60_BPM and (later[0] or 0.0) >= still_bpm:
        notes.append(NOTE_COOL_DOWN)
    elif hrr60 is not None and hrr120 is None:
        notes.append(NOTE_SHORT)
    fit, fit_note = _fit(tv, bv, t0, fit_s, min_coverage, min_r2)
    if fit_note and not notes:
        notes.append(fit_note)
    return Recovery(t0, at0, hrr60, hrr120, fit, "; ".join(notes) or None)


def _residuals(dt: F64, centred: F64, ss_tot: float, grid: NDArray[np.intp]) -> F64 | None:
    """Least-squares residual of the best line in exp(-dt / tau) for each tau of ``TAU_GRID_S[grid]``
    (None when some column is constant: no fit)."""
    decay = np.exp(-dt[:, None] / TAU_GRID_S[grid])
    decay -= decay.mean(axis=0)
    spread = np.einsum("ij,ij->j", decay, decay)
    if not np.all(spread > 0):
        return None
    result: F64 = ss_tot - (centred @ decay) ** 2 / spread
    return result


def fit_recovery(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    t0: float,
    fit_s: float = FIT_S,
    min_coverage: float = MIN_COVERAGE,
    min_r2: float = MIN_R2,
) -> RecoveryFit | None:
    """Least-squares fit of HR(t) = hr_end + (hr0 - hr_end) exp(-(t - t0)/tau) to VALID samples.

    Args:
        t_s: valid sample times (s), sorted.
        bpm: their heart rates.
        t0: start of the fit (end of effort).
        fit_s: window length (s).
        min_coverage: fraction of the window the samples must cover.
        min_r2: least acceptable R^2.

    Returns:
        The fit with R^2 and RMSE, or None when the window is not covered, the fit fails, is poor, or its
        time constant lies outside ``TAU_RANGE_S``.
    """
    return _fit(np.asarray(t_s, np.float64), np.asarray(bpm, np.float64), t0, fit_s, min_coverage, min_r2)[0]


def _fit(
    t: F64, b: F64, t0: float, fit_s: float, min_coverage: float, min_r2: float
) -> tuple[RecoveryFit | None, str | None]:
    """The fit, or None with the note to show (None when the data simply do not reach the window)."""
    lo, hi = np.searchsorted(t, t0), np.searchsorted(t, t0 + fit_s, side="right")
    tw, bw = t[lo:hi], b[lo:hi]
    if tw.size < MIN_FIT_POINTS or _coverage(tw, t0, t0 + fit_s) < min_coverage:
        return None, None
    dt = tw - t0
    # Variable projection (Golub & Pereyra, SIAM J Numer Anal 1973): for a fixed tau the model is linear in
    # hr_end and the amplitude, so the residual for every tau of a log grid over TAU_RANGE_S comes from one
    # closed-form least squares each; a parabola through the three best refines tau. The exact minimum in
    # the plausible range, with no starting point to get wrong, at a third of a Levenberg-Marquardt run
    # (the year's 365 fits were half of the analysis benchmark).
    # The grid is searched every COARSE_STEP-th point first, then point by point around the best of those:
    # the same minimum as the whole grid for the one-valley residual of a single exponential, at a third of
    # the exponentials.
    centred = bw - bw.mean()
    ss_tot = float(centred @ centred)
    if ss_tot == 0.0:
        return None, NOTE_NO_FIT
    coarse = np.arange(0, TAU_GRID_S.size, COARSE_STEP)
    sse_coarse = _residuals(dt, centred, ss_tot, coarse)
    if sse_coarse is None:
        return None, NOTE_NO_FIT
    best = int(coarse[np.argmin(sse_coarse)])
    fine = np.arange(max(best - COARSE_STEP, 0), min(best + COARSE_STEP, TAU_GRID_S.size - 1) + 1)
    sse = _residuals(dt, centred, ss_tot, fine)
    if sse is None:
        return None, NOTE_NO_FIT
    j = int(np.argmin(sse))
    k = int(fine[j])
    if k in (0, TAU_GRID_S.size - 1):
        return None, NOTE_NO_FIT  # the best time constant lies outside TAU_RANGE_S: implausible
    x, y = np.log(TAU_GRID_S[k - 1 : k + 2]), sse[j - 1 : j + 2]
    tau = float(np.exp(x[1] + 0.5 * (x[1] - x[0]) * (y[0] - y[2]) / (y[0] - 2 * y[1] + y[2])))
    shape = np.exp(-dt / tau)
    amplitude = float((shape - shape.mean()) @ centred / np.sum((shape - shape.mean()) ** 2))
    hr_end = float(bw.mean() - amplitude * shape.mean())
    residual = bw - (hr_end + amplitude * shape)
    r2 = 1.0 - float(residual @ residual) / ss_tot
    if amplitude <= 0:
        return None, NOTE_NO_FIT  # an exponential rise is no recovery
    if r2 < min_r2:
        return None, f"{NOTE_NO_FIT} (R² {r2:.2f})"
    rmse = float(np.sqrt(np.mean(residual**2)))
    return RecoveryFit(t0, hr_end + amplitude, hr_end, tau, r2, rmse, fit_s), None
