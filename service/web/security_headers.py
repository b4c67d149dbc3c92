"""Security headers on every answer, owned here alone: the dashboard's Content-Security-Policy and its kin.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware), so streamed answers such as the live
server-sent events pass through untouched and unbuffered.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Everything a page needs comes from this origin: no inline script or style, no CDN, no outside fonts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The interactive docs (dashboards/docs.py) load the vendored Swagger UI and ReDoc from this origin with no
# inline script; both set styles from script (ReDoc through styled-components) and ReDoc searches in a
# worker it builds from a blob, so their pages (which hold no user data) allow inline styles and blob workers.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
# Answers of the API hold health data and a private journal: no shared or browser cache may keep them.
API_PREFIX = "/api/"


def relative_location(location: str, host: str | None) -> str:
    """`location` as a path when it points back at the host the request named.

    Starlette builds the trailing-slash redirect (and `url_for`) from the request's `Host` header, so a
    forged `Host: evil.example` would send the browser to evil.example. The service never redirects
    off its own origin, so an absolute URL on the request's own host becomes its path and query.
    """
    parts = urlsplit(location)
    if not parts.netloc or (host is not None and parts.netloc.lower() != host.lower()):
        return location
    return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


class SecurityHeaders:
    """Adds the policy headers to every HTTP answer unless the route set its own, and keeps every
    redirect on the service's own origin (see relative_location)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = dict(BASE_HEADERS)
        docs = path in DOCS_PATHS
        extra["content-security-policy"] = DOCS_CONTENT_SECURITY_POLICY if docs else CONTENT_SECURITY_POLICY
        if path.startswith(API_PREFIX):
            extra["cache-control"] = "no-store"

        host = Headers(scope=scope).get("host")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "location" in headers:
                    headers["location"] = relative_location(headers["location"], host)
                for name, value in extra.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
