"""Serves the browser dashboard: server-rendered page shells and the static files their scripts live in."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from dashboards.docs import mount_docs
from dashboards.pwa import pwa_router

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")

# Pages hold no inline script or style; the Content-Security-Policy that enforces it is set on every
# answer by service/web/security_headers.py, the one owner of security headers.

# path segment -> (template, title, nav label or None when the page is not in the main navigation)
PAGES: dict[str, tuple[str, str, str | None]] = {
    "": ("today.html", "Today", "Today"),
    "weeks": ("weeks.html", "Weeks and months", "Weeks"),
    "mood": ("mood.html", "Mood and exercise", "Mood"),
    "sessions": ("sessions.html", "Sessions", "Sessions"),
    "recovery": ("recovery.html", "Recovery", "Recovery"),
    "interviews": ("interviews.html", "Interviews", "Interviews"),
    "journal": ("journal.html", "Journal", "Journal"),
    "devices": ("devices.html", "Devices", "Devices"),
    "record": ("record.html", "Record", "Record"),
    "profile": ("profile.html", "Profile", "Profile"),
    "login": ("login.html", "Log in", None),
    "signup": ("signup.html", "Create your account", None),
}
DETAIL_PAGES: dict[str, tuple[str, str, str]] = {
    "sessions": ("session.html", "Session", "sessions"),
    "interviews": ("interview.html", "Interview", "interviews"),
}
MAX_ID = 2**31 - 1  # ids are 32-bit (service.web.fields.DbId): a larger one names nothing
NAV = [(f"/dashboard/{slug}".rstrip("/"), label, slug) for slug, (_, _, label) in PAGES.items() if label]
SHELL_PAGES = [f"/dashboard/{slug}".rstrip("/") for slug in PAGES]  # what the service worker precaches


def _render(
    request: Request, template: str, title: str, current: str, item_id: int | None = None
) -> HTMLResponse:
    """One page shell; its script fetches the data, so the HTML itself holds nothing private."""
    context = {"title": title, "current": current, "nav": NAV, "item_id": item_id, "page": template[:-5]}
    return TEMPLATES.TemplateResponse(request, template, context)


def _router() -> APIRouter:
    router = APIRouter(prefix="/dashboard", include_in_schema=False)

    @router.get("", response_class=HTMLResponse)
    def today(request: Request) -> HTMLResponse:
        return _render(request, "today.html", "Today", "")

    @router.get("/{slug}", response_class=HTMLResponse)
    def page(request: Request, slug: str) -> HTMLResponse:
        if slug not in PAGES or not slug:
            return _not_found()
        template, title, _ = PAGES[slug]
        return _render(request, template, title, slug)

    @router.get("/{slug}/{item_id}", response_class=HTMLResponse)
    def detail(request: Request, slug: str, item_id: str) -> HTMLResponse:
        if (
            slug not in DETAIL_PAGES
            or not (item_id.isascii() and item_id.isdigit())
            or not 0 < int(item_id) <= MAX_ID
        ):
            return _not_found()
        template, title, current = DETAIL_PAGES[slug]
        return _render(request, template, title, current, int(item_id))

    return router


def _not_found() -> HTMLResponse:
    body = TEMPLATES.get_template("not_found.html").render(nav=NAV, current="", title="Not found", page="")
    return HTMLResponse(body, status_code=404)


def mount_dashboards(app: FastAPI) -> None:
    """Serve the dashboard at /dashboard (static files under /dashboard/static), the API docs, and send / there."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.include_router(pwa_router(SHELL_PAGES))  # before the pages: /dashboard/{slug} would take sw.js
    app.include_router(_router())
    mount_docs(app)  # /docs and /redoc from the vendored Swagger UI and ReDoc

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=307)
