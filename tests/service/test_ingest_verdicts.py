"""One validator: whatever shares its batch, and whichever path parses it, an item gets one verdict.

check_sample is the definition; the pydantic-core fast path over a whole JSON body and the per-item fast
path of validate_batch are optimisations that must never judge differently.
"""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.pipeline.ingest import EPOCH_MS_FLOOR, check_sample, parse_batch, validate_batch

NOW_MS = 1_780_000_000_000
TOLERANCE_MS = 300_000
MAX_ITEMS = 10_000

times = st.one_of(
    st.integers(NOW_MS - 10**9, NOW_MS + 2 * TOLERANCE_MS),
    st.integers(EPOCH_MS_FLOOR - 10**6, EPOCH_MS_FLOOR + 10**6),
    st.floats(NOW_MS - 10**6, NOW_MS + 10**6),
    st.sampled_from(["2026-05-01T10:00:00+00:00", "2026-05-01T10:00:00", "0001-01-01T00:00:00+00:00",
                     "1999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "yesterday", ""]),
    st.none(), st.booleans(), st.text(max_size=5),
)  # fmt: skip
numbers = st.one_of(
    st.integers(-5, 400), st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=400),
    st.sampled_from([70.0, 70.5, "70", None, True]),
)  # fmt: skip
rr_values = st.one_of(
    st.floats(min_value=0, max_value=4000, allow_nan=False), st.integers(0, 4000),
    st.sampled_from([0, 199.9, 200, 3000, 3000.1, "800", None, True]),
)  # fmt: skip
items = st.one_of(
    st.fixed_dictionaries(
        {"t": times, "bpm": numbers},
        optional={
            "rr_ms": st.one_of(st.none(), st.lists(rr_values, max_size=4), st.sampled_from(["800", 800])),
            "contact": st.sampled_from([True, False, None, 1, 0, "yes", "true"]),
        },
    ),
    st.sampled_from(["not an object", 3, None, []]),
)


def verdict_alone(item: object) -> object:
    try:
        sample, dropped = check_sample(item, NOW_MS, TOLERANCE_MS)
    except ValueError as exc:
        return ("rejected", str(exc))
    return ("accepted", sample, dropped)


def judged(verdict, batch: list[object]) -> list[object]:  # type: ignore[no-untyped-def]
    """Per index of the batch: its rejection, its sample, or None where an earlier item had its time."""
    out: list[object] = [None] * len(batch)
    for r in verdict.rejected:
        out[r.index] = ("rejected", r.reason)
    clean = iter(verdict.clean)
    seen: set[int] = set()
    for i, item in enumerate(batch):
        if out[i] is not None:
            continue
        alone = verdict_alone(item)
        if alone[0] == "accepted" and alone[1].t_ms in seen:  # a repeat: counted, not judged again
            continue
        sample = next(clean)
        seen.add(sample.t_ms)
        out[i] = ("accepted", sample, alone[2] if alone[0] == "accepted" else None)
    return out


def _json_safe(batch: list[object]) -> bool:
    return all(not (isinstance(v, float) and not math.isfinite(v)) for v in _walk(batch))


def _walk(x: object):  # type: ignore[no-untyped-def]
    if isinstance(x, dict):
        for v in x.values():
            yield from _walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from _walk(v)
    else:
        yield x


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items, min_size=1, max_size=12), st.data())
def test_every_item_gets_the_verdict_it_gets_alone(batch: list[object], data: st.DataObject) -> None:
    """Alone, in any batch, through the JSON body or the Python items: the same sample or the same reason."""
    expected = [verdict_alone(item) for item in batch]
    by_items = validate_batch(batch, NOW_MS, TOLERANCE_MS)
    body = json.dumps({"samples": batch}).encode()
    by_body = parse_batch(body, NOW_MS, TOLERANCE_MS, MAX_ITEMS)
    for verdict in (by_items, by_body):
        got = judged(verdict, batch)
        assert verdict.rr_dropped == sum(e[2] for e, g in zip(expected, got, strict=True) if g and g[0] == "accepted")
        for want, have in zip(expected, got, strict=True):
            if have is not None:
                assert have == want
    # any item taken out of the batch on its own is judged the same again
    i = data.draw(st.integers(0, len(batch) - 1))
    alone = parse_batch(json.dumps({"samples": [batch[i]]}).encode(), NOW_MS, TOLERANCE_MS, MAX_ITEMS)
    assert judged(alone, [batch[i]]) == [expected[i]]


def test_coercions_the_fast_path_used_to_make_are_refused_everywhere() -> None:
    for item in ({"t": NOW_MS, "bpm": 70, "contact": "yes"}, {"t": NOW_MS, "bpm": 70, "contact": 1},
                 {"t": NOW_MS, "bpm": 70, "rr_ms": ["800"]}, {"t": NOW_MS, "bpm": "70"}):  # fmt: skip
        body = json.dumps({"samples": [item, {"t": NOW_MS + 1000, "bpm": 70}]}).encode()
        verdict = parse_batch(body, NOW_MS, TOLERANCE_MS, MAX_ITEMS)
        assert [r.index for r in verdict.rejected] == [0], item


def test_times_before_2000_are_refused_in_every_form() -> None:
    for t in ("0001-01-01T00:00:00+00:00", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", 10**6):
        verdict = validate_batch([{"t": t, "bpm": 70}], NOW_MS, TOLERANCE_MS)
        assert verdict.clean == [] and len(verdict.rejected) == 1, t


def test_the_future_tolerance_in_the_reason_is_the_setting() -> None:
    verdict = validate_batch([{"t": NOW_MS + 120_000, "bpm": 70}], NOW_MS, 60_000)
    assert verdict.rejected[0].reason == "time is more than 1 minute in the future"
    verdict = validate_batch([{"t": NOW_MS + 120_000, "bpm": 70}], NOW_MS, 90_000)
    assert verdict.rejected[0].reason == "time is more than 90 s in the future"
