"""Heart figures of a timed practice session: how far above rest the heart ran while answering aloud.

Arousal is the mean heart rate over the session minus the resting heart rate, in bpm and as a share of
the heart-rate reserve (Karvonen: max - rest), so sessions can be compared across days and across people
whose resting and maximum rates differ. The mean is over samples, not time-weighted: a practice session
is a short, continuous recording at the strap's own rate, and the figure must be what a reader gets by
averaging the samples shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from service.analysis.cleaning import as_bpm, as_mask
from service.analysis.profile import HeartProfile


@dataclass(frozen=True)
class PracticeHeart:
    """Mean and peak bpm of the counted samples, how many, and the mean's distance above rest."""

    mean_bpm: float
    peak_bpm: float
    n_samples: int
    arousal_bpm: float
    arousal_pct_hrr: float  # percent of the heart-rate reserve; negative when the mean lies below rest


def practice_heart(
    bpm: ArrayLike, *, profile: HeartProfile, valid: ArrayLike | None = None
) -> PracticeHeart | None:
    """The heart figures of the samples of one practice span, or None when no sample counts.

    Args:
        bpm: heart rate of each sample in the span.
        profile: the user's resting HR and HRmax (the same profile the zones use).
        valid: optional per-sample validity (e.g. ``clean_hr(...).valid``); invalid samples are left out.

    Returns:
        PracticeHeart, or None when the span holds no counted sample.

    Raises:
        InvalidSeries: ``valid`` does not match ``bpm`` in length.
    """
    b = np.asarray(bpm, dtype=np.float32).ravel()
    b = as_bpm(b, b.size)
    mask = as_mask(valid, b.size, "valid")
    counted = b if mask is None else b[mask]
    if counted.size == 0:
        return None
    mean = float(np.mean(counted, dtype=np.float64))
    arousal = mean - profile.resting_hr
    return PracticeHeart(
        mean_bpm=mean,
        peak_bpm=float(np.max(counted)),
        n_samples=int(counted.size),
        arousal_bpm=arousal,
        arousal_pct_hrr=100.0 * arousal / (profile.max_hr - profile.resting_hr),
    )
