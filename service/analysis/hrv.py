"""Time-domain heart-rate variability from RR intervals, for a whole series or for clock windows.

Definitions (Task Force of the ESC and NASPE, 1996), with the choices NeuroKit2 0.2.13 makes noted:

- RMSSD: root mean square of successive differences.
- SDNN: sample standard deviation (ddof=1), as ``nk.hrv_time`` (``np.nanstd(rri, ddof=1)``).
- pNN50: successive differences larger than 50 ms as a percentage of the number of differences.
  NeuroKit2 divides by the number of intervals instead (``nn50 / (len(diff) + 1)``), which reads
  0.1 % low on a 1000-beat series; we keep the Task Force denominator.
- mean HR: 60000 / mean RR, the rate that the mean interval implies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.analysis.artifacts import as_rr_array, correct
from service.analysis.errors import InvalidSeries, TooFewBeats

MIN_RR_INTERVALS = 2  # one successive difference and a sample SD need two intervals
NN50_MS = 50.0
SUB_WINDOW_S = 30  # HR stability is judged on 30-s means, which average out breathing (RSA)
GAP_TOLERANCE_S = 1.0  # beat times may jitter this much before two beats count as not successive


@dataclass(frozen=True)
class HrvMetrics:
    """Time-domain HRV of one RR series; ``n_corrected`` counts input beats labelled as artefacts."""

    rmssd_ms: float
    sdnn_ms: float
    pnn50_pct: float
    mean_hr_bpm: float
    n_beats: int
    n_corrected: int


def time_domain(rr_ms: npt.ArrayLike, *, correct_artifacts: bool = True) -> HrvMetrics:
    """RMSSD, SDNN, pNN50 and mean HR of an RR series, artefacts corrected first by default.

    Args:
        rr_ms: RR intervals in ms, any 1-D array-like, in beat order.
        correct_artifacts: run Lipponen & Tarvainen (2019) detection and correction first.

    Returns:
        The metrics; ``n_beats`` is the number of intervals they were computed from (after
        correction, which may split or merge intervals), ``n_corrected`` the number of input beats
        labelled as artefacts (0 without correction).

    Raises:
        InvalidSeries: not 1-D, or a value that is not finite and positive.
        TooFewBeats: fewer than two RR intervals.
    """
    rr = as_rr_array(rr_ms)
    if rr.size < MIN_RR_INTERVALS:
        raise TooFewBeats(rr.size, MIN_RR_INTERVALS)
    n_corrected = 0
    if correct_artifacts:
        result = correct(rr)
        rr, n_corrected = result.rr_ms, result.n_flagged
    diff = np.diff(rr)
    return HrvMetrics(
        rmssd_ms=float(np.sqrt(np.mean(diff**2))),
        sdnn_ms=float(np.std(rr, ddof=1)),
        pnn50_pct=float(100.0 * np.count_nonzero(np.abs(diff) > NN50_MS) / diff.size),
        mean_hr_bpm=float(60_000.0 / np.mean(rr)),
        n_beats=int(rr.size),
        n_corrected=n_corrected,
    )


@dataclass(frozen=True)
class WindowStats:
    """Per-window HRV on clock-aligned windows that hold at least one beat (arrays of equal length).

    ``covered_s`` is the time spanned by the window's RR intervals, ``hr_sd_bpm`` the SD of its 30-s
    mean HRs (how steady the rate was), ``artifact_fraction`` the share of its input beats labelled as
    artefacts. ``rmssd_ms`` is NaN where no two successive beats fall in the window.
    """

    start_s: npt.NDArray[np.float64]
    n_beats: npt.NDArray[np.int64]
    covered_s: npt.NDArray[np.float64]
    mean_hr_bpm: npt.NDArray[np.float64]
    rmssd_ms: npt.NDArray[np.float64]
    hr_sd_bpm: npt.NDArray[np.float64]
    artifact_fraction: npt.NDArray[np.float64]

    @property
    def ln_rmssd(self) -> npt.NDArray[np.float64]:
        """Natural log of RMSSD in ms, the scale on which HRV is near normal and baselines are kept."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.rmssd_ms)


def as_beat_times(beat_t_s: npt.ArrayLike, rr: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Validate beat times against their RR series: same length, finite, non-decreasing.

    Args:
        beat_t_s: time of each beat (the end of its RR interval), seconds (UTC epoch).
        rr: the validated RR series.

    Returns:
        A float64 copy of the times.

    Raises:
        InvalidSeries: wrong shape or length, not finite, or decreasing.
    """
    t = np.array(beat_t_s, dtype=np.float64)
    if t.shape != rr.shape:
        raise InvalidSeries("beat_t_s", f"shape {t.shape} does not match rr_ms {rr.shape}")
    if t.size and not (np.isfinite(t).all() and (np.diff(t) >= 0).all()):
        raise InvalidSeries("beat_t_s", "times must be finite and non-decreasing")
    return t


def _group_sums(
    ids: npt.NDArray[np.intp], values: npt.NDArray[np.float64], n: int
) -> npt.NDArray[np.float64]:
    """Sum of values per group id (0..n-1)."""
    return np.asarray(np.bincount(ids, weights=values, minlength=n), dtype=np.float64)


def window_stats(
    beat_t_s: npt.ArrayLike, rr_ms: npt.ArrayLike, *, window_s: int = 300, correct_artifacts: bool = True
) -> WindowStats:
    """HRV per clock-aligned window, computed in one vectorised sweep over a long recording.

    Artefacts are corrected over the whole series first; a successive difference counts only when
    both beats fall in the same window and no gap in the recording separates them.

    Args:
        beat_t_s: time of each beat (end of its RR interval), seconds (UTC epoch), non-decreasing.
        rr_ms: RR intervals in ms, same length.
        window_s: window length in seconds, a multiple of 30; windows start at multiples of it.
        correct_artifacts: run artefact correction first.

    Returns:
        Statistics for every window holding at least one beat, in time order.

    Raises:
        InvalidSeries: mismatched or invalid arrays, or a window length that is not a multiple of 30.
    """
    rr_in = as_rr_array(rr_ms)
    t_in = as_beat_times(beat_t_s, rr_in)
    if window_s <= 0 or window_s % SUB_WINDOW_S:
        raise InvalidSeries("window_s", f"must be a positive multiple of {SUB_WINDOW_S}, got {window_s}")
    if correct_artifacts:
        res = correct(rr_in)
        rr, origin, flagged = res.rr_ms, res.origin, res.labels != 0
    else:
        rr, origin, flagged = rr_in, np.arange(rr_in.size), np.zeros(rr_in.size, dtype=bool)
    t = t_in[origin]
    win_all = np.floor(t / window_s).astype(np.int64)
    keys, wid = np.unique(win_all, return_inverse=True)
    n_win = keys.size
    n_beats = np.bincount(wid, minlength=n_win)
    sum_rr = _group_sums(wid, rr, n_win)
    contiguous_in = np.diff(t_in, prepend=-np.inf) <= rr_in / 1000.0 + GAP_TOLERANCE_S
    pair = (wid[1:] == wid[:-1]) & (contiguous_in[origin[1:]] | (origin[1:] == origin[:-1]))
    sq = np.where(pair, np.diff(rr) ** 2, 0.0)
    n_pairs = np.bincount(wid[1:], weights=pair.astype(np.float64), minlength=n_win)
    sum_sq = _group_sums(wid[1:], sq, n_win)
    with np.errstate(divide="ignore", invalid="ignore"):
        rmssd = np.where(n_pairs > 0, np.sqrt(sum_sq / n_pairs), np.nan)
    win_in = np.searchsorted(keys, np.floor(t_in / window_s).astype(np.int64))
    artifact_fraction = np.bincount(
        win_in, weights=flagged.astype(np.float64), minlength=n_win
    ) / np.bincount(win_in, minlength=n_win)
    return WindowStats(
        start_s=keys.astype(np.float64) * window_s,
        n_beats=n_beats.astype(np.int64),
        covered_s=np.minimum(sum_rr / 1000.0, float(window_s)),
        mean_hr_bpm=60_000.0 * n_beats / sum_rr,
        rmssd_ms=rmssd,
        hr_sd_bpm=_sub_window_hr_sd(t, rr, keys, window_s),
        artifact_fraction=artifact_fraction,
    )


def _sub_window_hr_sd(
    t: npt.NDArray[np.float64], rr: npt.NDArray[np.float64], keys: npt.NDArray[np.int64], window_s: int
) -> npt.NDArray[np.float64]:
    """SD (ddof=0) of the 30-s mean HRs inside each window; 0 for a window with one sub-window."""
    sub_keys, sid = np.unique(np.floor(t / SUB_WINDOW_S).astype(np.int64), return_inverse=True)
    sub_hr = 60_000.0 * np.bincount(sid) / np.bincount(sid, weights=rr)
    owner = np.searchsorted(keys, sub_keys * SUB_WINDOW_S // window_s)
    n = np.bincount(owner, minlength=keys.size)
    mean = np.bincount(owner, weights=sub_hr, minlength=keys.size) / n
    mean_sq = np.bincount(owner, weights=sub_hr**2, minlength=keys.size) / n
    return np.sqrt(np.maximum(mean_sq - mean**2, 0.0))
