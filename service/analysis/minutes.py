"""Per-minute heart-rate table (storable, incrementally updatable) and its local-day and week totals.

Minutes are UTC clock minutes (multiples of 60 s of the time origin). Every IANA zone in use today has
a whole-minute UTC offset, so a local midnight is always a minute boundary and a day never splits a
minute; minutes are given to the day that holds their start. A sample covers the time until the next
sample, capped at ``max_cover_s``, so irregular sampling is time-weighted and a hole stays a hole.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import as_bpm, as_mask, as_times
from service.analysis.errors import InvalidSeries
from service.analysis.profile import HeartProfile

MINUTE_S = 60.0
UP_MIN_S = 30.0  # a heartbeat-up minute needs >= 30 s of valid HR at/above threshold (DESIGN.md)
MAX_COVER_S = 5.0  # a sample stands for at most 5 s; BLE straps notify about once a second
# WHO 2020 guidelines on physical activity: 150-300 min/week moderate, or an equivalent combination with
# vigorous activity counting double (Bull et al., Br J Sports Med 2020;54:1451-62).
WHO_LOW_MIN = 150
WHO_HIGH_MIN = 300

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class MinuteTable:
    """One row per clock minute holding samples; the columns are what the service stores.

    ``valid_s``, ``lost_contact_s``, bpm statistics and the valid-sample times do not depend on the
    profile; ``up_s`` and the zone seconds do, and must be recomputed when ``profile`` changes.
    """

    profile: HeartProfile
    minute_start_s: F64
    n_samples: NDArray[np.int32]
    valid_s: F32
    lost_contact_s: F32
    up_s: F32  # at or above 40 % HRR (= moderate_s + vigorous_s + peak_s)
    moderate_s: F32
    vigorous_s: F32
    peak_s: F32
    mean_bpm: F32  # time-weighted over valid data; NaN where none
    min_bpm: F32
    max_bpm: F32
    first_valid_s: F64  # time of the first / last valid sample in the minute, NaN where none
    last_valid_s: F64

    def __len__(self) -> int:
        return int(self.minute_start_s.size)

    @property
    def up(self) -> NDArray[np.bool_]:
        """Heartbeat-up minutes: at least 30 s of valid HR at or above the threshold."""
        return self.up_s >= UP_MIN_S

    @property
    def zone(self) -> NDArray[np.int8]:
        """Zone of each minute: 0 none, 1 moderate, 2 vigorous, 3 peak (the highest zone held >= 30 s)."""
        zone = self.up.astype(np.int8)
        zone[(self.vigorous_s + self.peak_s) >= UP_MIN_S] = 2
        zone[self.peak_s >= UP_MIN_S] = 3
        return zone

    def take(self, rows: NDArray[np.intp] | NDArray[np.bool_] | slice) -> MinuteTable:
        """The table restricted to some rows (index array, mask or slice)."""
        return MinuteTable(
            profile=self.profile,
            **{f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "profile"},
        )


def minute_table(
    t_s: ArrayLike,
    bpm: ArrayLike,
    valid: ArrayLike,
    *,
    profile: HeartProfile,
    contact: ArrayLike | None = None,
    max_cover_s: float = MAX_COVER_S,
    start_s: float | None = None,
    end_s: float | None = None,
) -> MinuteTable:
    """Summarise samples into clock minutes: valid, up and zone seconds, bpm statistics, contact loss.

    For incremental updates, recompute the minutes touched by new samples: pass samples from
    ``max_cover_s`` before ``start_s`` up to (and one past) ``end_s``; only minutes starting in
    ``[start_s, end_s)`` are returned, then ``merge_minutes`` them into the stored table.

    Args:
        t_s: sample times (s), non-decreasing.
        bpm: heart rate per sample.
        valid: per-sample validity (``clean_hr(...).valid``); invalid samples count as holes.
        profile: resting HR and HRmax that place the threshold and zone edges.
        contact: optional per-sample sensor contact (False = lost), for ``lost_contact_s``.
        max_cover_s: longest time one sample stands for; the last sample covers as its predecessor did.
        start_s: drop minutes starting before this (s).
        end_s: drop minutes starting at or after this (s).

    Returns:
        MinuteTable with one row per minute that holds at least one sample, in time order.

    Raises:
        InvalidSeries: mismatched lengths, times not sorted, or max_cover_s outside (0, 60].
    """
    if not 0.0 < max_cover_s <= MINUTE_S:
        raise InvalidSeries("max_cover_s", "must lie in (0, 60]")
    t = as_times(t_s)
    n = t.size
    b = as_bpm(bpm, n)
    ok = as_mask(valid, n, "valid")
    lost = as_mask(contact, n, "contact")
    assert ok is not None
    if n == 0:
        return _empty(profile)
    cover = _coverage(t, max_cover_s)
    first, last, start = _minute_segments(t)
    spill = np.maximum(t[last] + cover[last] - (start + MINUTE_S), 0.0)  # coverage running into next minute
    spill_in = np.zeros_like(spill)
    spill_in[1:] = np.where(start[1:] - start[:-1] == MINUTE_S, spill[:-1], 0.0)  # else dropped: no row
    ones = np.ones(first.size)

    def per_minute(weighted: F32, at_last: NDArray[np.float64]) -> F64:
        total = np.add.reduceat(weighted, first).astype(np.float64) - spill * at_last
        total[1:] += spill_in[1:] * at_last[:-1]
        return np.maximum(total, 0.0)

    lost_s = np.zeros(first.size)
    if lost is not None:
        lost_s = per_minute(cover * ~lost, ~lost[last] * ones)
    bq = b.copy() if np.may_share_memory(b, bpm) else b  # private copy: invalid samples get NaN, then 0
    invalid = ~ok
    np.copyto(bq, np.float32(np.nan), where=invalid)
    min_bpm, max_bpm = np.fmin.reduceat(bq, first), np.fmax.reduceat(bq, first)
    np.copyto(bq, np.float32(0.0), where=invalid)
    np.multiply(cover, ok, out=cover)  # from here on: seconds of VALID coverage
    ok_last = ok[last] * ones
    valid_s = per_minute(cover, ok_last)
    bpm_s = per_minute(np.multiply(cover, bq, out=np.empty_like(cover)), bq[last] * ok_last)
    mean_bpm = np.full(first.size, np.nan)
    np.divide(bpm_s, valid_s, out=mean_bpm, where=valid_s > 0)
    above = _seconds_above(
        cover, bq, first, last, spill, spill_in, max_bpm,
        (profile.threshold_bpm, profile.vigorous_bpm, profile.peak_bpm),
    )  # fmt: skip
    first_valid, last_valid = _valid_times(t, ok, first, last)
    table = MinuteTable(
        profile=profile,
        minute_start_s=start,
        n_samples=(last - first + 1).astype(np.int32),
        valid_s=valid_s.astype(np.float32),
        lost_contact_s=np.asarray(lost_s, dtype=np.float32),
        up_s=above[0].astype(np.float32),
        moderate_s=(above[0] - above[1]).astype(np.float32),
        vigorous_s=(above[1] - above[2]).astype(np.float32),
        peak_s=above[2].astype(np.float32),
        mean_bpm=mean_bpm.astype(np.float32),
        min_bpm=min_bpm,
        max_bpm=max_bpm,
        first_valid_s=first_valid,
        last_valid_s=last_valid,
    )
    if start_s is None and end_s is None:
        return table
    lo = -np.inf if start_s is None else float(start_s)
    hi = np.inf if end_s is None else float(end_s)
    return table.take((start >= lo) & (start < hi))


def _coverage(t: F64, max_cover_s: float) -> F32:
    """Seconds each sample stands for: until the next sample, at most ``max_cover_s``."""
    cover = np.empty(t.size, dtype=np.float32)
    if t.size > 1:
        np.subtract(t[1:], t[:-1], out=cover[:-1], casting="unsafe")
        np.minimum(cover[:-1], np.float32(max_cover_s), out=cover[:-1])
        cover[-1] = cover[-2]
    else:
        cover[-1] = min(1.0, max_cover_s)
    return cover


def _minute_segments(t: F64) -> tuple[NDArray[np.intp], NDArray[np.intp], F64]:
    """First and last sample index and start time of every minute holding samples (t sorted)."""
    minute = np.divide(t, MINUTE_S)  # divide + floor: several times faster than np.floor_divide on floats
    np.floor(minute, out=minute)
    first = np.flatnonzero(minute[1:] != minute[:-1]) + 1
    first = np.concatenate(([0], first))
    last = np.concatenate((first[1:] - 1, [t.size - 1]))
    return first, last, minute[first] * MINUTE_S


def _seconds_above(
    cover: F32,
    bq: F32,
    first: NDArray[np.intp],
    last: NDArray[np.intp],
    spill: F64,
    spill_in: F64,
    max_bpm: F32,
    edges_bpm: tuple[float, ...],
) -> list[F64]:
    """Valid seconds at or above each edge per minute, summing only minutes whose max reaches the edge."""
    hot = np.flatnonzero(max_bpm >= edges_bpm[0])  # rest minutes cannot contribute: skip their samples
    lengths = last[hot] - first[hot] + 1
    idx = np.arange(int(lengths.sum())) + np.repeat(first[hot] - np.cumsum(lengths) + lengths, lengths)
    cover_h, bpm_h = cover[idx], bq[idx]
    starts_h = np.cumsum(lengths) - lengths
    out = []
    for edge in edges_bpm:  # three zone edges
        total = np.zeros(first.size)
        if hot.size:
            total[hot] = np.add.reduceat(cover_h * (bpm_h >= edge), starts_h)
        at_last = (bq[last] >= edge).astype(np.float64)
        total -= spill * at_last
        total[1:] += spill_in[1:] * at_last[:-1]
        out.append(np.maximum(total, 0.0))
    return out


def _valid_times(
    t: F64, ok: NDArray[np.bool_], first: NDArray[np.intp], last: NDArray[np.intp]
) -> tuple[F64, F64]:
    """Time of the first and last valid sample of each minute (NaN for a minute without one)."""
    flips = np.flatnonzero(ok[1:] != ok[:-1]) + 1
    bounds = np.concatenate(([0], flips, [t.size]))
    bad = ~ok[bounds[:-1]]
    bad_first, bad_last = bounds[:-1][bad], bounds[1:][bad] - 1  # runs of invalid samples
    first_ok = first.copy()
    hit = ~ok[first]
    run = np.searchsorted(bad_first, first[hit], side="right") - 1
    first_ok[hit] = bad_last[run] + 1
    last_ok = last.copy()
    hit_last = ~ok[last]
    run = np.searchsorted(bad_first, last[hit_last], side="right") - 1
    last_ok[hit_last] = bad_first[run] - 1
    none = first_ok > last
    first_times = t[np.minimum(first_ok, t.size - 1)]
    last_times = t[np.maximum(last_ok, 0)]
    first_times[none] = np.nan
    last_times[none] = np.nan
    return first_times, last_times


def _empty(profile: HeartProfile) -> MinuteTable:
    """A table with no rows."""
    f32, f64 = np.zeros(0, np.float32), np.zeros(0, np.float64)
    return MinuteTable(profile, f64, np.zeros(0, np.int32), *(f32,) * 9, f64, f64)


def merge_minutes(stored: MinuteTable, fresh: MinuteTable) -> MinuteTable:
    """Stored minutes updated by freshly computed ones: a fresh row replaces the stored row of its minute.

    Raises:
        InvalidSeries: the tables were computed with different profiles (zone columns would not agree).
    """
    if stored.profile != fresh.profile:
        raise InvalidSeries("fresh", "computed with a different profile; recompute the stored table")
    keep = ~np.isin(stored.minute_start_s, fresh.minute_start_s)
    both = {
        f.name: np.concatenate((getattr(stored, f.name)[keep], getattr(fresh, f.name)))
        for f in fields(stored)
        if f.name != "profile"
    }
    order = np.argsort(both["minute_start_s"], kind="stable")
    return MinuteTable(profile=fresh.profile, **{k: v[order] for k, v in both.items()})


@dataclass(frozen=True)
class DayTotals:
    """Per local day counts of minutes (arrays of length D, one per day between consecutive edges)."""

    day_start_s: F64
    heartbeat_up_minutes: NDArray[np.int32]
    moderate_minutes: NDArray[np.int32]
    vigorous_minutes: NDArray[np.int32]
    peak_minutes: NDArray[np.int32]
    active_zone_points: NDArray[np.int32]  # moderate x1, vigorous and peak x2 (Fitbit Active Zone Minutes)
    valid_minutes: NDArray[np.int32]  # minutes with >= 30 s of valid data
    lost_contact_minutes: NDArray[np.int32]  # minutes with >= 30 s of reported contact loss

    def target_met(self, target_minutes: int = 60) -> NDArray[np.bool_]:
        """Whether each day reached the daily heartbeat-up target."""
        return self.heartbeat_up_minutes >= target_minutes


def day_totals(minutes: MinuteTable, day_edges_s: ArrayLike) -> DayTotals:
    """Count each local day's heartbeat-up, zone, valid and lost-contact minutes.

    A minute belongs to the day holding its start, so a workout across local midnight splits by minute,
    and 23- or 25-hour days (daylight-saving changes) need nothing special: the caller computes the
    edges with zoneinfo at the service's edge.

    Args:
        minutes: the minute table.
        day_edges_s: D+1 strictly increasing local-midnight times (s) delimiting D days.

    Returns:
        DayTotals for the D days; minutes outside the edges are ignored.

    Raises:
        InvalidSeries: fewer than two edges, or edges not strictly increasing.
    """
    edges = np.asarray(day_edges_s, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise InvalidSeries("day_edges_s", "need at least two strictly increasing edges")
    n_days = edges.size - 1
    day = np.searchsorted(edges, minutes.minute_start_s, side="right") - 1
    inside = (day >= 0) & (day < n_days)
    day = day[inside]
    zone = minutes.zone[inside]

    def count(mask: NDArray[np.bool_]) -> NDArray[np.int32]:
        return np.bincount(day[mask], minlength=n_days).astype(np.int32)

    moderate, vigorous, peak = count(zone == 1), count(zone == 2), count(zone == 3)
    return DayTotals(
        day_start_s=edges[:-1].copy(),
        heartbeat_up_minutes=count(zone > 0),
        moderate_minutes=moderate,
        vigorous_minutes=vigorous,
        peak_minutes=peak,
        active_zone_points=(moderate + 2 * (vigorous + peak)).astype(np.int32),
        valid_minutes=count(minutes.valid_s[inside] >= UP_MIN_S),
        lost_contact_minutes=count(minutes.lost_contact_s[inside] >= UP_MIN_S),
    )


@dataclass(frozen=True)
class WeekSummary:
    """A week's activity against the WHO band of 150-300 moderate-equivalent minutes."""

    heartbeat_up_minutes: int
    moderate_minutes: int
    vigorous_minutes: int  # vigorous and peak zones
    equivalent_minutes: int  # moderate + 2 x vigorous, as WHO counts a vigorous minute double
    band_low_min: int
    band_high_min: int
    status: Literal["below", "within", "above"]
    minutes_to_band: int  # equivalent minutes still missing to reach the band's low end (0 if reached)


def week_summary(totals: DayTotals) -> WeekSummary:
    """Sum the given days (pass seven) and place them against the WHO 2020 weekly band (Bull et al. 2020)."""
    moderate = int(totals.moderate_minutes.sum())
    vigorous = int(totals.vigorous_minutes.sum() + totals.peak_minutes.sum())
    equivalent = moderate + 2 * vigorous
    status: Literal["below", "within", "above"] = (
        "below" if equivalent < WHO_LOW_MIN else "above" if equivalent > WHO_HIGH_MIN else "within"
    )
    return WeekSummary(
        heartbeat_up_minutes=int(totals.heartbeat_up_minutes.sum()),
        moderate_minutes=moderate,
        vigorous_minutes=vigorous,
        equivalent_minutes=equivalent,
        band_low_min=WHO_LOW_MIN,
        band_high_min=WHO_HIGH_MIN,
        status=status,
        minutes_to_band=max(0, WHO_LOW_MIN - equivalent),
    )
