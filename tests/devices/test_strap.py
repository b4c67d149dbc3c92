"""Finding, streaming and reconnecting a strap through bleak's API; beat placement and retry policy (pure)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import hrs
from devices.errors import StrapNotFound
from devices.scan import find_strap, scan_straps
from devices.simulator import StrapProfile, Tick, VirtualStrap
from devices.strap import (
    MAX_BEAT_LAG_MS,
    RETRY_MAX_DELAY_S,
    LinkState,
    Notification,
    SampleDecoder,
    StrapLink,
    beat_times_ms,
    retry_delay_s,
)

STEADY = [Tick(float(i), 75, (800.0,)) for i in range(1, 3000)]

# --- pure: beat times -----------------------------------------------------------------------------


def test_first_notification_anchors_the_last_beat_at_arrival() -> None:
    assert beat_times_ms(10_000, [800.0, 900.0], None) == (9_100.0, 10_000.0)


def test_later_notifications_chain_rr_from_the_last_beat() -> None:
    assert beat_times_ms(11_050, [1000.0], 10_000.0) == (11_000.0,)


def test_chain_past_arrival_or_lagging_far_behind_is_reanchored() -> None:
    assert beat_times_ms(10_500, [1000.0], 10_000.0) == (10_500.0,)  # a beat cannot follow its report
    after_gap = 10_000.0 + 1000.0 + MAX_BEAT_LAG_MS + 1
    assert beat_times_ms(after_gap, [1000.0], 10_000.0) == (after_gap,)  # beats were lost in a gap


def test_no_rr_no_beats() -> None:
    assert beat_times_ms(5_000, [], 1_000.0) == ()


notifications = st.lists(
    st.tuples(st.integers(0, 3_000), st.lists(st.floats(0, 3_000, allow_nan=False), max_size=9)),
    min_size=1,
    max_size=60,
)


@given(notifications)
def test_beats_strictly_increase_across_notifications(stream: list[tuple[int, list[float]]]) -> None:
    receive_ms, last_beat_ms, beats = 1_700_000_000_000, None, []
    for step_ms, rr_ms in stream:
        receive_ms += step_ms
        placed = beat_times_ms(receive_ms, rr_ms, last_beat_ms)
        assert len(placed) == len(rr_ms)
        beats.extend(placed)
        last_beat_ms = placed[-1] if placed else last_beat_ms
    assert all(b > a for a, b in zip(beats, beats[1:], strict=False))


@given(notifications)
def test_decoded_sample_times_strictly_increase(stream: list[tuple[int, list[float]]]) -> None:
    decoder, receive_ms, times = SampleDecoder(), 1_700_000_000_000, []
    for step_ms, rr_ms in stream:
        receive_ms += step_ms
        payload = hrs.encode_measurement(hrs.HeartRateMeasurement(70, True, None, tuple(rr_ms)))
        sample = decoder.decode(Notification(receive_ms, payload))
        assert sample is not None
        # never later than arrival, unless zero-length RR must be spread by 1 ms to stay increasing
        assert sample.t_ms <= max(receive_ms, times[-1] if times else 0) + len(rr_ms) + 1
        times.append(sample.t_ms)
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_decoder_counts_malformed_by_reason_and_goes_on() -> None:
    decoder = SampleDecoder()
    assert decoder.decode(Notification(1_000, b"")) is None
    assert decoder.decode(Notification(2_000, b"\x10\x48\x00")) is None
    sample = decoder.decode(Notification(3_000, bytes([0x16, 72]) + (1024).to_bytes(2, "little")))
    assert sample is not None and (sample.t_ms, sample.bpm, sample.rr_ms, sample.contact) == (
        3_000,
        72,
        (1000.0,),
        True,
    )
    assert decoder.malformed == {hrs.Reason.EMPTY: 1, hrs.Reason.ODD_RR: 1}
    assert decoder.decoded == 1


def test_sample_without_rr_is_stamped_at_arrival() -> None:
    decoder = SampleDecoder()
    first = decoder.decode(Notification(5_000, bytes([0x00, 80])))
    same_ms = decoder.decode(Notification(5_000, bytes([0x00, 81])))
    assert first is not None and same_ms is not None
    assert (first.t_ms, same_ms.t_ms, first.rr_ms, first.contact) == (5_000, 5_001, (), None)


# --- pure: retry policy ---------------------------------------------------------------------------


def test_retry_policy_is_immediate_then_backs_off_to_a_cap() -> None:
    delays = [retry_delay_s(attempt, TimeoutError()) for attempt in range(1, 10)]
    assert delays[0] == 0.0
    assert delays[1:4] == [0.25, 0.5, 1.0]
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False)) and max(delays) == RETRY_MAX_DELAY_S
    not_found = StrapNotFound("virtual", address=None, name=None, timeout_s=1)
    assert retry_delay_s(5, not_found) == 1.0


# --- over the virtual link ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_find_by_name_address_and_strongest() -> None:
    async with (
        VirtualStrap("virtual", STEADY, name="Alpha", speed=20) as alpha,
        VirtualStrap("virtual", STEADY, name="Beta", speed=20, profile=StrapProfile(uint16_bpm=True)),
    ):
        assert (await find_strap("virtual", name="Beta", timeout_s=3)).name == "Beta"
        assert (await find_strap("virtual", address=alpha.address.lower(), timeout_s=3)).name == "Alpha"
        assert (await find_strap("virtual", timeout_s=3)).name in {"Alpha", "Beta"}
        listed = await scan_straps("virtual", 0.3)
        assert sorted(s.name for s in listed if s.name) == ["Alpha", "Beta"]
    with pytest.raises(StrapNotFound):
        await find_strap("virtual", name="Gamma", timeout_s=0.3)


async def _wait_for(condition, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.anyio
async def test_link_streams_reads_and_reconnects_after_drops() -> None:
    stop = asyncio.Event()
    async with VirtualStrap("virtual", STEADY, name="Keeper", speed=20) as strap:
        link = StrapLink("virtual", name="Keeper", scan_timeout_s=3)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(link.run(stop))
            await _wait_for(lambda: link.stats.notifications >= 3, 5)
            assert (link.stats.battery_pct, link.stats.body_location) == (87, hrs.BodySensorLocation.CHEST)
            loop = asyncio.get_running_loop()
            for drop in range(1, 3):
                await strap.drop_link()
                dropped_at, seen = loop.time(), link.stats.notifications
                await _wait_for(lambda seen=seen: link.stats.notifications > seen + 1, 5)  # back within 5 s
                assert loop.time() - dropped_at < 5.0
                assert link.stats.disconnections == drop and link.stats.connections == drop + 1
            stop.set()
    assert link.stats.state is LinkState.STOPPED
    queued = [link.queue.get_nowait() for _ in range(link.queue.qsize())]
    assert len(queued) == link.stats.notifications <= strap.counters.notifications_sent


@pytest.mark.anyio
async def test_silent_strap_is_called_stale_and_reconnected() -> None:
    stop = asyncio.Event()
    async with VirtualStrap("virtual", STEADY, name="Hung", speed=20) as strap:
        link = StrapLink("virtual", name="Hung", stale_after_s=0.3, scan_timeout_s=3)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(link.run(stop))
            await _wait_for(lambda: link.stats.notifications >= 1, 5)
            strap.set_silent()
            await _wait_for(lambda: link.stats.stale_reconnects >= 1, 2)
            strap.set_silent(False)
            await _wait_for(
                lambda: link.stats.connections >= 2 and link.stats.state is LinkState.STREAMING, 5
            )
            stop.set()
    assert link.stats.disconnections == 0  # no disconnect event came: staleness alone triggered it
