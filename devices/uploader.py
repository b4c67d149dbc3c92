"""Moves spooled samples to the service in batches; retries what can succeed later, refuses what cannot.

The service is idempotent on (device, t), so a batch whose acknowledgement was lost is simply sent again:
the repeat comes back as duplicates, never as doubles. Samples leave the spool only after a 200.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from devices.errors import UploadRefused, UploadUnavailable
from devices.spool import Spool, SpooledSample

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "Rejection",
    "UploadCounters",
    "UploadResult",
    "Uploader",
    "backoff_delay",
    "is_retryable_status",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_MAX_S = 300.0  # never let one header park the uploader longer than this
REQUEST_TIMEOUT_S = 60.0  # safety net outside httpx's own timeouts
IDLE_POLL_S = 1.0  # how often run() looks again at a spool with less than a batch in it
DEFAULT_BATCH_SIZE = 1000
_MAX_EXPONENT = 64  # 2**64 * any base exceeds any sane cap; avoids float overflow for huge attempts


def backoff_delay(
    attempt: int, *, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S, rng: random.Random
) -> float:
    """Seconds to wait before retry `attempt` (0 for the first): exponential backoff with full jitter.

    uniform(0, min(cap, base * 2**attempt)), after AWS's "Exponential Backoff And Jitter" (Brooker, 2015):
    full jitter spreads reconnecting recorders so a restarted service is not hit by all of them at once.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    ceiling = min(cap_s, base_s * 2 ** min(attempt, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling)


def is_retryable_status(status_code: int) -> bool:
    """Whether an HTTP answer can turn into a success by waiting: timeouts, rate limits, server errors."""
    return status_code in (408, 425, 429) or status_code >= 500


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header in its delta-seconds form (HTTP dates are ignored), capped."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S) if seconds == seconds else None  # NaN is not a delay


@dataclass(frozen=True, slots=True)
class Rejection:
    """A sample the service would never accept; it is acked (retrying cannot help) and counted."""

    t_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What one batch did: `sent` = accepted + duplicates + len(rejected)."""

    sent: int
    accepted: int = 0
    duplicates: int = 0
    rejected: tuple[Rejection, ...] = ()


@dataclass(slots=True)
class UploadCounters:
    """Running totals for the recorder's live line."""

    uploaded: int = 0  # new samples the service stored
    duplicates: int = 0  # samples it already had (a repeat after a lost acknowledgement)
    rejected: int = 0
    retries: int = 0
    batches: int = 0
    last_error: str | None = None


def sample_json(sample: SpooledSample) -> dict[str, Any]:
    """One sample in the ingest API's JSON shape."""
    return {"t": sample.t_ms, "bpm": sample.bpm, "rr_ms": list(sample.rr_ms), "contact": sample.contact}


class Uploader:
    """Drains one device's spool to `POST {server}/api/v1/devices/{device_id}/samples`."""

    def __init__(
        self,
        spool: Spool,
        *,
        client: httpx.AsyncClient,
        server_url: str,
        device_key: str,
        device_id: int,
        token: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        idle_poll_s: float = IDLE_POLL_S,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        strap_name: str | None = None,
    ) -> None:
        """Args: `client` is shared and owned by the caller; `sleep` and `clock` are injected for tests;
        `strap_name` goes with the address into each log line, so a user can tell which strap it is."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.spool = spool
        self.device_key = device_key
        self.label = f"{strap_name} ({device_key})" if strap_name else device_key
        self.url = f"{server_url.rstrip('/')}/api/v1/devices/{device_id}/samples"
        self.batch_size = batch_size
        self.counters = UploadCounters()
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._idle_poll_s = idle_poll_s
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock

    async def upload_once(self) -> UploadResult:
        """Send the oldest batch once and ack it after a 200; an empty spool gives `UploadResult(0)`.

        Raises:
            UploadUnavailable: the service cannot take it now; nothing was acked, try again later.
            UploadRefused: the service refuses for good (401/403/404, or a body it cannot read).
        """
        batch = await asyncio.to_thread(self.spool.pending, self.device_key, self.batch_size)
        while batch:
            try:
                answer = await self._post([sample for _, sample in batch])
            except UploadRefused as exc:
                if exc.status_code != 413 or len(batch) == 1:
                    raise
                batch = batch[: len(batch) // 2]  # the service caps batches: halve and go on
                self.batch_size = len(batch)
                log.info("%s: batch too large for %s, now %d samples", self.label, self.url, len(batch))
                continue
            result = self._result(answer, [sample for _, sample in batch])
            await asyncio.to_thread(self.spool.ack, [row_id for row_id, _ in batch])
            self._count(result)
            return result
        return UploadResult(0)

    async def run(self, stop: asyncio.Event) -> None:
        """Upload until `stop` is set, backing off on transient failures; UploadRefused ends it."""
        attempt = 0
        while not stop.is_set():
            result, delay_s = await self._attempt(attempt)
            if result is None:
                attempt += 1
                await self._pause(delay_s, stop)
                continue
            attempt = 0
            if result.sent < self.batch_size:  # caught up: wait for more samples
                await self._pause(self._idle_poll_s, stop)

    async def drain(self, timeout_s: float) -> bool:
        """Upload until this device's spool is empty (True) or `timeout_s` has passed (False).

        Raises:
            UploadRefused: as `upload_once`.
        """
        deadline = self._clock() + timeout_s
        attempt = 0
        while await asyncio.to_thread(self.spool.depth, self.device_key):
            remaining_s = deadline - self._clock()
            if remaining_s <= 0:
                return False
            try:
                async with asyncio.timeout(remaining_s):
                    result, delay_s = await self._attempt(attempt)
            except TimeoutError:
                return False
            if result is None:
                attempt += 1
                await self._sleep(min(delay_s, max(0.0, deadline - self._clock())))
            else:
                attempt = 0
        return True

    async def _attempt(self, attempt: int) -> tuple[UploadResult | None, float]:
        """One upload: its result, or None and the delay before retry `attempt` after a transient failure."""
        try:
            return await self.upload_once(), 0.0
        except UploadUnavailable as exc:
            self.counters.retries += 1
            self.counters.last_error = str(exc)
            delay_s = backoff_delay(
                attempt, base_s=self._backoff_base_s, cap_s=self._backoff_cap_s, rng=self._rng
            )
            if exc.retry_after_s is not None:
                delay_s = max(delay_s, exc.retry_after_s)
            log.warning(
                "%s: upload to %s failed (%s); retry %d in %.2f s",
                self.label,
                self.url,
                exc.detail,
                attempt + 1,
                delay_s,
            )
            return None, delay_s

    async def _pause(self, delay_s: float, stop: asyncio.Event) -> None:
        """Sleep `delay_s` with the injected sleep, or less if `stop` is set meanwhile."""
        sleeper = asyncio.ensure_future(self._sleep(delay_s))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    async def _post(self, samples: Sequence[SpooledSample]) -> httpx.Response:
        """POST one batch; sort the answer into success, retry later, or refused."""
        body = {"samples": [sample_json(s) for s in samples]}
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                answer = await self._client.post(self.url, json=body, headers=self._headers)
        except (httpx.TransportError, TimeoutError) as exc:
            raise UploadUnavailable(self.url, f"{type(exc).__name__}: {exc}") from exc
        if answer.status_code == 200:
            return answer
        detail = _detail(answer)
        if is_retryable_status(answer.status_code):
            retry_after_s = parse_retry_after(answer.headers.get("retry-after"))
            raise UploadUnavailable(
                self.url,
                f"{answer.status_code} {detail}",
                status_code=answer.status_code,
                retry_after_s=retry_after_s,
            )
        raise UploadRefused(answer.status_code, self.url, detail)

    def _result(self, answer: httpx.Response, samples: Sequence[SpooledSample]) -> UploadResult:
        """Read `{accepted, duplicates, rejected: [{index, reason}]}`; an unreadable 200 is retried."""
        try:
            data = answer.json()
            rejected = tuple(
                Rejection(samples[int(r["index"])].t_ms, str(r["reason"])) for r in data["rejected"]
            )
            result = UploadResult(len(samples), int(data["accepted"]), int(data["duplicates"]), rejected)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise UploadUnavailable(self.url, f"unreadable answer: {answer.text[:200]!r}") from exc
        if result.accepted + result.duplicates + len(rejected) != result.sent:
            log.warning(
                "%s: %s counted %d+%d+%d for %d samples sent",
                self.label,
                self.url,
                result.accepted,
                result.duplicates,
                len(rejected),
                result.sent,
            )
        return result

    def _count(self, result: UploadResult) -> None:
        """Add one acknowledged batch to the counters and log what the service rejected in one line: a batch
        of 1,000 impossible samples is one line, not 1,000 (the counters and the result keep them all)."""
        c = self.counters
        c.batches += 1
        c.uploaded += result.accepted
        c.duplicates += result.duplicates
        c.rejected += len(result.rejected)
        c.last_error = None
        if result.rejected:
            first = result.rejected[0]
            log.warning("%s: %d of %d samples rejected by %s, the first (t=%d ms): %s", self.label,
                        len(result.rejected), result.sent, self.url, first.t_ms, first.reason)  # fmt: skip


def _detail(answer: httpx.Response) -> str:
    """The service's `{detail}` message, or the start of the body."""
    try:
        return str(answer.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return answer.text[:200]
