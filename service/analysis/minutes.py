"""Per-minute heart-rate table (storable, incrementally updatable) and its local-day and week totals.

Minutes are UTC clock minutes (multiples of 60 s of the time origin). Every IANA zone in use today has
a whole-minute UTC offset, so a local midnight is always a minute boundary and a day never splits a
minute; minutes are given to the day that holds their start.

Coverage (DESIGN.md "Sparse recordings"): two neighbouring samples at most ``max_cover_s`` apart cover the
time between them, each the half nearer to it; a longer spacing is a hole, and nothing before the first
sample or after the last is covered. So sparse and irregular sampling is time-weighted, a change between
two samples is placed within half their spacing of where it happened (no lag, unlike holding a value
until the next sample), and a hole stays a hole: removing samples that leaves a spacing longer than
``max_cover_s`` only uncovers time, never hands any to another value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import MAX_SPACING_S, as_bpm, as_mask, as_times, check_steps
from service.analysis.errors import InvalidSeries
from service.analysis.profile import HeartProfile

MINUTE_S = 60.0
UP_MIN_S = 30.0  # a heartbeat-up minute needs >= 30 s of valid HR at/above threshold (DESIGN.md)
# Neighbours at most this far apart cover the time between them; why 30 s: cleaning.MAX_SPACING_S.
MAX_COVER_S = MAX_SPACING_S
CHUNK_SAMPLES = 1 << 18  # per-sample work in cache-sized pieces (2 MB of times: fastest on a year at 1 Hz)
# WHO 2020 guidelines on physical activity: 150-300 min/week moderate, or an equivalent combination with
# vigorous activity counting double (Bull et al., Br J Sports Med 2020;54:1451-62).
WHO_LOW_MIN = 150
WHO_HIGH_MIN = 300

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
Index = NDArray[np.intp]


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


def _check_cover(max_cover_s: float) -> None:
    """Refuse bounds over a minute: half of a spacing up to 60 s reaches the next minute at most (see _fill_rows)."""
    if not 0.0 < max_cover_s <= MINUTE_S:
        raise InvalidSeries("max_cover_s", "must lie in (0, 60]")


def sample_cover(t_s: ArrayLike, max_cover_s: float = MAX_COVER_S) -> F64:
    """Seconds each sample stands for under the minute table's coverage rule, for sums over time (TRIMP).

    Args:
        t_s: sample times (s), non-decreasing.
        max_cover_s: longest spacing bridged; a sample covers half of each spacing to a neighbour at most
            this far away, nothing of a longer one, nothing before the first sample or after the last.

    Returns:
        Per-sample cover (s); its sum is the covered time.

    Raises:
        InvalidSeries: times not sorted, or max_cover_s outside (0, 60].
    """
    _check_cover(max_cover_s)
    return cover_of_sorted(as_times(t_s), max_cover_s)


def cover_of_sorted(t: F64, max_cover_s: float) -> F64:
    """``sample_cover`` of times already checked: a session summary calls it once per session on a slice
    of a series checked as a whole, where checking each slice again was a tenth of the sessions stage."""
    half = np.diff(t) / 2.0
    half[half > max_cover_s / 2.0] = 0.0
    cover = np.zeros(t.size)
    cover[:-1] += half
    cover[1:] += half
    return cover


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
        max_cover_s: longest spacing bridged: neighbours at most this far apart cover the time between
            them, each the half nearer to it; a longer spacing is a hole (see the module docstring).
        start_s: drop minutes starting before this (s).
        end_s: drop minutes starting at or after this (s).
        chunk_samples: samples handled per piece (memory and cache use; the result does not depend on it).

    Returns:
        MinuteTable with one row per minute that holds at least one sample, in time order.

    Raises:
        InvalidSeries: mismatched lengths, times not sorted, or max_cover_s outside (0, 60].
    """
    _check_cover(max_cover_s)
    t = as_times(t_s, check_order=False)  # each chunk checks the steps it computes anyway
    n = t.size
    b = as_bpm(bpm, n)
    ok = as_mask(valid, n, "valid")
    assert ok is not None
    if n == 0:
        return _empty(profile)
    # Per-sample work runs chunk by chunk (cut at minute boundaries) on reused cache-sized buffers; each
    # chunk's rows are finished in the chunk (it reads one sample either side) and written in place.
    pieces = _chunks(t, chunk_samples)
    longest = max(hi - lo for lo, hi in pieces)
    edges = (profile.threshold_bpm, profile.vigorous_bpm, profile.peak_bpm)
    ctx = _Context(t, b, ok, as_mask(contact, n, "contact"), max_cover_s, edges, _Work.sized(longest))
    out = _allocate(profile, min(n, int(np.floor(t[-1] / MINUTE_S) - np.floor(t[0] / MINUTE_S)) + 1))
    filled = 0
    for lo, hi in pieces:  # one iteration per chunk of about chunk_samples samples
        filled = _fill_rows(ctx, lo, hi, out, filled)
    starts = out.minute_start_s[:filled]
    first = 0 if start_s is None else int(np.searchsorted(starts, float(start_s)))
    last = filled if end_s is None else int(np.searchsorted(starts, float(end_s)))
    return out.take(slice(first, max(first, last)))


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

    step: F64
    gap: F32
    minute: F64
    cover: F32
    product: F32
    flag: NDArray[np.bool_]

    @staticmethod
    def sized(samples: int) -> _Work:
        """Buffers for chunks of up to ``samples`` samples."""
        return _Work(
            np.empty(samples + 1),
            np.empty(samples + 1, np.float32),
            np.empty(samples),
            np.empty(samples, np.float32),
            np.empty(samples, np.float32),
            np.empty(samples + 1, np.bool_),
        )


@dataclass(frozen=True)
class _Context:
    """The whole series and settings one call works on (chunks read one sample beyond their ends)."""

    t: F64
    b: F32
    ok: NDArray[np.bool_]
    lost: NDArray[np.bool_] | None  # contact mask (False = lost), or None
    max_cover_s: float
    edges: tuple[float, ...]
    work: _Work


def _allocate(profile: HeartProfile, rows: int) -> MinuteTable:
    """Output columns for at most ``rows`` minutes, filled chunk by chunk (no concatenation at the end)."""
    times, counts = ("minute_start_s", "first_valid_s", "last_valid_s"), ("n_samples",)
    columns: dict[str, Any] = {
        f.name: np.empty(
            rows, np.float64 if f.name in times else np.int32 if f.name in counts else np.float32
        )
        for f in fields(MinuteTable)
        if f.name != "profile"
    }
    return MinuteTable(profile=profile, **columns)


# Rows of the per-minute sums handled together: valid s, bpm x s, s at or above each zone edge, lost s.
_VALID, _BPM, _ABOVE, _LOST = 0, 1, 2, 5


def _fill_rows(c: _Context, lo: int, hi: int, out: MinuteTable, at: int) -> int:
    """Write the minutes of samples lo..hi-1 into ``out`` from row ``at``; return the next free row.

    Each sample's whole cover is summed in its own minute first. Only the first and the last sample of a
    minute can cover time beyond it (half a spacing of at most 60 s: into the next minute at most), so
    that part is then moved across the edge, minute by minute, with the values of those samples.
    """
    m = hi - lo
    gap, cover2 = _bridged(c, lo, hi)  # cover2: TWICE each sample's cover, exact for whole seconds
    first, start = _minute_starts(c, lo, hi)
    last = np.append(first[1:] - 1, m - 1)
    ok, bc = c.ok[lo:hi], c.b[lo:hi]
    bad = np.flatnonzero(~ok)  # invalid and contact-lost samples are few: handled by index
    sums = np.zeros((6, first.size), np.float32)
    if c.lost is not None:
        gone = np.flatnonzero(~c.lost[lo:hi])
        owner = np.searchsorted(first, gone, side="right") - 1
        sums[_LOST] = np.bincount(owner, weights=cover2[gone], minlength=first.size)
    cover2[bad] = 0.0  # from here on: VALID coverage
    product = np.multiply(cover2, bc, out=c.work.product[:m])
    product[bad] = 0.0  # an invalid sample may hold NaN
    sums[_VALID] = np.add.reduceat(cover2, first)
    sums[_BPM] = np.add.reduceat(product, first)
    min_bpm, max_bpm = _min_max(bc, ok, first, last, bad)
    _seconds_above(cover2, bc, first, max_bpm, c.edges, out=sums[_ABOVE:_LOST])
    valid_s, bpm_s, up_s, vigorous_up_s, peak_s, lost_s = _move_edge_cover(
        c, lo, hi, gap, first + lo, last + lo, start, sums
    )
    rows = slice(at, at + first.size)
    out.minute_start_s[rows] = start
    out.n_samples[rows] = last - first + 1
    out.valid_s[rows] = valid_s
    out.lost_contact_s[rows] = lost_s
    out.up_s[rows] = up_s
    out.moderate_s[rows] = up_s - vigorous_up_s
    out.vigorous_s[rows] = vigorous_up_s - peak_s
    out.peak_s[rows] = peak_s
    mean = np.full(first.size, np.nan)
    np.divide(bpm_s, valid_s, out=mean, where=valid_s > 0)
    out.mean_bpm[rows] = mean
    out.min_bpm[rows], out.max_bpm[rows] = min_bpm, max_bpm
    out.first_valid_s[rows], out.last_valid_s[rows] = _valid_times(c.t[lo:hi], ok, first, last, bad)
    return at + first.size


def _bridged(c: _Context, lo: int, hi: int) -> tuple[F32, F32]:
    """Bridged spacings around samples lo..hi-1 and twice each sample's cover.

    ``gap[j]`` is the spacing before sample lo+j (``gap[m]`` the one after hi-1), zero where it is longer
    than ``max_cover_s`` or there is no neighbour: a hole, covered by neither side.

    Raises:
        InvalidSeries: the times are not sorted (checked here, on steps computed anyway).
    """
    t, m = c.t, hi - lo
    step = c.work.step[: m + 1]  # float64 first: a subtraction that casts as it goes is slower
    step[0] = t[lo] - t[lo - 1] if lo > 0 else np.inf
    np.subtract(t[lo + 1 : hi], t[lo : hi - 1], out=step[1:m])
    step[m] = t[hi] - t[hi - 1] if hi < t.size else np.inf
    check_steps(step[:m])
    gap = c.work.gap[: m + 1]
    np.copyto(gap, step, casting="same_kind")
    gap[np.flatnonzero(np.greater(gap, c.max_cover_s, out=c.work.flag[: m + 1]))] = 0.0
    return gap, np.add(gap[:-1], gap[1:], out=c.work.cover[:m])


def _minute_starts(c: _Context, lo: int, hi: int) -> tuple[Index, F64]:
    """First sample (chunk index) and start time of every minute holding samples lo..hi-1."""
    m = hi - lo
    minute = np.divide(c.t[lo:hi], MINUTE_S, out=c.work.minute[:m])
    np.floor(minute, out=minute)
    changed = np.not_equal(minute[1:], minute[:-1], out=c.work.flag[: m - 1])
    first = np.concatenate(([0], np.flatnonzero(changed) + 1))
    return first, minute[first] * MINUTE_S


def _min_max(bc: F32, ok: NDArray[np.bool_], first: Index, last: Index, bad: Index) -> tuple[F32, F32]:
    """Lowest and highest valid bpm of each minute (NaN where none is valid).

    Reduced over all samples first (no masked copy of the chunk), then redone for the few minutes that
    hold an invalid sample.
    """
    low, high = np.fmin.reduceat(bc, first), np.fmax.reduceat(bc, first)  # 4x faster than minimum/maximum
    if bad.size:
        owner = np.searchsorted(first, bad, side="right") - 1  # sorted
        rows = owner[np.flatnonzero(np.diff(owner, prepend=-1))]
        idx = _fill_ranges(first[rows], last[rows])
        values = bc[idx]
        values[~ok[idx]] = np.nan
        starts = np.cumsum(last[rows] - first[rows] + 1) - (last[rows] - first[rows] + 1)
        low[rows], high[rows] = np.fmin.reduceat(values, starts), np.fmax.reduceat(values, starts)
    return low, high


def _fill_ranges(first: Index, last: Index) -> Index:
    """All indices in the inclusive ranges [first[k], last[k]], built without a loop."""
    lengths = last - first + 1
    if lengths.size == 0:
        return np.zeros(0, dtype=np.intp)
    return np.arange(int(lengths.sum())) + np.repeat(first - np.cumsum(lengths) + lengths, lengths)


def _move_edge_cover(
    c: _Context, lo: int, hi: int, gap: F32, first: Index, last: Index, start: F64, sums: F32
) -> F32:
    """Per-minute totals (s), one row per quantity, once the edge samples' cover is moved across the edges.

    ``sums`` hold twice the cover of each minute's own samples; ``first`` / ``last`` are global indices.
    The sample before the chunk (lo-1) and the one after it (hi) take part as the neighbours' edge samples.
    """
    t, m = c.t, hi - lo
    fwd = np.maximum(t[last] + 0.5 * gap[last - lo + 1] - (start + MINUTE_S), 0.0)  # leaves into the next
    bwd = np.maximum(start - (t[first] - 0.5 * gap[first - lo]), 0.0)  # leaves into the previous
    fwd_in = max(t[lo - 1] + 0.5 * gap[0] - start[0], 0.0) if lo > 0 else 0.0
    bwd_in = max(start[-1] + MINUTE_S - (t[hi] - 0.5 * gap[m]), 0.0) if hi < t.size else 0.0
    at_first = _edge_values(c, np.append(first, min(hi, t.size - 1)))  # then the next chunk's first
    at_last = _edge_values(c, np.concatenate(([max(lo - 1, 0)], last)))  # after the previous chunk's last
    moved = np.multiply(sums, np.float32(0.5), out=sums)
    leaving = at_last[:, 1:] * fwd.astype(np.float32)  # into the next minute
    moved -= leaving
    moved[:, 1:] += leaving[:, :-1]
    leaving = np.multiply(at_first[:, :-1], bwd.astype(np.float32), out=leaving)  # into the previous one
    moved -= leaving
    moved[:, :-1] += leaving[:, 1:]
    moved[:, 0] += at_last[:, 0] * np.float32(fwd_in)  # from the sample before the chunk
    moved[:, -1] += at_first[:, -1] * np.float32(bwd_in)  # from the sample after it
    return np.maximum(moved, 0.0, out=moved)


def _edge_values(c: _Context, idx: Index) -> F32:
    """What one second of each sample's cover adds to each per-minute quantity (rows as in ``sums``)."""
    values = np.zeros((6, idx.size), np.float32)
    ok = c.ok[idx]
    values[_VALID] = ok
    values[_BPM] = np.where(ok, c.b[idx], 0.0)
    for k, edge in enumerate(c.edges):  # three zone edges
        values[_ABOVE + k] = values[_BPM] >= edge
    if c.lost is not None:
        values[_LOST] = ~c.lost[idx]
    return values


def _seconds_above(
    cover: F32, bq: F32, first: Index, max_bpm: NDArray[Any], edges_bpm: tuple[float, ...], out: F32
) -> None:
    """Valid cover at or above each edge per minute into ``out`` (one row per edge, zeroed by the caller),
    summing only minutes whose max reaches the edge."""
    last = np.append(first[1:] - 1, cover.size - 1)
    hot = np.flatnonzero(max_bpm >= edges_bpm[0])  # rest minutes cannot contribute: skip their samples
    if hot.size == 0:
        return
    idx = _fill_ranges(first[hot], last[hot])
    cover_h, bpm_h = cover[idx], bq[idx]
    lengths = last[hot] - first[hot] + 1
    starts_h = np.cumsum(lengths) - lengths
    for k, edge in enumerate(edges_bpm):  # three zone edges
        out[k, hot] = np.add.reduceat(cover_h * (bpm_h >= edge), starts_h)


def _valid_times(t: F64, ok: NDArray[np.bool_], first: Index, last: Index, bad: Index) -> tuple[F64, F64]:
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
