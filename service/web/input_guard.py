"""Request bodies at the edge: a size limit by path, and JSON text no database can store (NUL characters,
unpaired UTF-16 surrogates).

JSON may spell both (`\\u0000`, `\\ud83d` alone) and Python decodes them into a str, but PostgreSQL refuses
NUL in text, SQLite cuts text at it, and neither driver can encode a lone surrogate: found by schemathesis
as 500s on every route that stores text. One check at the edge answers 422 for all of them. The raw bytes
are searched first, so the common body (no such escape) costs one scan and is never decoded twice.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
DETAIL = "text may not hold NUL characters or unpaired surrogates"


def _has_bad_text(value: Any) -> bool:
    """Whether any string (key or value) in a decoded JSON document holds NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _BAD_TEXT.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def unstorable(body: bytes) -> bool:
    """True when the JSON body decodes to text holding NUL or an unpaired surrogate."""
    if not _ESCAPES.search(body):
        return False
    try:
        return _has_bad_text(json.loads(body))
    except (ValueError, RecursionError):
        return False  # not JSON, or nested too deeply: the route's own parsing answers


class BodyGuard:
    """ASGI middleware for every request body: a size limit by path, and JSON text no database can store.

    A body announced (Content-Length) over its path's limit is answered 413 before a byte of it is read; a
    streamed one as soon as it passes the limit. JSON text is checked once its body is complete, as the
    route reads it, so that authentication and the route's own limits come first and the chunks are joined
    once. `limits` pairs path prefixes with sizes in bytes, the first prefix that matches applies.
    """

    def __init__(self, app: ASGIApp, limits: list[tuple[str, int]]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = next((size for prefix, size in self.limits if path.startswith(prefix)), None)
        headers = dict(scope.get("headers") or [])
        announced = _content_length(headers.get(b"content-length"))
        if limit is not None and announced is not None and announced > limit:
            await _answer(send, 413, _too_large(limit))
            return
        is_json = b"json" in headers.get(b"content-type", b"")
        chunks: list[bytes] = []
        size = 0

        async def guarded() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] != "http.request":
                return message
            body = message.get("body", b"")
            size += len(body)
            if limit is not None and size > limit:
                raise HTTPException(413, _too_large(limit))
            if is_json:
                chunks.append(body)
                if not message.get("more_body", False) and unstorable(b"".join(chunks)):
                    raise HTTPException(422, DETAIL)
            return message

        await self.app(scope, guarded, send)


def _content_length(value: bytes | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _too_large(limit: int) -> str:
    return f"request body larger than this route takes ({limit:,} bytes)"


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
