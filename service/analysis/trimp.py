"""Banister training impulse (TRIMP): workout load from duration and heart-rate-reserve intensity."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.cleaning import as_bpm, as_mask, as_times
from service.analysis.minutes import MAX_COVER_S, sample_cover
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
    max_cover_s: float = MAX_COVER_S,
) -> float:
    """Banister TRIMP = sum over time (minutes) of HRr * 0.64 * exp(k * HRr), HRr the Karvonen fraction.

    Each valid sample stands for the time the minute table gives it (``sample_cover``: half the spacing to
    each neighbour at most ``max_cover_s`` away), so load and heartbeat-up minutes agree on what was covered
    and a hole adds no load. HRr is clipped to [0, 1].

    Args:
        t_s: sample times (s), non-decreasing.
        bpm: heart rate per sample.
        profile: resting HR and HRmax.
        valid: optional per-sample validity; invalid samples add nothing.
        k: 1.92 (men, default) or 1.67 (women).
        max_cover_s: longest spacing bridged (longer spacings are holes).

    Returns:
        TRIMP in arbitrary units (a 30-min run at 70 % HRR is about 60).

    Raises:
        InvalidSeries: mismatched lengths, unsorted times, or max_cover_s outside (0, 60].
    """
    t = as_times(t_s)
    b = as_bpm(bpm, t.size)
    ok = as_mask(valid, t.size, "valid")
    cover = sample_cover(t, max_cover_s)
    return trimp_of_cover(
        cover if ok is None else cover[ok], b if ok is None else b[ok], profile=profile, k=k
    )


def trimp_of_cover(
    cover_s: NDArray[np.float64], bpm: NDArray[Any], *, profile: HeartProfile, k: float
) -> float:
    """Banister TRIMP of samples whose cover (s) is known already: a session summary computes the cover
    for its average heart rate anyway, and a second pass per session was a tenth of the sessions stage."""
    hrr = np.clip(profile.intensity(bpm), 0.0, 1.0)
    return float(np.nansum(cover_s * (hrr * 0.64 * np.exp(k * hrr)) / 60.0))
