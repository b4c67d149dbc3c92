"""The end of effort, where recovery is measured from (DESIGN.md "Heart-rate recovery").

It is where the final sustained fall begins, near the session's peak at the stop. The final effort is
what follows the session's last renewed rise (``RISE_BPM`` or more on 10-s smoothed HR: another
interval, not a wobble); its top is its highest smoothed HR, at or before the last heartbeat-up moment.
The fall begins at the knee between that top and the moment HR is ``MIN_FALL_BPM`` below it, so a
plateau ends where the fall starts and a fall straight from the top starts at the top. The fall never
begins after the session's end, and a cool-down after it cannot move it (the old search looked for the
steepest fall minutes later and found the end of a cool-down walk instead of the peak).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import as_bpm, as_mask, as_times

F64 = NDArray[np.float64]

LOOKBACK_S = 600.0  # without a session start, how far before the effort's end its top may lie
SMOOTH_S = 10.0  # centred moving mean that keeps beat-to-beat noise out of peak detection
MIN_FALL_BPM = 15.0  # a smaller fall is easing off, not a recovery (a normal HRR60 alone is > 12)
RISE_BPM = 10.0  # a rise this large (smoothed) is renewed effort, not a wobble in the cool-down
KNEE_MIN_BPM = 3.0  # a bend smaller than this above the chord is noise of 10-s means: the fall began there
KNEE_DEPTH_BPM = 5.0  # the chord runs this far below the end of the effort, into the steep part of the fall
MAX_KNEE_STEPS = 12  # each step moves the knee toward the fall; a plateau converges in a few
FIT_HORIZON_S = 360.0  # how far past the effort's end the public search reads data for the fall


def _valid_slice(
    t: F64, b: NDArray[np.float32], ok: NDArray[np.bool_] | None, lo_s: float, hi_s: float
) -> tuple[F64, F64]:
    """Valid samples with lo_s <= t <= hi_s."""
    i, j = np.searchsorted(t, lo_s, side="left"), np.searchsorted(t, hi_s, side="right")
    keep = np.isfinite(b[i:j]) if ok is None else ok[i:j]
    return t[i:j][keep], b[i:j][keep].astype(np.float64)


def smooth(t: F64, b: F64, width_s: float) -> F64:
    """Centred moving mean over a time window (irregular sampling allowed): one cumulative sum."""
    sums = np.concatenate(([0.0], np.cumsum(b)))
    lo = np.searchsorted(t, t - width_s / 2, side="left")
    hi = np.searchsorted(t, t + width_s / 2, side="right")
    return (sums[hi] - sums[lo]) / (hi - lo)


def find_end_of_effort(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    effort_end_s: float,
    valid: ArrayLike | None = None,
    lookback_s: float = LOOKBACK_S,
    rise_bpm: float = RISE_BPM,
    min_fall_bpm: float = MIN_FALL_BPM,
    effort_start_s: float | None = None,
    stop_s: float | None = None,
) -> float | None:
    """Where the final sustained fall begins: the knee after the last effort's top, not a threshold crossing.

    On HR smoothed over 10 s between ``effort_start_s`` (else ``effort_end_s - lookback_s``) and
    ``effort_end_s`` (the last heartbeat-up moment): the last effort's top is the highest point after the
    last renewed effort (a rise of ``rise_bpm`` or more that climbs back at least halfway to the top
    before it: another interval, where a wobble in a cool-down is not; ``_final_top``). The fall begins at the knee between the top and the first point
    ``min_fall_bpm`` below it (the effort is over there): the point furthest above the straight line from
    the top to ``KNEE_DEPTH_BPM`` further down (the "kneedle" idea, Satopaa et al., ICDCS Workshops 2011),
    taken again from each knee found until none stands out by ``KNEE_MIN_BPM``. A fall straight from the
    top therefore starts at the top; a plateau or a fade of less than ``min_fall_bpm`` is still effort and
    ends where the steep fall starts; a longer decline (a jog-down) is the fall itself, so a cool-down
    after it cannot pull the end of effort minutes later. When HR never falls by
    ``min_fall_bpm`` within the data, the effort had not ended there (a normal HRR60 alone is above 12 bpm,
    Cole 1999) and None is returned.

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        effort_end_s: latest time the top may lie (the session's last moment at or above threshold).
        valid: optional per-sample validity.
        lookback_s: how far back the top may lie when ``effort_start_s`` is not given.
        rise_bpm: smallest rise that counts as renewed effort.
        min_fall_bpm: smallest fall that shows the effort ended.
        effort_start_s: where the session starts (the top lies after it).
        stop_s: the session's end: the fall never begins after it (None: no limit).

    Returns:
        Time (s) of the end of effort, or None without valid data in the window or without an ended effort.
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    lo_s = effort_end_s - lookback_s if effort_start_s is None else effort_start_s
    tv, bv = _valid_slice(t, b, ok, lo_s, effort_end_s + FIT_HORIZON_S)
    s = smooth(tv, bv, SMOOTH_S)
    first = int(np.searchsorted(tv, lo_s))
    last = int(np.searchsorted(tv, effort_end_s, side="right")) - 1
    if last < first:
        return None
    stop = tv.size - 1 if stop_s is None else int(np.searchsorted(tv, stop_s)) - 1
    knee = _knee_of_final_fall(tv, s, first, last, stop, rise_bpm, min_fall_bpm)
    return None if knee is None else float(tv[knee])


def _final_top(s: F64, first: int, last: int, rise_bpm: float) -> int:
    """Index of the last effort's top in ``s[first : last + 1]``.

    From the highest point, move to the highest point after each renewed effort: a rise of ``rise_bpm``
    or more from the lowest point since the top that climbs back at least halfway to it. A wobble in a
    cool-down (fenix2: 104 -> 114 after a top of 157) is no renewed effort; another interval is. One
    vectorised step per interval.
    """
    top = first + int(np.argmax(s[first : last + 1]))
    for _ in range(last - first + 1):  # ends long before: each step moves past a trough after the top
        seg = s[top : last + 1]
        lowest = np.minimum.accumulate(seg)
        renewed = np.flatnonzero((seg - lowest >= rise_bpm) & (seg >= (lowest + s[top]) / 2))
        if renewed.size == 0:
            break
        trough = top + int(np.argmin(seg[: renewed[0] + 1]))
        top = trough + int(np.argmax(s[trough : last + 1]))
    return top


def _knee_of_final_fall(
    tv: F64, s: F64, first: int, last: int, stop: int, rise_bpm: float, min_fall_bpm: float
) -> int | None:
    """Index where the final fall begins (see ``find_end_of_effort``), on smoothed HR ``s``."""
    top = _final_top(s, first, last, rise_bpm)
    fallen = np.flatnonzero(s[top:] < s[top] - min_fall_bpm)
    if fallen.size == 0:
        return None  # no real fall within the data: the effort had not ended (or the recording stops)
    drop = top + int(fallen[0])  # the first moment the effort is over: candidates for the knee lie before
    deeper = np.flatnonzero(s[drop:] < s[top] - min_fall_bpm - KNEE_DEPTH_BPM)
    end = drop + int(deeper[0]) if deeper.size else drop  # the chord reaches into the steep part
    last_candidate = max(min(drop - 1, stop), top)  # never after the session's end
    knee = top
    for _ in range(MAX_KNEE_STEPS):  # a handful: each step moves the knee later along a plateau
        span = slice(knee, end + 1)
        chord = s[knee] + (s[end] - s[knee]) * (tv[span] - tv[knee]) / (tv[end] - tv[knee])
        above = s[span] - chord
        above[last_candidate - knee + 1 :] = -np.inf
        step = int(np.argmax(above))
        if step == 0 or above[step] < KNEE_MIN_BPM:
            break
        knee += step
    return knee
