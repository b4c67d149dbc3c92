"""Per-minute heart-rate table (storable, incrementally updatable) and its local-day and week totals.

Minutes are UTC clock minutes (multiples of 60 s of the time origin). Every IANA zone in use today has
a whole-minute UTC offset, so a local midnight is always a minute boundary and a day never splits a
minute; minutes are given to the day that holds their start. A sample covers the time until the next
sample, capped at ``max_cover_s`` (the last sample covers nothing), so irregular sampling is time-weighted,
a hole stays a hole, and removing samples never adds time (min(x, cap) is subadditive).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import as_bpm, as_mask, as_times
from service.analysis.errors import InvalidSeries
from service.analysis.profile import HeartProfile

MINUTE_S = 60.0
UP_MIN_S = 30.0  # a heartbeat-up minute needs >= 30 s of valid HR at/above threshold (DESIGN.md)
MAX_COVER_S = 5.0  # a sample stands for at most 5 s; BLE straps notify about once a second
CHUNK_SAMPLES = 1 << 20  # per-sample work in cache-sized pieces
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

    def highest_clean_bpm(self, min_valid_s: float = UP_MIN_S) -> float | None:
        """Highest valid HR in minutes with at least ``min_valid_s`` of valid data (raises Tanaka's HRmax)."""
        covered = self.max_bpm[self.valid_s >= min_valid_s]
        covered = covered[np.isfinite(covered)]
        return float(covered.max()) if covered.size else None

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
    chunk_samples: int = CHUNK_SAMPLES,
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
        max_cover_s: longest time one sample stands for; the last sample stands for nothing (no next).
        start_s: drop minutes starting before this (s).
        end_s: drop minutes starting at or after this (s).
        chunk_samples: samples handled per piece (memory and cache use; the result does not depend on it).

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
    edges = (profile.threshold_bpm, profile.vigorous_bpm, profile.peak_bpm)
    # Per-sample work runs chunk by chunk (cut at minute boundaries): cache-sized temporaries, no
    # full-length copies; each chunk yields raw per-minute sums, corrected below for coverage that
    # runs from one minute into the next.
    pieces = _chunks(t, chunk_samples)
    longest = max(hi - lo for lo, hi in pieces)
    work = _Work(
        np.empty(longest),
        np.empty(longest, np.float32),
        np.empty(longest, np.float32),
        np.empty(longest, np.float32),
    )
    parts = [_chunk_sums(t, b, ok, lost, lo, hi, max_cover_s, edges, work) for lo, hi in pieces]
    col = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    first, last, start = col["first"], col["last"], col["start"]
    cover_last = np.minimum(
        np.where(last + 1 < n, t[np.minimum(last + 1, n - 1)] - t[last], np.inf), max_cover_s
    )
    cover_last[-1] = 0.0  # the very last sample has no next one: it stands for nothing
    spill = np.maximum(t[last] + cover_last - (start + MINUTE_S), 0.0)
    spill_in = np.zeros_like(spill)
    spill_in[1:] = np.where(start[1:] - start[:-1] == MINUTE_S, spill[:-1], 0.0)  # else dropped: no row

    def fix(total: F64, at_last: F64) -> F64:
        total = total - spill * at_last
        total[1:] += spill_in[1:] * at_last[:-1]
        return np.maximum(total, 0.0)

    ok_last = ok[last].astype(np.float64)
    bpm_last = np.where(ok[last], b[last], 0.0)
    valid_s = fix(col["valid"], ok_last)
    bpm_s = fix(col["bpm"], bpm_last)
    lost_s = fix(col["lost"], (~lost[last]).astype(np.float64)) if lost is not None else col["lost"]
    above = [fix(col[f"above{k}"], (bpm_last >= edge).astype(np.float64)) for k, edge in enumerate(edges)]
    mean_bpm = np.full(first.size, np.nan)
    np.divide(bpm_s, valid_s, out=mean_bpm, where=valid_s > 0)
    first_valid, last_valid = _valid_times(t, ok, first, last, col.pop("bad"))
    table = MinuteTable(
        profile=profile,
        minute_start_s=start,
        n_samples=(last - first + 1).astype(np.int32),
        valid_s=valid_s.astype(np.float32),
        lost_contact_s=lost_s.astype(np.float32),
        up_s=above[0].astype(np.float32),
        moderate_s=(above[0] - above[1]).astype(np.float32),
        vigorous_s=(above[1] - above[2]).astype(np.float32),
        peak_s=above[2].astype(np.float32),
        mean_bpm=mean_bpm.astype(np.float32),
        min_bpm=col["min"],
        max_bpm=col["max"],
        first_valid_s=first_valid,
        last_valid_s=last_valid,
    )
    if start_s is None and end_s is None:
        return table
    lo = -np.inf if start_s is None else float(start_s)
    hi = np.inf if end_s is None else float(end_s)
    return table.take((start >= lo) & (start < hi))


def _chunks(t: F64, size: int) -> list[tuple[int, int]]:
    """Sample ranges of about ``size`` samples, each starting at the first sample of a minute."""
    cuts = [0]
    for k in range(size, t.size, size):  # one iteration per chunk
        minute = np.floor(t[k] / MINUTE_S)
        cut = int(np.searchsorted(t, (minute + 1) * MINUTE_S))
        while cut < t.size and np.floor(t[cut - 1] / MINUTE_S) == np.floor(t[cut] / MINUTE_S):
            cut += 1  # guard against rounding right at a minute boundary
        if cuts[-1] < cut < t.size:
            cuts.append(cut)
    cuts.append(t.size)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


@dataclass(frozen=True)
class _Work:
    """Buffers reused by every chunk: allocating fresh ones per chunk costs more than the arithmetic."""

    minute: F64
    cover: F32
    bpm: F32
    product: F32


def _chunk_sums(
    t: F64,
    b: F32,
    ok: NDArray[np.bool_],
    lost: NDArray[np.bool_] | None,
    lo: int,
    hi: int,
    max_cover_s: float,
    edges: tuple[float, ...],
    work: _Work,
) -> dict[str, NDArray[Any]]:
    """Raw per-minute sums of samples lo..hi-1 (each sample's whole coverage counted in its minute)."""
    tc = t[lo:hi]
    m = tc.size
    cover, bq, product, minute = work.cover[:m], work.bpm[:m], work.product[:m], work.minute[:m]
    if hi < t.size:
        np.subtract(t[lo + 1 : hi + 1], tc, out=cover, casting="unsafe")
    else:
        np.subtract(tc[1:], tc[:-1], out=cover[:-1], casting="unsafe")
        cover[-1] = 0.0  # no next sample: nothing known after it (adding a hole never adds time)
    np.minimum(cover, np.float32(max_cover_s), out=cover)
    np.divide(tc, MINUTE_S, out=minute)
    np.floor(minute, out=minute)
    first = np.concatenate(([0], np.flatnonzero(minute[1:] != minute[:-1]) + 1))
    sums: dict[str, NDArray[Any]] = {
        "first": first + lo,
        "last": np.append(first[1:] - 1, m - 1) + lo,
        "start": minute[first] * MINUTE_S,
    }
    # Invalid and contact-lost samples are few: handle them by index, not with full-chunk masks.
    bad = np.flatnonzero(~ok[lo:hi])
    sums["bad"] = bad + lo
    sums["lost"] = np.zeros(first.size)
    if lost is not None:
        gone = np.flatnonzero(~lost[lo:hi])
        owner = np.searchsorted(first, gone, side="right") - 1
        sums["lost"] = np.bincount(owner, weights=cover[gone], minlength=first.size)
    np.copyto(bq, b[lo:hi])
    bq[bad] = np.nan
    sums["min"], sums["max"] = np.fmin.reduceat(bq, first), np.fmax.reduceat(bq, first)
    bq[bad] = 0.0
    cover[bad] = 0.0  # from here on: seconds of VALID coverage
    sums["valid"] = np.add.reduceat(cover, first).astype(np.float64)
    sums["bpm"] = np.add.reduceat(np.multiply(cover, bq, out=product), first).astype(np.float64)
    for k, total in enumerate(_seconds_above(cover, bq, first, sums["max"], edges)):
        sums[f"above{k}"] = total
    return sums


def _seconds_above(
    cover: F32, bq: F32, first: NDArray[np.intp], max_bpm: NDArray[Any], edges_bpm: tuple[float, ...]
) -> list[F64]:
    """Valid seconds at or above each edge per minute, summing only minutes whose max reaches the edge."""
    last = np.append(first[1:] - 1, cover.size - 1)
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
        out.append(total)
    return out


def _valid_times(
    t: F64, ok: NDArray[np.bool_], first: NDArray[np.intp], last: NDArray[np.intp], bad: NDArray[np.intp]
) -> tuple[F64, F64]:
    """Time of the first and last valid sample of each minute (NaN for a minute without one).

    ``bad`` holds the (sorted) indices of the invalid samples; their runs are found from it alone.
    """
    breaks = np.flatnonzero(np.diff(bad) != 1)
    bad_first = bad[np.concatenate(([0], breaks + 1))] if bad.size else bad
    bad_last = bad[np.concatenate((breaks, [bad.size - 1]))] if bad.size else bad
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
        return target_met(self.heartbeat_up_minutes, target_minutes)


def zone_points(moderate: ArrayLike, vigorous: ArrayLike, peak: ArrayLike) -> NDArray[np.int64]:
    """Active Zone Minutes as Fitbit counts them: a moderate minute is 1 point, a vigorous or peak minute 2."""
    return np.asarray(moderate, dtype=np.int64) + 2 * (
        np.asarray(vigorous, dtype=np.int64) + np.asarray(peak)
    )


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
        active_zone_points=zone_points(moderate, vigorous, peak).astype(np.int32),
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


def target_met(minutes: ArrayLike, target_minutes: ArrayLike) -> Any:
    """The one definition of "target met", for the day, the streak, the plan, nudges and insights.

    A day meets its target when its heartbeat-up minutes reach the user's current daily target; a bool for
    scalars, a boolean array for arrays.
    """
    met = np.asarray(minutes) >= np.asarray(target_minutes)
    return bool(met) if met.ndim == 0 else met
