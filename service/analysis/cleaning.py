"""Sample validity for heart-rate streams: which samples may be counted, and why the others may not.

Invalid samples are never counted and never interpolated: downstream code treats them as holes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.errors import InvalidSeries

# Physiological limits: below 25 bpm or above 240 bpm a chest strap is reporting noise, not a heart
# (the highest reliably recorded adult rates are around 220-230 bpm; Tanaka 2001 HRmax at age 10 is 201).
MIN_BPM = 25.0
MAX_BPM = 240.0
# A real heart cannot change by more than about 30-40 bpm within one or two beats; the steepest exercise
# onsets are a few bpm per second (Pierpont & Voth 2004 on HR kinetics). Bigger steps are artefacts.
MAX_JUMP_BPM = 35.0
JUMP_WINDOW_S = 2.0
# Over a longer spacing (smart recording) the allowed change grows at that steepest rate, so a step is
# judged against what a heart can do in the time it spans: 35 + 3 x (19 - 2) = 86 bpm over 19 s.
MAX_JUMP_RATE_BPM_S = 3.0
# An artefact excursion (a jump away and a jump back) is flagged as a whole when it lasts at most this.
MAX_EXCURSION_S = 60.0
# Sparse recordings (DESIGN.md): the longest spacing across which two neighbouring samples still tell what
# the heart did between them; a longer spacing is a hole. Why 30 s:
# - smart recording writes a point when something changes (Garmin Edge 820 manual: it "records key points
#   where you change direction, speed, or heart rate"): every 1-7 s in a run (the FR110 file of
#   ../shared/data: median 4 s, 99 % of spacings within 12 s), about every 20 s on a steady indoor ride
#   (issue 12: every 19 s). 30 s bridges all of these with room to spare; a stop (that file's 52 s) stays
#   a hole, and so does the 2-minute hole that ends a session.
# - heart rate moves between zones over tens of seconds (recovery is read a whole minute after the stop,
#   Cole et al. 1999), while a sample covering the half-spacing nearer to it places any change within 15 s
#   of where it happened.
# - one reading then stands for at most 30 s, never more than the half minute a heartbeat-up minute asks
#   for: a minute counts on a single reading only if both its neighbours are the full 30 s away.
MAX_SPACING_S = 30.0
# A value repeated identically for minutes means a frozen sensor or a stuck relay, not a heart. Time is
# what counts: FROZEN_S of identical values over spacings of at most MAX_SPACING_S (a longer one breaks the
# run: nothing is known across it). At 1 Hz that is 121 readings, at 19 s 8.
FROZEN_S = 120.0
# ... and enough readings that a chance agreement is implausible. Thinned to 28-30 s, the 1 Hz FIT runs of
# ../shared/data repeat a value in 11-12 % of steps and hold one for 120 s over 5 or 6 readings (one
# thinning in 40); never over 7. The floor binds only above 20 s spacing, so the rule reaches at most
# 6 x 30 = 180 s back (service/pipeline/minutes.py recomputes FROZEN_S + MAX_EXCURSION_S + 2 x 30 s around new data).
FROZEN_MIN_SAMPLES = 7
CHUNK_SAMPLES = 1 << 18  # per-sample passes run on cache-sized pieces (2 MB of times) with reused buffers
# Frozen runs are looked for in aligned blocks of this many steps. Real 1 Hz HR repeats its value in 62-68 %
# of steps (the FIT recordings of ../shared/data), so all-equal blocks this long are rare outside frozen runs;
# 16 one-byte flags are two 8-byte words, compared as words.
FROZEN_BLOCK = 16
_ALL_EQUAL_WORD = np.frombuffer(b"\x01" * 8, dtype=np.uint64)[0]


class Reason(enum.IntFlag):
    """Why a sample is invalid; a sample may carry several reasons (bit flags, stored as uint8)."""

    NO_CONTACT = 1
    ZERO = 2
    OUT_OF_RANGE = 4
    JUMP = 8
    FROZEN = 16


@dataclass(frozen=True)
class CleanResult:
    """Per-sample validity: ``valid`` (bool) and ``reasons`` (uint8 bit flags of ``Reason``, 0 when valid)."""

    valid: NDArray[np.bool_]
    reasons: NDArray[np.uint8]

    def count(self, reason: Reason) -> int:
        """Number of samples flagged with ``reason`` (they may carry other reasons too)."""
        return int(np.count_nonzero(self.reasons & np.uint8(reason)))


def as_times(t_s: ArrayLike, *, check_order: bool = True) -> NDArray[np.float64]:
    """Times as a float64 array, checked to be 1-D, finite and non-decreasing (no copy when already so).

    ``check_order=False`` leaves the order to a caller that computes the steps anyway and checks them with
    ``check_steps`` (the check is a full pass over the times: a large part of a fast analysis).

    Raises:
        InvalidSeries: not 1-D, or not sorted, or containing NaN.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1:
        raise InvalidSeries("t_s", "must be one-dimensional")
    if t.size and not (np.isfinite(t[0]) and np.isfinite(t[-1])):
        raise InvalidSeries("t_s", "must be finite")
    if check_order and t.size > 1 and not np.all(t[1:] >= t[:-1]):  # NaN fails the comparison too
        raise InvalidSeries("t_s", "must be finite and non-decreasing")
    return t


def check_steps(steps_s: NDArray[np.floating[Any]]) -> None:
    """Refuse times whose steps (t[i+1] - t[i], some of them) are negative or NaN: unsorted or not finite.

    Raises:
        InvalidSeries: a step is negative or NaN.
    """
    if steps_s.size and not steps_s.min() >= 0:  # NaN fails the comparison too
        raise InvalidSeries("t_s", "must be finite and non-decreasing")


def as_bpm(bpm: ArrayLike, n: int) -> NDArray[np.float32]:
    """Heart rates as float32 (exact for any bpm a strap can send), length-checked against the times."""
    b = np.asarray(bpm, dtype=np.float32)
    if b.shape != (n,):
        raise InvalidSeries("bpm", f"shape {b.shape} does not match {n} times")
    return b


def as_mask(mask: ArrayLike | None, n: int, name: str) -> NDArray[np.bool_] | None:
    """An optional per-sample boolean mask, length-checked."""
    if mask is None:
        return None
    m = np.asarray(mask, dtype=np.bool_)
    if m.shape != (n,):
        raise InvalidSeries(name, f"shape {m.shape} does not match {n} times")
    return m


def clean_hr(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    contact: ArrayLike | None = None,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
    max_jump_bpm: float = MAX_JUMP_BPM,
    jump_window_s: float = JUMP_WINDOW_S,
    max_jump_rate_bpm_s: float = MAX_JUMP_RATE_BPM_S,
    max_excursion_s: float = MAX_EXCURSION_S,
    frozen_s: float = FROZEN_S,
    frozen_min_samples: int = FROZEN_MIN_SAMPLES,
    max_spacing_s: float = MAX_SPACING_S,
    chunk_samples: int = CHUNK_SAMPLES,
) -> CleanResult:
    """Flag samples that must not be counted: lost contact, 0 bpm, out of range, impossible jumps, frozen.

    A jump is a change between neighbouring in-range samples bigger than a heart can make in the time
    between them: ``max_jump_bpm`` within ``jump_window_s``, plus ``max_jump_rate_bpm_s`` for every second
    beyond (so a sparse recording is judged by what a heart can do over its spacing, and a change across a
    long hole is never an artefact). A jump away and an opposite jump back within ``max_excursion_s`` flag
    the whole excursion (a spike or a short lock-on to cadence); a lone jump flags the samples on both sides.
    A run of identical values lasting ``frozen_s`` over spacings of at most ``max_spacing_s`` is frozen: the
    rule counts time, so it judges 1 Hz and smart recordings alike; ``frozen_min_samples`` only keeps a
    handful of very sparse readings that agree by chance from counting as frozen.
    Work is two chunked vectorised passes; only the (rare) flagged events are handled individually.
    Frozen runs and excursions that straddle the ends of the arrays are judged on the part given, so a
    caller cleaning in chunks should overlap them by a few minutes.

    Args:
        t_s: sample times in seconds, non-decreasing.
        bpm: heart rate of each sample (0 or NaN for "no reading").
        contact: optional per-sample sensor contact; False marks ``Reason.NO_CONTACT``.
        min_bpm: lowest plausible heart rate.
        max_bpm: highest plausible heart rate.
        max_jump_bpm: largest plausible change between neighbours at most ``jump_window_s`` apart.
        jump_window_s: spacing up to which ``max_jump_bpm`` alone applies.
        max_jump_rate_bpm_s: how fast the allowed change grows beyond ``jump_window_s`` (bpm per second).
        max_excursion_s: longest artefact excursion flagged as a whole.
        frozen_s: shortest duration of an identical run that counts as frozen.
        frozen_min_samples: fewest readings in such a run.
        max_spacing_s: longest spacing inside such a run (a longer one is a hole and ends it).
        chunk_samples: samples per piece of work (memory and cache use; the result does not depend on it).

    Returns:
        CleanResult with the valid mask and per-sample reason flags.

    Raises:
        InvalidSeries: mismatched lengths, or times not sorted.
    """
    t = as_times(t_s, check_order=False)  # checked by _scan_steps, which reads the times anyway
    n = t.size
    b = as_bpm(bpm, n)
    lost = as_mask(contact, n, "contact")
    reasons = np.zeros(n, dtype=np.uint8)
    chunk = FROZEN_BLOCK * max(1, chunk_samples // FROZEN_BLOCK)  # whole frozen-check blocks per chunk
    bad = _out_of_range(b, min_bpm, max_bpm, chunk)
    if bad.size:
        reasons[bad] = np.where(b[bad] == 0, Reason.ZERO, Reason.OUT_OF_RANGE).astype(np.uint8)
    if lost is not None:
        reasons[np.flatnonzero(~lost)] |= np.uint8(Reason.NO_CONTACT)
    if n > 1:
        # A frozen run of fewer than 2 x FROZEN_BLOCK steps spans at most 3 blocks, so one of them holds
        # a third of its duration: blocks spanning that long are the suspects a dense scan cannot see.
        steps = _scan_steps(t, b, bad, max_jump_bpm, chunk, frozen_s / 3.0)
        _flag_jumps(
            t, b, steps.jumps, reasons, (max_jump_bpm, jump_window_s, max_jump_rate_bpm_s), max_excursion_s
        )
        _flag_frozen(t, b, bad, steps, reasons, (frozen_s, frozen_min_samples, max_spacing_s), chunk)
    return CleanResult(valid=reasons == 0, reasons=reasons)


def _out_of_range(b: NDArray[np.float32], lo_bpm: float, hi_bpm: float, chunk: int) -> NDArray[np.intp]:
    """Indices of samples outside [lo_bpm, hi_bpm] or NaN, found chunk by chunk (small temporaries)."""
    found = []
    for lo in range(0, b.size, chunk):  # one iteration per chunk
        piece = b[lo : lo + chunk]
        inside = piece >= lo_bpm  # False for NaN as well
        inside &= piece <= hi_bpm
        found.append(np.flatnonzero(~inside) + lo)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


@dataclass(frozen=True)
class _Steps:
    """What one pass over the steps b[i+1]-b[i] found: jump candidates and suspect frozen-check blocks."""

    jumps: NDArray[np.intp]  # steps bigger than max_jump_bpm (the spacing is judged afterwards)
    zero_blocks: NDArray[np.bool_]  # per aligned block of FROZEN_BLOCK steps: all of them zero
    long_blocks: NDArray[np.bool_]  # per block: spans at least a third of frozen_s


def _scan_steps(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    bad: NDArray[np.intp],
    max_jump_bpm: float,
    chunk: int,
    long_block_s: float,
) -> _Steps:
    """One chunked pass over the steps b[i+1]-b[i]: jump candidates, and which aligned blocks of
    FROZEN_BLOCK steps are all zero or span at least ``long_block_s`` (the places a frozen run can be).
    Steps touching an out-of-range sample count as neither jump nor zero. The times are checked for
    order on the way (the block spans need them in cache anyway).

    Raises:
        InvalidSeries: the times are not sorted.
    """
    n_steps = b.size - 1
    step = np.empty(min(chunk, n_steps), dtype=np.float32)
    flag = np.empty(step.size, dtype=np.bool_)
    jumps, zero, long = [], [], []
    for lo in range(0, n_steps, chunk):  # one iteration per chunk
        hi = min(lo + chunk, n_steps)
        s, f = step[: hi - lo], flag[: hi - lo]
        if not np.greater_equal(t[lo + 1 : hi + 1], t[lo:hi], out=f).all():  # NaN fails it too
            raise InvalidSeries("t_s", "must be finite and non-decreasing")
        edges = t[lo : hi + 1 : FROZEN_BLOCK]  # block starts (and the end of the last one when it is whole)
        if (hi - lo) % FROZEN_BLOCK:
            edges = np.append(edges, t[hi])  # a partial last block (chunks hold whole blocks otherwise)
        long.append(edges[1:] - edges[:-1] >= long_block_s)
        np.subtract(b[lo + 1 : hi + 1], b[lo:hi], out=s)
        near = bad[np.searchsorted(bad, lo) : np.searchsorted(bad, hi + 1)]
        s[near[near < hi] - lo] = np.nan  # step leaving a bad sample
        s[near[near > lo] - 1 - lo] = np.nan  # step arriving at one
        np.equal(s, 0.0, out=f)
        zero.append(_all_true_blocks(f))
        np.abs(s, out=s)
        np.greater(s, max_jump_bpm, out=f)
        jumps.append(np.flatnonzero(f) + lo)
    return _Steps(np.concatenate(jumps), np.concatenate(zero), np.concatenate(long))


def _all_true_blocks(flags: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Per aligned block of FROZEN_BLOCK flags (the last one may be partial): whether all are True.

    Whole blocks are read as 8-byte words (a reduceat over 2 million short blocks a year costs 10x more).
    """
    whole = flags.size // FROZEN_BLOCK * FROZEN_BLOCK
    words = flags[:whole].view(np.uint64) == _ALL_EQUAL_WORD
    blocks = np.logical_and(words[0::2], words[1::2])
    if whole < flags.size:
        blocks = np.append(blocks, flags[whole:].all())
    return blocks


def _fill_ranges(first: NDArray[np.intp], last: NDArray[np.intp]) -> NDArray[np.intp]:
    """All indices in the inclusive ranges [first[k], last[k]], built without a loop."""
    lengths = last - first + 1
    if lengths.size == 0:
        return np.zeros(0, dtype=np.intp)
    offsets = np.repeat(first - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(int(lengths.sum())) + offsets


def _flag_jumps(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    j: NDArray[np.intp],
    reasons: NDArray[np.uint8],
    limits: tuple[float, float, float],
    max_excursion_s: float,
) -> None:
    """Mark impossible jumps among candidate steps ``j``: whole short excursions, else both sides of a lone one.

    ``limits`` is (max_jump_bpm, jump_window_s, max_jump_rate_bpm_s): the change a heart can make grows
    with the time the step spans.
    """
    max_jump_bpm, window_s, rate_bpm_s = limits
    spacing = t[j + 1] - t[j]
    allowed = max_jump_bpm + rate_bpm_s * np.maximum(spacing - window_s, 0.0)
    j = j[np.abs(b[j + 1].astype(np.float64) - b[j]) > allowed]
    if j.size == 0:
        return
    sign = np.sign(b[j + 1] - b[j])
    paired = (sign[:-1] != sign[1:]) & (t[j[1:] + 1] - t[j[:-1] + 1] <= max_excursion_s)
    marks = [_fill_ranges(j[:-1][paired] + 1, j[1:][paired])]
    in_pair = np.zeros(j.size, dtype=np.bool_)
    in_pair[:-1] |= paired
    in_pair[1:] |= paired
    lone = j[~in_pair]
    marks += [lone, lone + 1]
    reasons[np.concatenate(marks)] |= np.uint8(Reason.JUMP)


def _suspect_regions(steps: _Steps) -> NDArray[np.intp]:
    """Step ranges [lo, hi) to examine exactly, as an (R, 2) array of merged, dilated suspect blocks.

    A run of >= 2 x FROZEN_BLOCK equal steps covers a whole all-zero block and reaches less than a block
    beyond it; a shorter run long enough in time touches at most 3 blocks, one of them long: two blocks
    either side of that one hold it.
    """
    zero, long = np.flatnonzero(steps.zero_blocks), np.flatnonzero(steps.long_blocks)
    lo = np.concatenate((zero - 1, long - 2))
    hi = np.concatenate((zero + 2, long + 3))  # exclusive, in blocks
    if lo.size == 0:
        return np.zeros((0, 2), dtype=np.intp)
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    new = np.concatenate(([True], lo[1:] > hi[:-1]))  # a region starts where no earlier one reaches
    ends = np.minimum(np.append(hi[np.flatnonzero(new)[1:] - 1], hi[-1]), steps.zero_blocks.size)
    return np.stack((np.maximum(lo[new], 0), ends), axis=1) * FROZEN_BLOCK


def _flag_frozen(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    bad: NDArray[np.intp],
    steps: _Steps,
    reasons: NDArray[np.uint8],
    limits: tuple[float, int, float],
    chunk: int,
) -> None:
    """Mark runs of identical values lasting ``frozen_s`` over at least ``min_samples`` readings, with
    spacings of at most ``max_spacing_s`` (``limits`` holds the three).

    Only the suspect regions of ``_scan_steps`` are examined exactly: few at 1 Hz, while a sparse
    recording is suspect throughout and is examined in pieces of about ``chunk`` steps, cut where a run
    breaks so that no run is judged in parts.
    """
    frozen_s, min_samples, max_spacing_s = limits
    n_steps = b.size - 1
    for lo, hi in _suspect_regions(steps):  # one iteration per suspect region, not per sample
        start, hi = int(lo), min(int(hi), n_steps)
        while start < hi:  # one iteration per piece of about `chunk` steps
            end = _next_break(t, b, bad, min(start + chunk, hi), hi, max_spacing_s, chunk)
            same = _equal_steps(t, b, bad, start, end, max_spacing_s)
            zero = np.concatenate(([False], same, [False]))
            edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
            run_first, run_last = start + edges[0::2], start + edges[1::2]  # samples first..last are equal
            long_enough = (t[run_last] - t[run_first] >= frozen_s) & (run_last - run_first + 1 >= min_samples)
            reasons[_fill_ranges(run_first[long_enough], run_last[long_enough])] |= np.uint8(Reason.FROZEN)
            start = end


def _next_break(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    bad: NDArray[np.intp],
    at: int,
    hi: int,
    max_spacing_s: float,
    chunk: int,
) -> int:
    """The first step from ``at`` (before ``hi``) that does not repeat the value: a cut no run crosses."""
    while at < hi:  # one iteration per `chunk` steps of a frozen run; almost always just one
        ahead = min(at + chunk, hi)
        breaks = np.flatnonzero(~_equal_steps(t, b, bad, at, ahead, max_spacing_s))
        if breaks.size:
            return at + int(breaks[0])
        at = ahead
    return hi


def _equal_steps(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    bad: NDArray[np.intp],
    lo: int,
    hi: int,
    max_spacing_s: float,
) -> NDArray[np.bool_]:
    """For steps lo..hi-1: the value repeats, over a spacing of at most ``max_spacing_s`` (a hole ends a
    run), between two in-range samples."""
    same = b[lo + 1 : hi + 1] == b[lo:hi]
    same &= t[lo + 1 : hi + 1] - t[lo:hi] <= max_spacing_s
    near = bad[np.searchsorted(bad, lo) : np.searchsorted(bad, hi + 1)]
    same[near[near < hi] - lo] = False
    same[near[near > lo] - 1 - lo] = False
    return same
