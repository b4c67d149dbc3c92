"""Sample validity for heart-rate streams: which samples may be counted, and why the others may not.

Invalid samples are never counted and never interpolated: downstream code treats them as holes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
# An artefact excursion (a jump away and a jump back) is flagged as a whole when it lasts at most this.
MAX_EXCURSION_S = 60.0
# A value repeated identically for minutes means a frozen sensor or a stuck relay, not a heart.
FROZEN_S = 120.0
FROZEN_MIN_SAMPLES = 30
CHUNK_SAMPLES = 1 << 20  # per-sample passes run on cache-sized pieces with reused buffers


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


def as_times(t_s: ArrayLike) -> NDArray[np.float64]:
    """Times as a float64 array, checked to be 1-D, finite and non-decreasing (no copy when already so).

    Raises:
        InvalidSeries: not 1-D, or not sorted, or containing NaN.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1:
        raise InvalidSeries("t_s", "must be one-dimensional")
    if t.size and not (np.isfinite(t[0]) and np.isfinite(t[-1])):
        raise InvalidSeries("t_s", "must be finite")
    if t.size > 1 and not np.all(t[1:] >= t[:-1]):  # NaN fails the comparison too
        raise InvalidSeries("t_s", "must be finite and non-decreasing")
    return t


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
    max_excursion_s: float = MAX_EXCURSION_S,
    frozen_s: float = FROZEN_S,
    frozen_min_samples: int = FROZEN_MIN_SAMPLES,
    chunk_samples: int = CHUNK_SAMPLES,
) -> CleanResult:
    """Flag samples that must not be counted: lost contact, 0 bpm, out of range, impossible jumps, frozen.

    A jump is a change of more than ``max_jump_bpm`` between neighbouring in-range samples at most
    ``jump_window_s`` apart. A jump away and an opposite jump back within ``max_excursion_s`` flag the whole
    excursion (a spike or a short lock-on to cadence); a lone jump flags the samples on both sides of it.
    A run of identical values lasting ``frozen_s`` over at least ``frozen_min_samples`` samples is frozen.
    Work is two chunked vectorised passes; only the (rare) flagged events are handled individually.
    Frozen runs and excursions that straddle the ends of the arrays are judged on the part given, so a
    caller cleaning in chunks should overlap them by a few minutes.

    Args:
        t_s: sample times in seconds, non-decreasing.
        bpm: heart rate of each sample (0 or NaN for "no reading").
        contact: optional per-sample sensor contact; False marks ``Reason.NO_CONTACT``.
        min_bpm: lowest plausible heart rate.
        max_bpm: highest plausible heart rate.
        max_jump_bpm: largest plausible change between neighbouring samples.
        jump_window_s: neighbours further apart than this are never a jump (HR may change over a gap).
        max_excursion_s: longest artefact excursion flagged as a whole.
        frozen_s: shortest duration of an identical run that counts as frozen.
        frozen_min_samples: fewest samples in such a run (keeps sparse "smart" recordings safe).
        chunk_samples: samples per piece of work (memory and cache use; the result does not depend on it).

    Returns:
        CleanResult with the valid mask and per-sample reason flags.

    Raises:
        InvalidSeries: mismatched lengths, or times not sorted.
    """
    t = as_times(t_s)
    n = t.size
    b = as_bpm(bpm, n)
    lost = as_mask(contact, n, "contact")
    reasons = np.zeros(n, dtype=np.uint8)
    block = max(1, (frozen_min_samples - 1) // 2)
    chunk = block * max(1, chunk_samples // block)  # whole frozen-check blocks per chunk
    bad = _out_of_range(b, min_bpm, max_bpm, chunk)
    if bad.size:
        reasons[bad] = np.where(b[bad] == 0, Reason.ZERO, Reason.OUT_OF_RANGE).astype(np.uint8)
    if lost is not None:
        reasons[np.flatnonzero(~lost)] |= np.uint8(Reason.NO_CONTACT)
    if n > 1:
        jumps, full_blocks = _scan_steps(b, bad, max_jump_bpm, block, chunk)
        _flag_jumps(t, b, jumps, reasons, jump_window_s, max_excursion_s)
        _flag_frozen(t, b, bad, full_blocks, block, reasons, frozen_s, frozen_min_samples)
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


def _scan_steps(
    b: NDArray[np.float32], bad: NDArray[np.intp], max_jump_bpm: float, block: int, chunk: int
) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """One chunked pass over the steps b[i+1]-b[i]: indices of impossible jumps, and which aligned blocks
    of ``block`` steps are all zero (candidates for frozen runs). Steps touching an out-of-range sample
    count as neither."""
    n_steps = b.size - 1
    step = np.empty(min(chunk, n_steps), dtype=np.float32)
    flag = np.empty(step.size, dtype=np.bool_)
    jumps, blocks = [], []
    for lo in range(0, n_steps, chunk):  # one iteration per chunk
        hi = min(lo + chunk, n_steps)
        s, f = step[: hi - lo], flag[: hi - lo]
        np.subtract(b[lo + 1 : hi + 1], b[lo:hi], out=s)
        near = bad[np.searchsorted(bad, lo) : np.searchsorted(bad, hi + 1)]
        s[near[near < hi] - lo] = np.nan  # step leaving a bad sample
        s[near[near > lo] - 1 - lo] = np.nan  # step arriving at one
        whole = (s.size // block) * block
        np.equal(s, 0.0, out=f)
        if whole:
            blocks.append(np.logical_and.reduceat(f[:whole], np.arange(0, whole, block)))
        np.abs(s, out=s)
        np.greater(s, max_jump_bpm, out=f)
        jumps.append(np.flatnonzero(f) + lo)
    full = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.bool_)
    return np.concatenate(jumps), full


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
    window_s: float,
    max_excursion_s: float,
) -> None:
    """Mark impossible jumps (step indices ``j``): whole short excursions, else both sides of a lone one."""
    j = j[t[j + 1] - t[j] <= window_s]
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


def _flag_frozen(
    t: NDArray[np.float64],
    b: NDArray[np.float32],
    bad: NDArray[np.intp],
    full: NDArray[np.bool_],
    block: int,
    reasons: NDArray[np.uint8],
    frozen_s: float,
    min_samples: int,
) -> None:
    """Mark runs of identical values lasting ``frozen_s`` over at least ``min_samples`` samples.

    Any run of >= 2*block equal steps covers one whole aligned block, so only the neighbourhoods of
    all-zero blocks (``full``, from ``_scan_steps``) are examined exactly.
    """
    hot = np.flatnonzero(full)
    if hot.size == 0:
        return
    n_steps = b.size - 1
    region_breaks = np.flatnonzero(np.diff(hot) > 1)
    for first_blk, last_blk in zip(
        hot[np.concatenate(([0], region_breaks + 1))],
        hot[np.concatenate((region_breaks, [hot.size - 1]))],
        strict=True,
    ):  # one iteration per suspect region, not per sample
        lo = max(0, (int(first_blk) - 1) * block)
        hi = min(n_steps, (int(last_blk) + 2) * block)
        same = b[lo + 1 : hi + 1] == b[lo:hi]
        near = bad[np.searchsorted(bad, lo) : np.searchsorted(bad, hi + 1)]
        same[near[near < hi] - lo] = False
        same[near[near > lo] - 1 - lo] = False
        zero = np.concatenate(([False], same, [False]))
        edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
        run_first, run_last = lo + edges[0::2], lo + edges[1::2]  # samples run_first..run_last are equal
        long_enough = (run_last - run_first + 1 >= min_samples) & (t[run_last] - t[run_first] >= frozen_s)
        idx = _fill_ranges(run_first[long_enough], run_last[long_enough])
        reasons[idx] |= np.uint8(Reason.FROZEN)
