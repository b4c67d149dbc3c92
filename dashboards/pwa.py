"""The dashboard as an installable web app: the service worker at /dashboard/sw.js and what it precaches.

The worker's cache is named after a hash of the static files, the page templates and the worker itself,
taken when the app starts: a deploy that changes any of them gets a new cache (the old one is deleted when
the new worker takes over), so a phone never keeps an old shell. The hash also lets the worker treat every
static file as immutable within its version (cache-first) while pages stay network-first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
WORKER_SOURCE = HERE / "sw.js"
STATIC_URL = "/dashboard/static"
# The API docs' bundles (megabytes, for /docs and /redoc outside the worker's scope) are not precached.
NOT_PRECACHED = ("vendor/redoc/", "vendor/swagger-ui/", "js/docs/")
PRECACHED_SUFFIXES = (".js", ".css", ".svg", ".png", ".webmanifest")
# The worker lives at /dashboard/sw.js, whose default maximum scope is /dashboard/; the start URL is
# /dashboard itself (no slash), so the worker asks for the scope "/dashboard", which also covers it.
SCOPE = "/dashboard"


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def shell_version(roots: Iterable[Path] = (STATIC_DIR, TEMPLATES_DIR), worker: Path = WORKER_SOURCE) -> str:
    """A short hash of every file the shell is built from (names and contents)."""
    digest = hashlib.sha256()
    for root in roots:
        for path in _files(root):
            digest.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(worker.read_bytes())
    return digest.hexdigest()[:16]


def static_assets() -> list[str]:
    """The static URLs the worker stores at install, so every page opens offline after one visit."""
    return [
        f"{STATIC_URL}/{rel}"
        for path in _files(STATIC_DIR)
        if path.suffix in PRECACHED_SUFFIXES
        and not (rel := path.relative_to(STATIC_DIR).as_posix()).startswith(NOT_PRECACHED)
    ]


def worker_script(pages: list[str], version: str) -> str:
    """The worker's source with its version and precache list filled in."""
    source = WORKER_SOURCE.read_text()
    precache = {"pages": pages, "assets": static_assets()}
    return source.replace('"__VERSION__"', json.dumps(version)).replace("__PRECACHE__", json.dumps(precache))


def pwa_router(pages: list[str]) -> APIRouter:
    """GET /dashboard/sw.js for `pages` (the shell pages' paths); include it before the page routes."""
    version = shell_version()
    body = worker_script(pages, version)
    router = APIRouter(include_in_schema=False)

    @router.get("/dashboard/sw.js")
    def service_worker() -> Response:
        # no-cache: the browser asks on every update check, so a deploy reaches it at the next visit.
        headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": SCOPE, "X-Shell-Version": version}
        return Response(body, media_type="text/javascript", headers=headers)

    return router
