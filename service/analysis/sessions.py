"""Workout sessions found in heart rate, with their load and recovery, and helpers for user corrections.

Rules (DESIGN.md "Workout session"), with hysteresis between two levels of heart-rate reserve:

- Detected once HR has held the heartbeat-up threshold (40 % HRR, ACSM "moderate") for 5 clock minutes.
- It continues while HR stays at or above the still-exercising level, 30 % HRR: the lower bound of ACSM
  "light" intensity (ACSM's Guidelines for Exercise Testing and Prescription, 11th ed., table 5.2; below
  it is "very light", i.e. not exercise). An active recovery between intervals (rowing or cycling at
  95-105 bpm between efforts at 150-176, for 60/190 bpm that is 27-35 % HRR) is light work, so an interval
  workout is one session. Rests below that level of up to 5 minutes do not split it either (as before);
  a longer one is a real stop, and so is a hole in the data longer than 2 minutes.
- Minutes are judged by their mean (a minute at or above 30 % HRR is "still exercising"): a stretch of the
  session is then exact to about a minute, and a year of data costs one pass over the minute table.
- The start is back-dated from the first still-exercising moment to where the sustained rise began, warm-up
  included (Fitbit and Garmin back-date an auto-detected workout the same way): back over falling HR to
  the lowest level before the climb, within the data (never into a hole), never before an earlier bout and
  never more than 15 minutes.
- The end is the last still-exercising moment before the stop. A session that reaches the end of the data
  while they still arrive (``data_end_s``, e.g. now) is "in progress": its end is the latest sample and its
  recovery is pending until the 3 minutes after the stop that it needs have arrived (``PENDING_S``).
- Heartbeat-up minutes of a session are its up clock minutes whose middle lies inside it, never more than
  its length in whole minutes (a clock minute half outside a session begun or ended by the edge of the
  data is not counted for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import as_bpm, as_mask, as_times, clean_hr
from service.analysis.effort import SMOOTH_S, smooth
from service.analysis.minutes import MAX_COVER_S, MINUTE_S, MinuteTable, cover_of_sorted, minute_table
from service.analysis.profile import HeartProfile
from service.analysis.recovery import (
    FIT_S,
    MAX_HOLE_S,
    NOTE_PENDING,
    Recovery,
    RecoveryFit,
    _session_recovery,
)
from service.analysis.trimp import TRIMP_K_MALE, trimp_of_cover

STILL_EXERCISING_HRR = 0.30  # ACSM "light" from here: the level a session continues above (hysteresis)
MIN_SUSTAINED_MINUTES = 5
MAX_REST_MINUTES = 5  # minutes below the still-exercising level (or missing) that do not split a session
BACKDATE_MAX_S = 900.0  # a warm-up is 5-10 minutes (ACSM); 15 leaves room without reaching the day before
BASELINE_TOL_BPM = 5.0  # the rise begins where HR leaves the lowest level before it by more than this
EARLIER_BOUT_BPM = 10.0  # going back, HR this far above the lowest since is an earlier bout: stop there
RECOVERY_AFTER_S = FIT_S + 120.0  # samples kept after a session's end for its recovery
# A session reaching live data is in progress until this long below the still-exercising level has
# arrived: the recovery's window (HRR120 and the 3-minute fit) is then complete. If the user resumes
# within the 5 minutes of a rest, the next analysis joins the effort to it again.
PENDING_S = FIT_S


@dataclass(frozen=True)
class Session:
    """One workout: span, minutes, intensity, load and recovery (None where the data do not allow it)."""

    start_s: float
    end_s: float
    heartbeat_up_minutes: int
    avg_bpm: float
    max_bpm: float
    hrr60_bpm: float | None
    moderate_minutes: int = 0
    vigorous_minutes: int = 0
    peak_minutes: int = 0
    trimp: float = 0.0
    hrr120_bpm: float | None = None
    recovery_tau_s: float | None = None
    recovery_fit_r2: float | None = None
    end_of_effort_s: float | None = None
    recovery_fit: RecoveryFit | None = None
    in_progress: bool = False
    recovery_note: str | None = None  # why a recovery value is missing or reads low, for the page
    end_of_effort_bpm: float | None = None  # HR at the end of effort, where the drops start

    @property
    def duration_s(self) -> float:
        """Length of the session (s)."""
        return self.end_s - self.start_s

    @property
    def zone_minutes(self) -> dict[str, int]:
        """Minutes per zone, as the API reports them."""
        return {
            "moderate": self.moderate_minutes,
            "vigorous": self.vigorous_minutes,
            "peak": self.peak_minutes,
        }


def detect_sessions(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    resting_hr: float,
    max_hr: float,
    valid: ArrayLike | None = None,
    contact: ArrayLike | None = None,
    trimp_k: float = TRIMP_K_MALE,
    data_end_s: float | None = None,
) -> list[Session]:
    """Find workout sessions in a heart-rate stream (the public contract; cleans the data itself).

    Args:
        t_s: sample times (s), non-decreasing, gaps allowed.
        bpm: heart rate per sample.
        resting_hr: resting HR (bpm).
        max_hr: HRmax (bpm).
        valid: optional validity mask; when absent ``clean_hr`` decides.
        contact: optional per-sample sensor contact (False = lost); such samples are invalid.
        trimp_k: Banister exponent, 1.92 (men, default) or 1.67 (women).
        data_end_s: the time up to which data would have arrived (now, for a live strap); a session
            reaching the last sample within 2 minutes of it is in progress. None: the recording is complete.

    Returns:
        Sessions in time order.

    Raises:
        InvalidProfile: resting_hr / max_hr inconsistent.
        InvalidSeries: mismatched lengths or unsorted times.
    """
    profile = HeartProfile(resting_hr=float(resting_hr), max_hr=float(max_hr))
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    if ok is None:
        ok = clean_hr(t, b, contact=contact).valid
    elif contact is not None:
        ok = ok & np.asarray(contact, dtype=np.bool_)
    table = minute_table(t, b, ok, profile=profile)
    return find_sessions(t, b, ok, table, trimp_k=trimp_k, data_end_s=data_end_s)


def session_rows(
    minutes: MinuteTable,
    *,
    min_sustained_minutes: int = MIN_SUSTAINED_MINUTES,
    max_rest_minutes: int = MAX_REST_MINUTES,
    max_hole_s: float = MAX_HOLE_S,
    still_bpm: float | None = None,
) -> list[tuple[int, int]]:
    """Row ranges (first and last still-exercising minute, inclusive) of the sessions in a minute table.

    Args:
        minutes: the minute table (rows in time order).
        min_sustained_minutes: consecutive heartbeat-up minutes that start a session.
        max_rest_minutes: longest run of minutes below ``still_bpm`` (missing minutes included) that does
            not split.
        max_hole_s: longest time between valid samples that does not split.
        still_bpm: the still-exercising level (default 30 % HRR of the table's profile).

    Returns:
        ``(first_row, last_row)`` per session, in time order.
    """
    still = minutes.profile.bpm_at(STILL_EXERCISING_HRR) if still_bpm is None else still_bpm
    up_mask = minutes.up
    active = np.flatnonzero(up_mask | (np.nan_to_num(minutes.mean_bpm, nan=-1.0) >= still))
    if not up_mask.any():
        return []
    index = np.rint(minutes.minute_start_s / MINUTE_S).astype(np.int64)
    with_data = np.flatnonzero(np.isfinite(minutes.first_valid_s))
    hole_ends = np.zeros(len(minutes), dtype=np.int64)
    hole_ends[with_data[1:]] = (
        minutes.first_valid_s[with_data[1:]] - minutes.last_valid_s[with_data[:-1]] > max_hole_s
    )
    holes_up_to = np.cumsum(hole_ends)

    def breaks(rows: NDArray[np.intp], longest_rest: int) -> NDArray[np.bool_]:
        hole_between = holes_up_to[rows[1:]] > holes_up_to[rows[:-1]]
        return (np.diff(index[rows]) - 1 > longest_rest) | hole_between

    splits = breaks(active, max_rest_minutes)
    group = np.concatenate(([0], np.cumsum(splits)))
    up = np.flatnonzero(up_mask)
    run_first = np.flatnonzero(np.concatenate(([True], breaks(up, 0))))
    run_length = np.diff(np.append(run_first, up.size))
    seeds = up[run_first[run_length >= min_sustained_minutes]]  # up rows are active rows too
    qualifying = np.unique(group[np.searchsorted(active, seeds)])
    first = active[np.flatnonzero(np.concatenate(([True], splits)))]
    last = active[np.flatnonzero(np.append(splits, True))]
    return [(int(first[g]), int(last[g])) for g in qualifying]


def find_sessions(
    t_s: ArrayLike,
    bpm: ArrayLike,
    valid: ArrayLike,
    minutes: MinuteTable,
    *,
    trimp_k: float = TRIMP_K_MALE,
    max_cover_s: float = MAX_COVER_S,
    data_end_s: float | None = None,
) -> list[Session]:
    """Sessions from an existing minute table of the same samples (no second pass over the minutes).

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        valid: per-sample validity used to build ``minutes``.
        minutes: ``minute_table(t_s, bpm, valid, profile=...)``.
        trimp_k: Banister exponent.
        max_cover_s: longest time one sample stands for.
        data_end_s: the time up to which data would have arrived (see ``detect_sessions``).

    Returns:
        Sessions in time order, each summarised with load and recovery.
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    assert ok is not None
    last_valid = int(t.size - 1 - np.argmax(ok[::-1])) if data_end_s is not None and ok.any() else -1
    live = last_valid >= 0 and data_end_s is not None and data_end_s - t[last_valid] <= MAX_HOLE_S
    sessions: list[Session] = []
    for rows in session_rows(minutes):  # one iteration per session
        after = sessions[-1].end_s if sessions else -np.inf
        sessions.append(
            _detected(t, b, ok, minutes, rows, after, last_valid if live else -1, trimp_k, max_cover_s)
        )
    return sessions


def _detected(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    ok: NDArray[np.bool_],
    minutes: MinuteTable,
    rows: tuple[int, int],
    after_s: float,
    live_last: int,
    trimp_k: float,
    max_cover_s: float,
) -> Session:
    """The session of a row range: back-dated start, end at the last still-exercising moment (or, when
    ``live_last`` >= 0 is the newest sample of data still arriving and the session reaches it, in progress
    up to it), then its statistics and recovery."""
    starts, still = minutes.minute_start_s, minutes.profile.bpm_at(STILL_EXERCISING_HRR)
    lo = int(np.searchsorted(t, max(starts[rows[0]] - BACKDATE_MAX_S, after_s)))
    hi = int(np.searchsorted(t, starts[rows[1]] + MINUTE_S + RECOVERY_AFTER_S + max_cover_s))
    idx = lo + np.flatnonzero(ok[lo:hi])  # valid samples of the neighbourhood
    tv, bv = t[idx], b[idx].astype(np.float64)
    level = smooth(tv, bv, SMOOTH_S)
    first = _rise_start(tv, bv, level, _first_at_level(tv, level, still, starts[rows[0]], first=True))
    end_i = int(idx[_first_at_level(tv, level, still, starts[rows[1]], first=False)])
    in_progress = (
        live_last >= 0
        and t[live_last] - t[end_i] <= PENDING_S
        and not np.any(np.diff(t[end_i : live_last + 1][ok[end_i : live_last + 1]]) > MAX_HOLE_S)
    )
    if in_progress:
        end_i = live_last
    spacing = t[end_i + 1] - t[end_i] if end_i + 1 < t.size else np.inf
    end_s = float(t[end_i] + (spacing / 2 if spacing <= max_cover_s else 0.0))  # its covered time
    return _summarise(
        t, b, ok, (int(idx[first]), end_i + 1), (float(tv[first]), end_s), minutes,
        trimp_k=trimp_k, max_cover_s=max_cover_s, in_progress=bool(in_progress),
        recovery_data=(tv[first:], bv[first:], level[first:]),
    )  # fmt: skip


def _first_at_level(
    tv: NDArray[np.float64], level: NDArray[np.float64], still: float, minute_s: float, *, first: bool
) -> int:
    """Index of the first (or last) sample of a still-exercising minute whose 10-s mean is at the level;
    the last one followed on into the next minute while the 10-s means stay there (a minute judged by its
    mean would otherwise cut the end of a session at the minute's edge), never across a hole."""
    a, z = np.searchsorted(tv, minute_s), np.searchsorted(tv, minute_s + MINUTE_S)
    hits = np.flatnonzero(level[a:z] >= still)
    if not hits.size:
        return int(a if first else z - 1)  # the minute's mean is at the level, no 10-s mean is: its edge
    if first:
        return int(a + hits[0])
    last = int(a + hits[-1])
    below = np.flatnonzero((level[last:] < still) | (np.diff(tv[last:], append=np.inf) > MAX_HOLE_S))
    return last + int(below[0]) - (1 if level[last + int(below[0])] < still else 0)


def _rise_start(tv: NDArray[np.float64], bv: NDArray[np.float64], level: NDArray[np.float64], g0: int) -> int:
    """Where the sustained rise into sample ``g0`` began: back over falling 10-s means to the lowest level
    before the climb (the latest moment within ``BASELINE_TOL_BPM`` of it), stopping at a hole, at an
    earlier bout (HR ``EARLIER_BOUT_BPM`` above the lowest since) and at the neighbourhood's start; then,
    as a centred mean starts climbing half a window early, the first sample there that has left that level.
    """
    holes = np.flatnonzero(np.diff(tv[: g0 + 1]) > MAX_HOLE_S)
    lo = int(holes[-1]) + 1 if holes.size else 0
    back = level[lo : g0 + 1][::-1]
    lowest = np.minimum.accumulate(back)
    earlier = np.flatnonzero(back - lowest > EARLIER_BOUT_BPM)
    n = int(earlier[0]) if earlier.size else back.size
    base = lowest[n - 1] + BASELINE_TOL_BPM
    j = g0 - int(np.argmax(back[:n] <= base))
    ahead = int(np.searchsorted(tv, tv[j] + SMOOTH_S, side="right"))
    left = np.flatnonzero(bv[j:ahead] > base)
    return j + int(left[0]) if left.size else j


def summarise_session(
    t_s: ArrayLike,
    bpm: ArrayLike,
    start_s: float,
    end_s: float,
    *,
    profile: HeartProfile,
    valid: ArrayLike | None = None,
    trimp_k: float = TRIMP_K_MALE,
) -> Session:
    """Statistics of a span the user set (edited, merged or manual session), computed like detected ones.

    Pass the samples of the span and of the few minutes after it, so recovery can be measured.

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        start_s: session start (s).
        end_s: session end (s); recovery is measured from the final fall before it.
        profile: resting HR and HRmax.
        valid: optional validity; ``clean_hr`` decides when absent.
        trimp_k: Banister exponent.

    Returns:
        The Session for that span (zero minutes and NaN bpm when it holds no valid data).
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    ok = clean_hr(t, b).valid if ok is None else ok
    lo, hi = int(np.searchsorted(t, start_s)), int(np.searchsorted(t, end_s))
    minutes = minute_table(t[lo:hi], b[lo:hi], ok[lo:hi], profile=profile)
    span = (float(start_s), float(end_s))
    return _summarise(t, b, ok, (lo, hi), span, minutes, trimp_k=trimp_k, max_cover_s=MAX_COVER_S)


def counted_minutes(minutes: MinuteTable, start_s: float, end_s: float) -> NDArray[np.int8]:
    """Zones of the heartbeat-up minutes a session counts: those whose middle lies in ``[start_s, end_s)``,
    at most as many as the session lasts whole minutes (the least covered edge minute goes first)."""
    lo = int(np.searchsorted(minutes.minute_start_s, start_s - MINUTE_S / 2))
    hi = int(np.searchsorted(minutes.minute_start_s, end_s - MINUTE_S / 2))
    zone = minutes.take(slice(lo, hi)).zone  # only the session's rows: a year's table is long
    rows = np.flatnonzero(zone)
    if rows.size * MINUTE_S > end_s - start_s and rows.size:
        first, last = minutes.minute_start_s[lo + rows[[0, -1]]]
        inside_first = min(first + MINUTE_S, end_s) - max(first, start_s)
        inside_last = min(last + MINUTE_S, end_s) - max(last, start_s)
        rows = rows[1:] if inside_first <= inside_last else rows[:-1]
    return zone[rows]


def _summarise(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    ok: NDArray[np.bool_],
    rows: tuple[int, int],
    span: tuple[float, float],
    minutes: MinuteTable,
    *,
    trimp_k: float,
    max_cover_s: float,
    in_progress: bool = False,
    recovery_data: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> Session:
    """Stats of the samples ``t[lo:hi]`` of the span ``(start_s, end_s)`` and its minutes, plus recovery
    (from ``recovery_data``, the valid samples from the start with their 10-s means, when given)."""
    (lo, hi), (start_s, end_s) = rows, span
    profile = minutes.profile
    inside = ok[lo:hi]
    ts, bs = t[lo:hi], b[lo:hi]
    cover = cover_of_sorted(ts, max_cover_s)[inside]
    bv = bs[inside].astype(np.float64)
    zone = counted_minutes(minutes, start_s, end_s)
    if in_progress:
        rec = Recovery(None, None, None, None, None, NOTE_PENDING)
    else:
        if recovery_data is None:
            after = int(np.searchsorted(t, end_s + RECOVERY_AFTER_S, side="right"))
            keep = ok[lo:after]
            tv, bvv = t[lo:after][keep], b[lo:after][keep].astype(np.float64)
            recovery_data = (tv, bvv, smooth(tv, bvv, SMOOTH_S))
        tv, bvv, level = recovery_data
        still = profile.bpm_at(STILL_EXERCISING_HRR)
        rec = _session_recovery(tv, bvv, start_s, end_s, profile.threshold_bpm, still, level)
    covered_s = float(cover.sum())
    return Session(
        start_s=start_s,
        end_s=end_s,
        heartbeat_up_minutes=int(zone.size),
        avg_bpm=float(np.dot(bv, cover) / covered_s) if covered_s > 0 else float("nan"),
        max_bpm=float(bv.max()) if bv.size else float("nan"),
        hrr60_bpm=rec.hrr60_bpm,
        moderate_minutes=int(np.count_nonzero(zone == 1)),
        vigorous_minutes=int(np.count_nonzero(zone == 2)),
        peak_minutes=int(np.count_nonzero(zone == 3)),
        trimp=trimp_of_cover(cover, bv, profile=profile, k=trimp_k),
        hrr120_bpm=rec.hrr120_bpm,
        recovery_tau_s=rec.tau_s,
        recovery_fit_r2=rec.fit.r2 if rec.fit else None,
        end_of_effort_s=rec.end_of_effort_s,
        recovery_fit=rec.fit,
        in_progress=in_progress,
        recovery_note=rec.note,
        end_of_effort_bpm=rec.peak_bpm,
    )


def without_corrected(
    detected: Sequence[Session], corrected_spans: Sequence[tuple[float, float]]
) -> list[Session]:
    """Detected sessions that overlap no user-corrected span, so corrections survive recomputation.

    The service keeps the user's corrections (deleted, edited, merged or manual spans); after each
    detection it drops the detected sessions overlapping any of them and adds ``summarise_session`` of
    each kept user span.

    Args:
        detected: sessions from ``detect_sessions`` / ``find_sessions``.
        corrected_spans: ``(start_s, end_s)`` of every span the user touched.

    Returns:
        The detected sessions to keep, in their order.
    """
    if not corrected_spans:
        return list(detected)
    spans = np.asarray(corrected_spans, dtype=np.float64).reshape(-1, 2)
    return [s for s in detected if not np.any((spans[:, 0] < s.end_s) & (spans[:, 1] > s.start_s))]
