"""Refuses JSON bodies with text no database can store: NUL characters and unpaired UTF-16 surrogates.

JSON may spell both (`\\u0000`, `\\ud83d` alone) and Python decodes them into a str, but PostgreSQL refuses
NUL in text, SQLite cuts text at it, and neither driver can encode a lone surrogate: found by schemathesis
as 500s on every route that stores text. One check at the edge answers 422 for all of them. The raw bytes
are searched first, so the common body (no such escape) costs one scan and is never decoded twice.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
DETAIL = b'{"detail":"text may not hold NUL characters or unpaired surrogates"}'


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
    except ValueError:
        return False  # not JSON: the route's own validation answers


class RefuseUnstorableText:
    """ASGI middleware: a JSON request whose text cannot be stored is answered 422 before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if unstorable(body):
            await send({"type": "http.response.start", "status": 422,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(DETAIL)).encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": DETAIL})
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
