"""Clock minutes recomputed from raw samples around new ones, for one user and one span of time.

New samples can change the cleaning's verdict on samples nearby, so the minutes within MARGIN_S of a new
sample are recomputed, from samples read with as much context again on each side; the result equals a full
recomputation (tests/service/test_rollups.py). Stateless: the scheduler (service.pipeline.scheduler) decides
when and holds the locks; these functions read, count and write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from service.analysis.cleaning import FROZEN_S, MAX_EXCURSION_S, clean_hr
from service.analysis.minutes import MAX_COVER_S, MinuteTable, minute_table
from service.analysis.profile import HeartProfile, build_profile
from service.core.models import MinuteRollup, User
from service.pipeline.ingest import CleanSample
from service.pipeline.samples import load_samples

MINUTE_S = 60
# New samples can change the cleaning's verdict on samples at most this far away (a frozen run reaching
# FROZEN_S, an excursion closing within MAX_EXCURSION_S); minutes within it are recomputed, with as much
# context again on each side. tests/service/test_rollups.py checks the result equals a full recomputation.
MARGIN_S = int(FROZEN_S + MAX_EXCURSION_S + 2 * MAX_COVER_S)
# A span of new samples longer than this is counted in pieces, so memory stays bounded for a year-long import.
CHUNK_S = 6 * 3600.0

Span = tuple[float, float]


def profile_for(user: User, *, today: dt.date | None = None) -> HeartProfile:
    """The profile every rollup of the user is computed with: the user's values, else the data's."""
    year = (today or dt.date.today()).year
    return build_profile(
        user_resting_hr=user.resting_hr,
        user_max_hr=user.max_hr,
        age_years=(year - user.birth_year)
        if user.birth_year and 10 <= year - user.birth_year <= 100
        else None,
        estimated_resting_hr=user.estimated_resting_hr,
        observed_max_bpm=user.observed_max_hr,
    )


def minute_window(t0_s: float, t1_s: float) -> Span:
    """The whole clock minutes samples between t0_s and t1_s can change: MARGIN_S on each side."""
    lo = (np.floor((t0_s - MARGIN_S) / MINUTE_S)) * MINUTE_S
    hi = (np.floor((t1_s + MARGIN_S) / MINUTE_S) + 1) * MINUTE_S
    return float(lo), float(hi)


def count_minutes(
    db: Session, user_id: int, lo: float, hi: float, profile: HeartProfile
) -> list[dict[str, object]]:
    """The minute rows of [lo, hi), counted from the samples around it; reads, computes, writes nothing.

    On SQLite a read begins no transaction, so this needs no writer lock: the numpy work runs while other
    users' uploads are written.
    """
    data = load_samples(db, user_id, lo - MARGIN_S, hi + MARGIN_S)
    valid = clean_hr(data.t_s, data.bpm, contact=data.contact).valid
    table = minute_table(
        data.t_s, data.bpm, valid, profile=profile, contact=data.contact, start_s=lo, end_s=hi
    )
    return minute_rows(user_id, table)


def replace_minutes(db: Session, user_id: int, lo: float, hi: float, rows: list[dict[str, object]]) -> None:
    """The stored minutes of [lo, hi) become `rows` (in the caller's transaction, under its writer lock)."""
    db.execute(
        delete(MinuteRollup).where(
            MinuteRollup.user_id == user_id, MinuteRollup.minute_s >= lo, MinuteRollup.minute_s < hi
        )
    )
    if rows:
        db.execute(insert(MinuteRollup), rows)


def minute_rows(user_id: int, table: MinuteTable) -> list[dict[str, object]]:
    """A minute table as MinuteRollup rows (NaN stored as NULL)."""

    def opt(x: float) -> float | None:
        return None if not np.isfinite(x) else float(x)

    zone = table.zone
    return [
        {
            "user_id": user_id,
            "minute_s": int(round(table.minute_start_s[i])),
            "n_samples": int(table.n_samples[i]),
            "zone": int(zone[i]),
            "valid_s": float(table.valid_s[i]),
            "lost_contact_s": float(table.lost_contact_s[i]),
            "up_s": float(table.up_s[i]),
            "moderate_s": float(table.moderate_s[i]),
            "vigorous_s": float(table.vigorous_s[i]),
            "peak_s": float(table.peak_s[i]),
            "mean_bpm": opt(table.mean_bpm[i]),
            "min_bpm": opt(table.min_bpm[i]),
            "max_bpm": opt(table.max_bpm[i]),
        }
        for i in range(len(table))
    ]


def merge_spans(spans: Iterable[Span], gap_s: float = 2 * MARGIN_S, max_len_s: float = CHUNK_S) -> list[Span]:
    """Spans closer than `gap_s` merged (their recomputed windows overlap), then cut to at most `max_len_s`."""
    merged: list[list[float]] = []
    for lo, hi in sorted(spans):
        if merged and lo - merged[-1][1] <= gap_s:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    out: list[Span] = []
    for lo, hi in merged:
        while hi - lo > max_len_s:
            out.append((lo, lo + max_len_s))
            lo += max_len_s
        out.append((lo, hi))
    return out


def sample_spans(samples: Sequence[CleanSample]) -> list[Span]:
    """The spans a batch's samples cover (see time_clusters), in seconds."""
    if not samples:
        return []
    return time_clusters(np.fromiter((s.t_ms for s in samples), np.float64, len(samples)) / 1000.0)


def time_clusters(t_s: NDArray[np.float64], gap_s: float = 2 * MARGIN_S) -> list[tuple[float, float]]:
    """Spans of times whose neighbours are less than `gap_s` apart (their recomputed windows overlap)."""
    if t_s.size == 0:
        return []
    t = np.sort(t_s)
    breaks = np.flatnonzero(np.diff(t) > gap_s)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [t.size - 1]))
    return [(float(t[a]), float(t[b])) for a, b in zip(starts, ends, strict=True)]
