"""Eight weeks of plausible history for the demo user: heart rate with RR, check-ins and a hard interview.

Generated, labelled as demo, and deterministic for a seed. Heart rate is built beat by beat from a smooth
1 Hz curve (rest, warm-up, steady or interval work, cool-down, exponential recovery), with respiratory
and random beat-to-beat variation so rest-time HRV is meaningful.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from service.pipeline.ingest import CleanSample

REST_BPM = 58.0
MAX_BPM = 186.0


@dataclass
class DemoDay:
    """One generated day: its samples and the journal entries of that day."""

    day: dt.date
    samples: list[CleanSample] = field(default_factory=list)
    checkin: tuple[dt.datetime, int, int] | None = None
    workout_minutes: float = 0.0


def segment_curve(
    t0_s: float, hr_1hz: NDArray[np.float64], rng: np.random.Generator, rmssd_ms: float
) -> list[CleanSample]:
    """Samples at 1 Hz from a heart-rate curve: each carries the RR intervals of the beats ending in its second."""
    n = hr_1hz.size
    # Beat k happens where the cumulated number of beats crosses k (phase = integral of HR / 60).
    phase = np.concatenate(([0.0], np.cumsum(hr_1hz / 60.0)))
    beats = np.arange(1, int(phase[-1]))
    beat_t = np.interp(beats, phase, np.arange(n + 1, dtype=np.float64))
    rr = np.diff(beat_t) * 1000.0
    beat_t = beat_t[1:]
    # Respiratory sinus arrhythmia (0.25 Hz) and white noise, both scaled down as HR rises.
    scale = np.clip((100.0 - np.interp(beat_t, np.arange(n), hr_1hz)) / 40.0, 0.15, 1.0)
    rr = rr + scale * (
        rmssd_ms * 0.6 * np.sin(2 * np.pi * 0.25 * beat_t) + rng.normal(0, rmssd_ms * 0.5, rr.size)
    )
    rr = np.clip(rr, 250.0, 2000.0)
    second = np.floor(beat_t).astype(np.int64)
    bounds = np.searchsorted(second, np.arange(n + 1))
    noisy = np.round(hr_1hz + rng.normal(0, 0.8, n)).astype(int)
    out = []
    for i in range(n):
        chunk = rr[bounds[i] : bounds[i + 1]]
        out.append(
            CleanSample(int((t0_s + i + 1) * 1000), int(noisy[i]), tuple(np.round(chunk, 1).tolist()), True)
        )
    return out


def rest_curve(minutes: int, bpm: float) -> NDArray[np.float64]:
    """A heart at rest, 1 Hz: `bpm` with a slow swing of 1.5 bpm (also the tests' resting heart with RR)."""
    n = minutes * 60
    return bpm + 1.5 * np.sin(np.arange(n) / 97.0)


def _workout(minutes: int, work_bpm: float, intervals: bool, rng: np.random.Generator) -> NDArray[np.float64]:
    """Warm-up ramp, steady or interval work, cool-down, then 12 minutes of exponential recovery."""
    warm = np.linspace(75, work_bpm - 10, 300)
    n_work = max(minutes * 60 - 600, 300)
    t = np.arange(n_work)
    if intervals:
        work = work_bpm - 18 + 30 * (np.sin(2 * np.pi * t / 360.0) > -0.2)
        work = np.convolve(work, np.ones(20) / 20, mode="same")
    else:
        work = work_bpm + 4 * np.sin(t / 200.0) + np.cumsum(rng.normal(0, 0.05, n_work))
    cool = np.linspace(work[-1], work_bpm - 25, 300)
    tau = rng.uniform(35, 70)
    rec_t = np.arange(720)
    recovery = 82 + (cool[-1] - 82) * np.exp(-rec_t / tau)
    return np.concatenate((warm, work, cool, recovery))


def generate_history(
    *, today: dt.date, tz: ZoneInfo, weeks: int, interview_day: dt.date, now: dt.datetime, seed: int = 7
) -> Iterator[DemoDay]:
    """Days from `weeks` ago up to yesterday (and today's morning rest, up to `now`)."""
    rng = np.random.default_rng(seed)
    first = today - dt.timedelta(days=7 * weeks)
    for i in range((today - first).days + 1):
        day = first + dt.timedelta(days=i)
        since_interview = (day - interview_day).days
        # Exercise dips in the days after the interview went badly, then builds back up.
        p_workout = 0.25 if 0 <= since_interview < 5 else 0.7 if since_interview >= 5 else 0.55
        rest_bpm = REST_BPM + rng.normal(0, 1.5) + (6 if 0 <= since_interview < 3 else 0)
        rmssd = float(np.clip(rng.normal(42, 5) - (12 if 0 <= since_interview < 3 else 0), 15, 80))
        demo = DemoDay(day)
        morning = dt.datetime.combine(day, dt.time(6, 30), tzinfo=tz).timestamp()
        demo.samples += segment_curve(morning, rest_curve(35, rest_bpm), rng, rmssd)
        if day == today:
            demo.samples = [s for s in demo.samples if s.t_ms < now.timestamp() * 1000]
            yield demo
            return
        if rng.random() < p_workout:
            minutes = int(rng.integers(30, 75))
            start_h = float(rng.choice([7.5, 12.25, 18.0]))
            start = dt.datetime.combine(
                day, dt.time(int(start_h), int(start_h % 1 * 60)), tzinfo=tz
            ).timestamp()
            curve = _workout(minutes, float(rng.uniform(128, 158)), bool(rng.random() < 0.4), rng)
            demo.samples += segment_curve(start, curve, rng, rmssd)
            demo.workout_minutes = minutes
        evening = dt.datetime.combine(day, dt.time(21, 15), tzinfo=tz).timestamp()
        demo.samples += segment_curve(evening, rest_curve(35, rest_bpm + 4), rng, rmssd * 0.9)
        if rng.random() < 0.85:
            base = 6.0 + min(max(since_interview, -30), 21) * 0.05 - (2.5 if 0 <= since_interview < 4 else 0)
            confidence = base + demo.workout_minutes / 40.0 + rng.normal(0, 1.0)
            mood = confidence + rng.normal(0.3, 1.0)
            at = dt.datetime.combine(day, dt.time(21, 0), tzinfo=tz).astimezone(dt.UTC)
            demo.checkin = (at, int(np.clip(round(confidence), 1, 10)), int(np.clip(round(mood), 1, 10)))
        yield demo
