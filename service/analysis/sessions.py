"""Workout sessions found in heart rate, with their load and recovery, and helpers for user corrections.

Rules (DESIGN.md): a session starts once HR has held the threshold (40 % HRR) for 5 minutes, counted
from the first of them; rests below threshold of up to 5 minutes do not split it; it ends at the last
moment above threshold before more than 5 minutes below, or at a hole in the data longer than 2 minutes.
Minutes here are heartbeat-up clock minutes (>= 30 s at or above threshold), so a rest of up to 5
minutes leaves at most 5 non-up minutes and never splits, while a rest over 6 minutes always does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import as_bpm, as_mask, as_times, clean_hr
from service.analysis.minutes import MAX_COVER_S, MINUTE_S, MinuteTable, minute_table
from service.analysis.profile import HeartProfile
from service.analysis.recovery import FIT_S, LOOKBACK_S, Recovery, RecoveryFit, _end_of_effort, _recovery
from service.analysis.trimp import TRIMP_K_MALE, banister_trimp

MIN_SUSTAINED_MINUTES = 5
MAX_REST_MINUTES = 5
MAX_HOLE_S = 120.0
RECOVERY_AFTER_S = FIT_S + 120.0  # samples kept after a session's end for its recovery


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
    return find_sessions(t, b, ok, minute_table(t, b, ok, profile=profile), trimp_k=trimp_k)


def session_rows(
    minutes: MinuteTable,
    *,
    min_sustained_minutes: int = MIN_SUSTAINED_MINUTES,
    max_rest_minutes: int = MAX_REST_MINUTES,
    max_hole_s: float = MAX_HOLE_S,
) -> list[tuple[int, int]]:
    """Row ranges (first and last heartbeat-up minute, inclusive) of the sessions in a minute table.

    Args:
        minutes: the minute table (rows in time order).
        min_sustained_minutes: consecutive heartbeat-up minutes that start a session.
        max_rest_minutes: longest run of non-up minutes (missing minutes included) that does not split.
        max_hole_s: longest time between valid samples that does not split.

    Returns:
        ``(first_row, last_row)`` per session, in time order.
    """
    up = np.flatnonzero(minutes.up)
    if up.size == 0:
        return []
    index = np.rint(minutes.minute_start_s / MINUTE_S).astype(np.int64)
    with_data = np.flatnonzero(np.isfinite(minutes.first_valid_s))
    hole_ends = np.zeros(len(minutes), dtype=np.int64)
    hole_ends[with_data[1:]] = (
        minutes.first_valid_s[with_data[1:]] - minutes.last_valid_s[with_data[:-1]] > max_hole_s
    )
    holes_up_to = np.cumsum(hole_ends)
    hole_between = holes_up_to[up[1:]] > holes_up_to[up[:-1]]
    step = np.diff(index[up])
    splits = (step - 1 > max_rest_minutes) | hole_between
    group = np.concatenate(([0], np.cumsum(splits)))
    run_first = np.flatnonzero(np.concatenate(([True], (step != 1) | hole_between)))
    run_length = np.diff(np.append(run_first, up.size))
    qualifying = run_first[run_length >= min_sustained_minutes]
    groups, first_of_group = np.unique(group[qualifying], return_index=True)
    group_last = np.flatnonzero(np.append(splits, True))  # last up index of every group
    return [
        (int(up[qualifying[i]]), int(up[group_last[g]])) for g, i in zip(groups, first_of_group, strict=True)
    ]


def find_sessions(
    t_s: ArrayLike,
    bpm: ArrayLike,
    valid: ArrayLike,
    minutes: MinuteTable,
    *,
    trimp_k: float = TRIMP_K_MALE,
    max_cover_s: float = MAX_COVER_S,
) -> list[Session]:
    """Sessions from an existing minute table of the same samples (no second pass over the minutes).

    Args:
        t_s: sample times (s), sorted.
        bpm: heart rate per sample.
        valid: per-sample validity used to build ``minutes``.
        minutes: ``minute_table(t_s, bpm, valid, profile=...)``.
        trimp_k: Banister exponent.
        max_cover_s: longest time one sample stands for.

    Returns:
        Sessions in time order, each summarised with load and recovery.
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    assert ok is not None
    threshold = minutes.profile.threshold_bpm
    zone = minutes.zone
    sessions = []
    for first_row, last_row in session_rows(minutes):  # one iteration per session
        lo = np.searchsorted(t, minutes.minute_start_s[first_row])
        hi = np.searchsorted(t, minutes.minute_start_s[last_row] + MINUTE_S)
        up_idx = lo + np.flatnonzero(ok[lo:hi] & (b[lo:hi] >= threshold))
        start_i, end_i = int(up_idx[0]), int(up_idx[-1])
        gap_after = t[end_i + 1] - t[end_i] if end_i + 1 < t.size else t[end_i] - t[end_i - 1]
        end_s = float(t[end_i] + min(gap_after, max_cover_s))
        rows = slice(first_row, last_row + 1)
        sessions.append(
            _summarise(
                t,
                b,
                ok,
                float(t[start_i]),
                end_s,
                zone[rows],
                minutes.profile,
                trimp_k=trimp_k,
                max_cover_s=max_cover_s,
            )
        )
    return sessions


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
    lo, hi = np.searchsorted(t, start_s), np.searchsorted(t, end_s)
    minutes = minute_table(t[lo:hi], b[lo:hi], ok[lo:hi], profile=profile)
    return _summarise(
        t,
        b,
        ok,
        float(start_s),
        float(end_s),
        minutes.zone,
        profile,
        trimp_k=trimp_k,
        max_cover_s=MAX_COVER_S,
    )


def _summarise(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    ok: NDArray[np.bool_],
    start_s: float,
    end_s: float,
    zone: NDArray[np.int8],
    profile: HeartProfile,
    *,
    trimp_k: float,
    max_cover_s: float,
) -> Session:
    """Stats of [start_s, end_s) from samples and the span's minute zones, plus recovery after it."""
    lo, hi = np.searchsorted(t, start_s), np.searchsorted(t, end_s)
    inside = ok[lo:hi]
    ts, bs = t[lo:hi], b[lo:hi]
    cover = np.minimum(np.diff(np.append(ts, end_s)), max_cover_s)[inside]
    bv = bs[inside].astype(np.float64)
    # Recovery looks only at the valid samples of the session's end and the few minutes after it.
    lookback_s = min(LOOKBACK_S, end_s - start_s)
    near = slice(np.searchsorted(t, end_s - lookback_s), np.searchsorted(t, end_s + RECOVERY_AFTER_S))
    keep = ok[near]
    tv, bvv = t[near][keep], b[near][keep].astype(np.float64)
    eoe = _end_of_effort(tv, bvv, end_s, lookback_s)
    rec = _recovery(tv, bvv, eoe) if eoe is not None else Recovery(None, None, None, None, None)
    covered_s = float(cover.sum())
    return Session(
        start_s=start_s,
        end_s=end_s,
        heartbeat_up_minutes=int(np.count_nonzero(zone)),
        avg_bpm=float(np.dot(bv, cover) / covered_s) if covered_s > 0 else float("nan"),
        max_bpm=float(bv.max()) if bv.size else float("nan"),
        hrr60_bpm=rec.hrr60_bpm,
        moderate_minutes=int(np.count_nonzero(zone == 1)),
        vigorous_minutes=int(np.count_nonzero(zone == 2)),
        peak_minutes=int(np.count_nonzero(zone == 3)),
        trimp=banister_trimp(ts, bs, profile=profile, valid=inside, k=trimp_k, max_cover_s=max_cover_s),
        hrr120_bpm=rec.hrr120_bpm,
        recovery_tau_s=rec.tau_s,
        recovery_fit_r2=rec.fit.r2 if rec.fit else None,
        end_of_effort_s=rec.end_of_effort_s,
        recovery_fit=rec.fit,
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
