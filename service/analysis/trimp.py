"""Banister training impulse (TRIMP): workout load from duration and heart-rate-reserve intensity."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from service.analysis.cleaning import as_bpm, as_mask, as_times
from service.analysis.profile import HeartProfile

# Banister's weighting exponent b in 0.64 * exp(b * HRr): 1.92 for men, 1.67 for women
# (Banister EW, "Modeling elite athletic performance", in Physiological Testing of Elite Athletes, 1991;
# Morton, Fitz-Clarke & Banister, J Appl Physiol 1990;69:1171-7). 1.92 is the default when sex is unknown.
TRIMP_K_MALE = 1.92
TRIMP_K_FEMALE = 1.67


def banister_trimp(
    t_s: ArrayLike,
    bpm: ArrayLike,
    *,
    profile: HeartProfile,
    valid: ArrayLike | None = None,
    k: float = TRIMP_K_MALE,
    max_cover_s: float = 5.0,
) -> float:
    """Banister TRIMP = sum over time (minutes) of HRr * 0.64 * exp(k * HRr), HRr the Karvonen fraction.

    Each valid sample stands for the time until the next one, capped at ``max_cover_s`` (the same rule as
    the minute table), so gaps add no load. HRr is clipped to [0, 1].

    Args:
        t_s: sample times (s), non-decreasing.
        bpm: heart rate per sample.
        profile: resting HR and HRmax.
        valid: optional per-sample validity; invalid samples add nothing.
        k: 1.92 (men, default) or 1.67 (women).
        max_cover_s: longest time one sample stands for.

    Returns:
        TRIMP in arbitrary units (a 30-min run at 70 % HRR is about 60).

    Raises:
        InvalidSeries: mismatched lengths or unsorted times.
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    if t.size < 2:
        return 0.0
    dt = np.empty(t.size)
    dt[:-1] = np.diff(t)
    dt[-1] = 0.0  # the last sample has no next one and stands for nothing, as in the minute table
    hrr = np.clip(profile.intensity(b), 0.0, 1.0)
    load = np.minimum(dt, max_cover_s) / 60.0 * hrr * 0.64 * np.exp(k * hrr)
    if ok is not None:
        load = load[ok]
    return float(np.nansum(load))
