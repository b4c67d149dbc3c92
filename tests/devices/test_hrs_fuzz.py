"""100,000 random and mutated payloads: a value Bumble agrees with, or MalformedMeasurement, nothing else."""

from __future__ import annotations

import numpy as np
from bumble.profiles.heart_rate_service import HeartRateService
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.hrs import HeartRateMeasurement, MalformedMeasurement, decode_measurement, encode_measurement

SEED = 20240611
N_RANDOM = 50_000
N_MUTATED = 50_000
TICK_MS = 1000 / 1024


def random_payloads(rng: np.random.Generator, n: int) -> list[bytes]:
    """Uniform bytes of length 0-24 (the default ATT MTU carries 20), biased to short ones."""
    lengths = np.minimum(rng.geometric(0.15, size=n) - 1, 24)
    blob = rng.integers(0, 256, size=int(lengths.sum()), dtype=np.uint8).tobytes()
    ends = np.cumsum(lengths)
    return [blob[end - length:end] for end, length in zip(ends, lengths, strict=True)]


def valid_payloads(rng: np.random.Generator, n: int) -> list[bytes]:
    """Well-formed payloads over every flag combination, to be mutated."""
    out = []
    for flags, bpm, energy, n_rr in zip(
        rng.integers(0, 32, n), rng.integers(0, 300, n), rng.integers(0, 65536, n), rng.integers(0, 6, n),
        strict=True,
    ):
        m = HeartRateMeasurement(
            int(bpm),
            None if not flags & 0b100 else bool(flags & 0b10),
            int(energy) if flags & 0b1000 else None,
            tuple(float(u) * TICK_MS for u in rng.integers(0, 65536, int(n_rr))),
            bool(flags & 1),
        )
        out.append(encode_measurement(m))
    return out


def mutate(rng: np.random.Generator, payload: bytes) -> bytes:
    """One corruption a radio or buggy firmware produces: flip, truncate, extend, drop, new flags."""
    data = bytearray(payload)
    kind = rng.integers(0, 5)
    if kind == 0 and data:
        data[rng.integers(0, len(data))] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:
        del data[rng.integers(0, len(data) + 1):]
    elif kind == 2:
        data += rng.integers(0, 256, int(rng.integers(1, 4)), dtype=np.uint8).tobytes()
    elif kind == 3 and data:
        del data[rng.integers(0, len(data))]
    elif data:
        data[0] = int(rng.integers(0, 256))
    return bytes(data)


def check(payload: bytes) -> bool:
    """Decode; if accepted, Bumble's decoder must read the same values. Returns whether it was accepted."""
    try:
        m = decode_measurement(payload)
    except MalformedMeasurement as exc:
        assert exc.payload == payload
        return False
    theirs = HeartRateService.HeartRateMeasurement.from_bytes(payload)
    assert (m.bpm, m.sensor_contact, m.energy_expended_kj) == (
        theirs.heart_rate, theirs.sensor_contact_detected, theirs.energy_expended)
    assert len(m.rr_intervals_ms) == len(theirs.rr_intervals or ())
    assert all(abs(a - b * 1000) <= TICK_MS for a, b in zip(m.rr_intervals_ms, theirs.rr_intervals or (),
                                                            strict=True))
    return True


def test_100k_random_and_mutated_payloads_raise_only_malformed_measurement() -> None:
    rng = np.random.default_rng(SEED)
    corpus = random_payloads(rng, N_RANDOM)
    corpus += [mutate(rng, p) for p in valid_payloads(rng, N_MUTATED)]
    assert len(corpus) == 100_000
    accepted = sum(check(p) for p in corpus)
    # Both outcomes are exercised heavily, so neither path is vacuous.
    assert 10_000 < accepted < 90_000


@settings(max_examples=2_000)
@given(st.binary(max_size=40))
def test_any_bytes_raise_only_malformed_measurement(payload: bytes) -> None:
    check(payload)
