"""Synthetic heart rate for tests and benchmarks: one workout (rest, an effort, a recovery), beat-by-beat RR
through segments of a steady heart, and one whole day.

Every test that uploads a workout takes it from `workout_curve` / `workout_samples`; the shape its expected
numbers were taken with is given by parameters, so the numbers still come out. The output is deterministic:
seeded Gaussian noise and/or a fixed wobble (a strap's beat or two, repeating), never an unseeded draw.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

DAY_S = 86_400
DAY_NPZ = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthetic_24h_rr.npz"


def _epoch_s(start: dt.datetime | float) -> float:
    return start.timestamp() if isinstance(start, dt.datetime) else float(start)


def workout_curve(
    start: dt.datetime | float,
    minutes: float,
    bpm: float = 150.0,
    *,
    rest_bpm: float = 70.0,
    before_s: int = 600,
    after_s: int = 900,
    recovered_bpm: float | None = None,
    tau_s: float | None = 20.0,
    recovery: Callable[[int], float] | None = None,
    noise_sd: float = 1.0,
    seed: int = 0,
    wobble: Sequence[int] = (),
    effort_wobble: Sequence[int] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """1 Hz heart rate, (epoch seconds, whole bpm): `before_s` at `rest_bpm`, `minutes` at `bpm` from `start`,
    then `after_s` of recovery.

    The recovery falls exponentially (time constant `tau_s`) from `bpm` to `recovered_bpm` (default
    `rest_bpm`); `tau_s=None` steps straight there; `recovery` gives the level at each second after the stop
    instead. Gaussian noise of `noise_sd` (seeded by `seed`) is added before rounding (a flat line reads as a
    stuck sensor); then `wobble[i % len]` beats at second i of the recording, or `effort_wobble` during the
    effort when given.
    """
    start_s = _epoch_s(start)
    effort_s = int(round(minutes * 60))
    offsets = np.arange(-before_s, effort_s + after_s, dtype=np.float64)
    level = np.full(offsets.size, float(rest_bpm))
    effort = (offsets >= 0) & (offsets < effort_s)
    level[effort] = bpm
    after = offsets >= effort_s
    since_stop = offsets[after] - effort_s
    settled = rest_bpm if recovered_bpm is None else recovered_bpm
    if recovery is not None:
        level[after] = [float(recovery(int(s))) for s in since_stop]
    elif tau_s is None:
        level[after] = settled
    else:
        level[after] = settled + (bpm - settled) * np.exp(-since_stop / tau_s)
    if noise_sd:
        level = level + np.random.default_rng(seed).normal(0.0, noise_sd, offsets.size)
    shake = np.zeros(offsets.size)
    index = np.arange(offsets.size)
    if wobble:
        shake = np.asarray(wobble, dtype=np.float64)[index % len(wobble)]
    if effort_wobble is not None:
        shake[effort] = np.asarray(effort_wobble, dtype=np.float64)[index[effort] % len(effort_wobble)]
    hr = np.round(level) + shake
    return start_s + offsets, hr


def workout_samples(
    start: dt.datetime | float,
    minutes: float,
    bpm: float = 150.0,
    *,
    times: Literal["ms", "iso"] = "ms",
    contact: bool | None = True,
    **shape: Any,
) -> list[dict[str, Any]]:
    """`workout_curve` as the samples a strap uploads: `t` in epoch ms (or ISO 8601 from the `start` datetime
    with `times="iso"`), `bpm`, and `contact` unless None. `shape`: `workout_curve`'s keywords."""
    t_s, hr = workout_curve(start, minutes, bpm, **shape)
    start_s = _epoch_s(start)
    offsets = [int(round(t - start_s)) for t in t_s]
    if times == "iso":
        assert isinstance(start, dt.datetime), "ISO times need a datetime start"
        stamps: list[Any] = [(start + dt.timedelta(seconds=k)).isoformat() for k in offsets]
    else:
        start_ms = int(round(start_s * 1000))
        stamps = [start_ms + 1000 * k for k in offsets]
    extra = {} if contact is None else {"contact": contact}
    return [{"t": t, "bpm": int(b), **extra} for t, b in zip(stamps, hr, strict=True)]


def beat_times(
    segments: Sequence[tuple[float, tuple[float, float]]], start: dt.datetime | float, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Beat times (epoch s) and RR intervals (ms) through (duration_s, (bpm, swing_ms)) segments, back to back:
    each beat at the segment's rate, a breathing swing of `swing_ms` (period 5 beats) and 2 ms of noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for duration_s, (bpm, swing_ms) in segments:
        k = np.arange(int(duration_s * bpm / 60.0))
        parts.append(60_000.0 / bpm + swing_ms * np.sin(2 * np.pi * k / 5.0) + rng.normal(0.0, 2.0, k.size))
    rr = np.concatenate(parts)
    return _epoch_s(start) + np.cumsum(rr) / 1000.0, rr


def beat_samples(t_s: NDArray[np.float64], rr_ms: NDArray[np.float64]) -> list[dict[str, Any]]:
    """What a strap notifies about once a second: the beats since the last notification, stamped at the last."""
    second = np.floor(t_s).astype(np.int64)
    cuts = np.flatnonzero(np.diff(second)) + 1
    return [
        {"t": int(round(t_part[-1] * 1000)), "bpm": int(round(60_000.0 / rr_part.mean())),
         "rr_ms": [round(float(x), 1) for x in rr_part], "contact": True}
        for t_part, rr_part in zip(np.split(t_s, cuts), np.split(rr_ms, cuts), strict=True)
    ]  # fmt: skip


def day_heart_rate(t_s: NDArray[Any], seed: int = 7) -> NDArray[np.int64]:
    """Whole bpm at 1 Hz times `t_s` (seconds; their time of day is `t_s % 86 400`, any number of days):
    sleep at ~54 bpm, a day at ~72 with a walk at 12:00, a 50-min interval run at 18:00 and its recovery."""
    t = np.asarray(t_s, dtype=np.float64)
    of_day = t % DAY_S
    hours = of_day / 3600
    level = np.where((hours < 6.5) | (hours >= 23), 54.0, 72.0)
    level[(hours >= 12) & (hours < 12.5)] = 98.0
    run = (hours >= 18) & (hours < 18 + 50 / 60)
    level[run] = 150.0 + 20.0 * ((of_day[run] // 240) % 2)
    after = (hours >= 18 + 50 / 60) & (hours < 19.5)
    last_run_s = 18 * 3600 + 50 * 60 - 1
    level[after] = 72.0 + 88.0 * np.exp(-(of_day[after] - last_run_s) / 120.0)
    # A minute's moving average: ramps, not steps the cleaning would flag (edges padded, not pulled to 0).
    level = np.convolve(np.pad(level, 30, mode="edge"), np.ones(60) / 60, mode="same")[30:-30]
    noise = np.random.default_rng(seed).normal(0.0, 1.5, t.size)
    return np.round(level + noise).astype(np.int64)


def workout_day() -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """1 Hz heart rate of a workout day, (seconds since midnight, bpm): the shared synthetic day's `bpm_t` and
    `bpm_1hz` when that file is there (its first value is corrupt, as a strap's can be), else
    `day_heart_rate` from 00:00:01."""
    if DAY_NPZ.exists():
        with np.load(DAY_NPZ) as data:
            return data["bpm_t"].astype(np.int64), data["bpm_1hz"].astype(np.int64)
    t = np.arange(1, DAY_S)
    return t, day_heart_rate(t)
