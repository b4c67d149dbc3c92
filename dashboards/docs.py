"""FastAPI's interactive docs (/docs Swagger UI, /redoc ReDoc) from assets vendored under static/vendor.

FastAPI's own pages load both from a CDN (blank on a server without internet) and start Swagger UI with an
inline script, which the dashboard's Content-Security-Policy forbids; here both load from this origin and
Swagger UI starts from a static file (js/docs/swagger-init.js) that reads its settings from data attributes.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse
from markupsafe import escape

VENDOR = "/dashboard/static/vendor"
SWAGGER_JS = f"{VENDOR}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui/swagger-ui.css"
SWAGGER_OAUTH2_JS = f"{VENDOR}/swagger-ui/oauth2-redirect.js"
SWAGGER_INIT_JS = "/dashboard/static/js/docs/swagger-init.js"
REDOC_JS = f"{VENDOR}/redoc/redoc.standalone.js"
FAVICON = "/dashboard/static/favicon.svg"
DOCS_URL, REDOC_URL, OAUTH2_REDIRECT_URL = "/docs", "/redoc", "/docs/oauth2-redirect"


def swagger_page(*, title: str, openapi_url: str) -> str:
    """Swagger UI's page: the vendored bundle, then the start-up file (no inline script)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{SWAGGER_CSS}">
<link rel="icon" href="{FAVICON}" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}" data-oauth2-redirect-url="{OAUTH2_REDIRECT_URL}"></div>
<script src="{SWAGGER_JS}"></script>
<script src="{SWAGGER_INIT_JS}"></script>
</body>
</html>
"""


def oauth2_redirect_page() -> str:
    """Swagger UI's OAuth2 redirect target, as the package ships it, with its script from the vendor folder."""
    return f'<!doctype html>\n<html lang="en-US">\n<body>\n<script src="{SWAGGER_OAUTH2_JS}"></script>\n</body>\n</html>\n'


def mount_docs(app: FastAPI) -> None:
    """Serve /docs, /docs/oauth2-redirect and /redoc (create the app with docs_url=None, redoc_url=None)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} · API"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_page(title=title, openapi_url=openapi_url))

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return HTMLResponse(oauth2_redirect_page())

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc() -> HTMLResponse:
        # FastAPI's ReDoc page has no inline script; Google Fonts off (ReDoc falls back to system fonts).
        return get_redoc_html(
            openapi_url=openapi_url, title=title, redoc_js_url=REDOC_JS, redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )  # fmt: skip
