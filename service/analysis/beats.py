"""Beats from stored notifications: each notification carries its RR intervals, stamped with its receive time.

The day's HRV and the stress windows both rebuild the beat sequence from those (the strap sends no beat
times), and both read it from one device only, so a beat sent by two straps worn at once counts once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MAX_SAMPLE_GAP_S = 2.5  # a longer silence between notifications breaks the beat sequence


def beats_from_samples(
    t_ms: NDArray[np.int64], rr_text: list[str | None]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Beat times and RR intervals, strictly increasing, from the stored notifications.

    Within a run of notifications without a gap, beats follow each other by their RR intervals and the
    run's last beat ends at its last notification's time (receive times jitter; RR intervals do not).
    """
    counts = np.array([len(text.split()) if text else 0 for text in rr_text], dtype=np.int64)
    if counts.sum() == 0:
        return np.zeros(0), np.zeros(0)
    rr = np.array([float(x) for text in rr_text if text for x in text.split()], dtype=np.float64)
    has = counts > 0
    sample_t = t_ms[has] / 1000.0
    run_of_sample = np.concatenate(([0], np.cumsum(np.diff(sample_t) > MAX_SAMPLE_GAP_S)))
    run = np.repeat(run_of_sample, counts[has])
    csum = np.cumsum(rr) / 1000.0
    last_beat = np.flatnonzero(np.append(run[1:] != run[:-1], True))  # last beat of each run
    run_end_t = sample_t[np.append(np.flatnonzero(np.diff(run_of_sample)), sample_t.size - 1)]
    beat_t = run_end_t[run] - (csum[last_beat][run] - csum)
    keep = np.concatenate(([True], np.diff(beat_t) > 0))
    keep &= beat_t > np.concatenate(([-np.inf], np.maximum.accumulate(beat_t)[:-1]))
    return beat_t[keep], rr[keep]


def beat_source(rows: list[tuple], in_day: NDArray[np.bool_]) -> int | None:  # type: ignore[type-arg]
    """The device whose RR intervals the day's HRV is read from: the one with the most beats that day.

    `rows` are stored samples as (t_ms, bpm, contact, rr_ms, device_id), as the pipeline reads them back.
    Two straps worn at once (or a live strap and an imported file of the same ride) send the same beats;
    mixing them would count each beat twice and scramble the beat times.
    """
    beats: dict[int, int] = {}
    for row, keep in zip(rows, in_day, strict=True):
        if keep and row[3]:
            beats[row[4]] = beats.get(row[4], 0) + row[3].count(" ") + 1
    return max(beats, key=beats.__getitem__) if beats else None
