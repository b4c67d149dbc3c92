"""Heart-rate recovery after effort: end of effort, HRR60/HRR120 and an exponential recovery fit."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import OptimizeWarning, curve_fit

from service.analysis.cleaning import as_bpm, as_mask, as_times

LOOKBACK_S = 600.0  # how far before the session's end the final fall may begin
SMOOTH_S = 10.0  # centred moving mean that keeps beat-to-beat noise out of peak detection
MIN_FALL_BPM = 15.0  # a smaller fall is easing off, not a recovery (a normal HRR60 alone is > 12)
RISE_BPM = 10.0  # a rise this large (smoothed) is renewed effort, not a wobble in the cool-down
POINT_HALF_WIDTH_S = 5.0  # HR "at" a time is the mean of valid samples within +-5 s
MIN_COVERAGE = 0.8  # valid coverage needed over the recovery window before anything is reported
FIT_S = 180.0  # the exponential is fitted on the first 3 minutes after the end of effort
MIN_FIT_POINTS = 10
MIN_R2 = 0.7  # below this the fit describes the noise more than the recovery
MAX_GAP_S = 5.0  # a sample stands for at most this long when measuring coverage
TAU_RANGE_S = (1.0, 3600.0)  # faster than 1 s or slower than 1 h is not a recovery


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

    def curve(self, t_s: ArrayLike) -> NDArray[np.float64]:
        """The fitted heart rate at absolute times ``t_s`` (for drawing)."""
        dt = np.asarray(t_s, dtype=np.float64) - self.t0_s
        return _exp_model(dt, self.hr0_bpm, self.hr_end_bpm, self.tau_s)


@dataclass(frozen=True)
class Recovery:
    """What the data after an effort allow: each field None when they do not."""

    end_of_effort_s: float | None
    peak_bpm: float | None
    hrr60_bpm: float | None
    hrr120_bpm: float | None
    fit: RecoveryFit | None

    @property
    def tau_s(self) -> float | None:
        """Recovery time constant (s) of an acceptable fit."""
        return self.fit.tau_s if self.fit else None


def _exp_model(dt: NDArray[np.float64], hr0: float, hr_end: float, tau: float) -> NDArray[np.float64]:
    # Mono-exponential HR recovery (Imai et al., J Am Coll Cardiol 1994;24:1529-35; Pierpont et al. 2000).
    return hr_end + (hr0 - hr_end) * np.exp(-dt / tau)


def _exp_jacobian(dt: NDArray[np.float64], hr0: float, hr_end: float, tau: float) -> NDArray[np.float64]:
    # Partial derivatives of _exp_model by hr0, hr_end and tau: fewer model evaluations than finite steps.
    decay = np.exp(-dt / tau)
    return np.column_stack((decay, 1.0 - decay, (hr0 - hr_end) * decay * dt / tau**2))


def _start_values(dt: NDArray[np.float64], bw: NDArray[np.float64]) -> tuple[float, float, float]:
    """Starting point for the fit read off the data: first and last levels, and the time HR first covers
    63 % of the way between them (one time constant of an exponential)."""
    head, tail = bw[dt <= 5.0], bw[dt >= dt[-1] - 20.0]
    hr0 = float(head.sum() / head.size)
    hr_end = float(tail.sum() / tail.size)
    reached = np.flatnonzero(bw <= hr_end + (hr0 - hr_end) / np.e) if hr0 > hr_end else np.zeros(0, np.intp)
    tau = float(dt[reached[0]]) if reached.size and dt[reached[0]] > 0 else 60.0
    return hr0, hr_end, tau


def _valid_slice(
    t: NDArray[np.float64], b: NDArray[np.float32], ok: NDArray[np.bool_] | None, lo_s: float, hi_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Valid samples with lo_s <= t <= hi_s."""
    i, j = np.searchsorted(t, lo_s, side="left"), np.searchsorted(t, hi_s, side="right")
    keep = np.isfinite(b[i:j]) if ok is None else ok[i:j]
    return t[i:j][keep], b[i:j][keep].astype(np.float64)


def _smooth(t: NDArray[np.float64], b: NDArray[np.float64], width_s: float) -> NDArray[np.float64]:
    """Centred moving mean over a time window (irregular sampling allowed)."""
    sums = np.concatenate(([0.0], np.cumsum(b)))
    lo = np.searchsorted(t, t - width_s / 2, side="left")
    hi = np.searchsorted(t, t + width_s / 2, side="right")
    return (sums[hi] - sums[lo]) / (hi - lo)


def _coverage(t: NDArray[np.float64], lo_s: float, hi_s: float) -> float:
    """Fraction of [lo_s, hi_s] covered by valid samples, each standing for at most MAX_GAP_S."""
    if t.size == 0:
        return 0.0
    cover = np.minimum(np.diff(np.append(t, hi_s)), MAX_GAP_S)
    return float(min(cover.sum(), hi_s - lo_s) / (hi_s - lo_s))


def find_end_of_effort(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    effort_end_s: float,
    valid: ArrayLike | None = None,
    lookback_s: float = LOOKBACK_S,
    rise_bpm: float = RISE_BPM,
    min_fall_bpm: float = MIN_FALL_BPM,
) -> float | None:
    """Where the final sustained fall begins: the knee after the last effort, not the threshold crossing.

    On HR smoothed over 10 s in the ``lookback_s`` before ``effort_end_s`` (a session's last moment above
    threshold): the last effort starts after the last point from which HR still rises by ``rise_bpm`` or
    more (so earlier intervals and small wobbles in a cool-down do not count); its top is the highest
    point after that. The fall begins at the knee between the top and the lowest point after it: the
    point before the steepest fall furthest above the straight line joining them (the "kneedle" idea,
    Satopaa et al., ICDCS Workshops 2011). A plateau or a slow fade therefore ends where the steep fall
    starts; a fall straight from the top gives the top itself. The lowest point is looked for up to
    ``FIT_S`` after the later of the top and ``effort_end_s``, so data after the session are used. When
    HR falls by less than ``min_fall_bpm`` there, the effort had not ended within the data (the recording
    stops or a hole follows while still exercising) and None is returned; a recovery that slow (a normal
    HRR60 alone is above 12 bpm, Cole 1999) is not reported.

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        effort_end_s: latest time the effort may end.
        valid: optional per-sample validity.
        lookback_s: how far back the fall may begin.
        rise_bpm: smallest rise that counts as renewed effort.
        min_fall_bpm: smallest fall that shows the effort ended.

    Returns:
        Time (s) of the end of effort, or None without valid data in the window or without an ended effort.
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    tv, bv = _valid_slice(t, b, ok, effort_end_s - lookback_s, effort_end_s + FIT_S)
    return _end_of_effort(tv, bv, effort_end_s, lookback_s, rise_bpm, min_fall_bpm)


def _end_of_effort(
    tv: NDArray[np.float64],
    bv: NDArray[np.float64],
    effort_end_s: float,
    lookback_s: float = LOOKBACK_S,
    rise_bpm: float = RISE_BPM,
    min_fall_bpm: float = MIN_FALL_BPM,
) -> float | None:
    """``find_end_of_effort`` on valid samples only (no validation: for callers that already checked)."""
    i0 = int(np.searchsorted(tv, effort_end_s - lookback_s))
    i1 = int(np.searchsorted(tv, effort_end_s + FIT_S, side="right"))
    tv, bv = tv[i0:i1], bv[i0:i1]
    n_effort = int(np.searchsorted(tv, effort_end_s, side="right"))  # the top lies before effort_end_s
    if n_effort == 0:
        return None
    s = _smooth(tv, bv, SMOOTH_S)
    highest_after = np.maximum.accumulate(s[:n_effort][::-1])[::-1]
    rises = np.flatnonzero(highest_after - s[:n_effort] >= rise_bpm)  # HR still climbs by rise_bpm here
    first = int(rises[-1]) + 1 if rises.size else 0
    top = first + int(np.argmax(s[first:n_effort]))
    horizon = int(np.searchsorted(tv, max(effort_end_s, tv[top]) + FIT_S, side="right"))
    bottom = top + int(np.argmin(s[top:horizon]))
    if s[top] - s[bottom] < min_fall_bpm:
        return None  # no real fall within the data: the effort had not ended (or the recording stops)
    # The knee lies before the steepest part of the fall (a wobbly cool-down tail must not win).
    ahead = np.minimum(np.searchsorted(tv, tv + SMOOTH_S), tv.size - 1)
    steepest = top + int(np.argmin((s[ahead] - s)[top : bottom + 1]))
    span = slice(top, steepest + 1)
    chord = s[top] + (s[bottom] - s[top]) * (tv[span] - tv[top]) / (tv[bottom] - tv[top])
    return float(tv[top + int(np.argmax(s[span] - chord))])


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
    """HRR60 / HRR120 and the recovery time constant from the end of effort (Cole et al., NEJM 1999).

    HRR60 is HR at the end of effort minus HR 60 s later (Cole CR et al., N Engl J Med 1999;341:1351-7);
    HRR120 likewise at 120 s. HR at the end of effort is the mean of the valid samples of the 10 s before
    it (the effort itself); HR 60 or 120 s later the mean of valid samples within +-5 s. Each is reported
    only when valid data cover at least ``min_coverage`` of the time up to it. The time constant comes
    from a least-squares exponential fit (scipy.optimize.curve_fit) over the first ``fit_s`` seconds,
    reported only when that window is covered and R^2 >= ``min_r2``.

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        end_of_effort_s: from ``find_end_of_effort``; None gives an empty Recovery.
        valid: optional per-sample validity.
        min_coverage: fraction of the window that valid data must cover.
        fit_s: length of the fitted window (s).
        min_r2: least acceptable coefficient of determination.

    Returns:
        Recovery (fields None where the data do not allow them).
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    if end_of_effort_s is None:
        return Recovery(None, None, None, None, None)
    t0 = float(end_of_effort_s)
    tv, bv = _valid_slice(t, b, ok, t0 - 2 * POINT_HALF_WIDTH_S, t0 + max(fit_s, 120.0) + POINT_HALF_WIDTH_S)
    return _recovery(tv, bv, t0, min_coverage=min_coverage, fit_s=fit_s, min_r2=min_r2)


def _recovery(
    tv: NDArray[np.float64],
    bv: NDArray[np.float64],
    t0: float,
    *,
    min_coverage: float = MIN_COVERAGE,
    fit_s: float = FIT_S,
    min_r2: float = MIN_R2,
) -> Recovery:
    """``heart_rate_recovery`` on valid samples only (no validation: for callers that already checked)."""
    at0 = _hr_at(tv, bv, t0, before_only=True)
    drops = []
    for lag_s in (60.0, 120.0):
        later = _hr_at(tv, bv, t0 + lag_s)
        lo, hi = np.searchsorted(tv, t0), np.searchsorted(tv, t0 + lag_s, side="right")
        covered = _coverage(tv[lo:hi], t0, t0 + lag_s) >= min_coverage
        drops.append(at0 - later if at0 is not None and later is not None and covered else None)
    fit = fit_recovery(tv, bv, t0=t0, fit_s=fit_s, min_coverage=min_coverage, min_r2=min_r2)
    return Recovery(end_of_effort_s=t0, peak_bpm=at0, hrr60_bpm=drops[0], hrr120_bpm=drops[1], fit=fit)


def _hr_at(
    tv: NDArray[np.float64], bv: NDArray[np.float64], at_s: float, before_only: bool = False
) -> float | None:
    """Mean valid HR within +-POINT_HALF_WIDTH_S of ``at_s`` (or the 2 x that before it, for the peak)."""
    lo_s, hi_s = (
        (at_s - 2 * POINT_HALF_WIDTH_S, at_s)
        if before_only
        else (at_s - POINT_HALF_WIDTH_S, at_s + POINT_HALF_WIDTH_S)
    )
    lo, hi = np.searchsorted(tv, lo_s), np.searchsorted(tv, hi_s, side="right")
    return float(bv[lo:hi].mean()) if hi > lo else None


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
        The fit with R^2 and RMSE, or None when the window is not covered, the fit fails or is poor.
    """
    t = np.asarray(t_s, dtype=np.float64)
    b = np.asarray(bpm, dtype=np.float64)
    lo, hi = np.searchsorted(t, t0), np.searchsorted(t, t0 + fit_s, side="right")
    tw, bw = t[lo:hi], b[lo:hi]
    if tw.size < MIN_FIT_POINTS or _coverage(tw, t0, t0 + fit_s) < min_coverage:
        return None
    dt = tw - t0
    p0 = _start_values(dt, bw)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow while exploring a bad tau
            # Levenberg-Marquardt (unbounded) is ~10x faster than the bounded TRF here; the
            # plausibility of the result is checked below instead.
            params, _ = curve_fit(
                _exp_model,
                dt,
                bw,
                p0=p0,
                jac=_exp_jacobian,
                check_finite=False,
                maxfev=100,
                xtol=1e-5,
                ftol=1e-7,
            )
    except (RuntimeError, ValueError):
        return None
    if not (np.all(np.isfinite(params)) and TAU_RANGE_S[0] <= params[2] <= TAU_RANGE_S[1]):
        return None
    residual = bw - _exp_model(dt, *params)
    ss_tot = float(np.sum((bw - bw.mean()) ** 2))
    if ss_tot == 0.0:
        return None
    r2 = 1.0 - float(np.sum(residual**2)) / ss_tot
    if r2 < min_r2:
        return None
    hr0, hr_end, tau = (float(p) for p in params)
    return RecoveryFit(t0, hr0, hr_end, tau, r2, float(np.sqrt(np.mean(residual**2))), fit_s)
