"""The service worker's version and precache list (dashboards/pwa.py): a deploy never keeps an old shell."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dashboards.pwa import STATIC_DIR, WORKER_SOURCE, pwa_router, shell_version, worker_script
from dashboards.web import SHELL_PAGES


def test_the_version_follows_every_file_of_the_shell(tmp_path: Path) -> None:
    static, templates = tmp_path / "static", tmp_path / "templates"
    (static / "js").mkdir(parents=True)
    templates.mkdir()
    (static / "js" / "a.js").write_text("one")
    (templates / "page.html").write_text("<p>")
    first = shell_version((static, templates), WORKER_SOURCE)
    assert shell_version((static, templates), WORKER_SOURCE) == first
    (static / "js" / "a.js").write_text("two")
    second = shell_version((static, templates), WORKER_SOURCE)
    (templates / "page.html").write_text("<p>!")
    third = shell_version((static, templates), WORKER_SOURCE)
    (static / "js" / "a.js").rename(static / "js" / "b.js")
    assert len({first, second, third, shell_version((static, templates), WORKER_SOURCE)}) == 4


def test_the_worker_is_served_with_its_version_and_precaches_the_shell_but_no_api() -> None:
    app = FastAPI()
    app.include_router(pwa_router(SHELL_PAGES))
    answer = TestClient(app).get("/dashboard/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "no-cache"  # update checks always reach the server
    assert answer.headers["service-worker-allowed"] == "/dashboard"
    version = answer.headers["x-shell-version"]
    assert f'const VERSION = "{version}";' in answer.text
    match = re.search(r"const PRECACHE = (\{.*\});", answer.text)
    assert match is not None
    precache = json.loads(match.group(1))
    assert "/dashboard" in precache["pages"] and "/dashboard/record" in precache["pages"]
    assets = precache["assets"]
    for needed in ("js/pages/record.js", "js/hrs.js", "js/pwa.js", "css/app.css", "manifest.webmanifest"):
        assert f"/dashboard/static/{needed}" in assets
    assert not [a for a in assets if "/api/" in a or "redoc" in a or "swagger" in a]
    assert all((STATIC_DIR / a.removeprefix("/dashboard/static/")).is_file() for a in assets)
    assert worker_script(SHELL_PAGES, "x").count('"x"') == 1
