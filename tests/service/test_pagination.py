"""Pages of the journal lists (issue 15): `limit` and a `before` cursor, a Link to the next page, bounded
answers. On SQLite and PostgreSQL.

The walk is the property: whatever the page size, following rel="next" to the end and putting the pages
back in order gives the whole list, each item once, even with items added between two pages.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.core.models import CheckIn
from service.journal.schemas import MAX_QUESTION_CHARS, MAX_QUESTIONS
from service.web.pages import DEFAULT_LIMIT, MAX_LIMIT, PAGE_BYTES
from tests.support.users import TestUser, sign_up

API = "/api/v1"


@dataclass(frozen=True)
class Kind:
    """A journal list: where it is, the time it is ordered by, and a valid body at a given time."""

    name: str
    time_field: str
    body: Callable[[str], dict[str, Any]]


KINDS = (
    Kind("checkins", "at", lambda t: {"at": t, "confidence": 5}),
    Kind("interviews", "at", lambda t: {"company": "Acme", "role": "Dev", "at": t}),
    Kind("practice", "at", lambda t: {"at": t, "questions": ["Why us?"], "self_rating": 5}),
    Kind("applications", "applied_at", lambda t: {"company": "Acme", "role": "Dev", "applied_at": t}),
    Kind("feedback", "requested_at", lambda t: {"requested_at": t}),
)
PATHS = ("/checkins", "/interviews", "/practice", "/applications")
YEARS = itertools.count(1901)  # each example its own year: a window of the shared lists no other one touches


@pytest.fixture(scope="module")
def owner(client: TestClient) -> TestUser:
    return sign_up(client)


def _post(client: TestClient, user: TestUser, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(f"{API}{path}", json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _scope(client: TestClient, user: TestUser, kind: Kind) -> tuple[str, dict[str, str], dt.datetime]:
    """A list path and query holding nothing yet, and the time its items are put at."""
    start = dt.datetime(next(YEARS), 1, 1, tzinfo=dt.UTC)
    if kind.name == "feedback":  # a new interview has no feedback: no window needed
        interview = _post(client, user, "/interviews", KINDS[1].body(start.isoformat()))
        return f"/interviews/{interview['id']}/feedback", {}, start
    window = {"from": start.isoformat(), "to": start.replace(year=start.year + 1).isoformat()}
    return f"/{kind.name}", window, start


def _key(kind: Kind, item: dict[str, Any]) -> tuple[dt.datetime, int]:
    return dt.datetime.fromisoformat(item[kind.time_field]), item["id"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    minutes=st.lists(st.integers(0, 4), max_size=13),  # few distinct times: ties, ordered by id
    limit=st.integers(1, 5),
    added=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=4),  # (after page, minute)
)
def test_walking_the_pages_gives_the_whole_list_in_order_each_item_once(
    client: TestClient,
    owner: TestUser,
    kind: Kind,
    minutes: list[int],
    limit: int,
    added: list[tuple[int, int]],
) -> None:
    path, window, start = _scope(client, owner, kind)

    def make(minute: int) -> dict[str, Any]:
        return _post(client, owner, path, kind.body((start + dt.timedelta(minutes=minute)).isoformat()))

    expected = [make(m) for m in minutes]
    pages: list[list[dict[str, Any]]] = []
    url: str = f"{API}{path}"
    params: dict[str, str] | None = {**window, "limit": str(limit)}
    while True:
        answer = client.get(url, params=params, headers=owner.headers)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        link = answer.links.get("next")
        if link is None:  # the last page
            break
        assert len(pages[-1]) == limit, "a page before the last one is full"
        target = urlsplit(link["url"])
        assert (target.scheme, target.netloc, target.path) == ("", "", f"{API}{path}"), link
        assert parse_qs(target.query) == {
            "limit": [str(limit)],
            "before": [str(pages[-1][0]["id"])],
            **{k: [v] for k, v in window.items()},
        }
        cursor = _key(kind, pages[-1][0])
        for new in [make(m) for after, m in added if after == len(pages) - 1]:
            if _key(kind, new) < cursor:  # lands in the part still to walk; later ones are on pages seen
                expected.append(new)
        url, params = link["url"], None  # the Link's own query (httpx would replace it with params)
    walked = [item for page in reversed(pages) for item in page]
    assert [i["id"] for i in walked] == [i["id"] for i in sorted(expected, key=lambda i: _key(kind, i))]
    assert walked == sorted(walked, key=lambda i: _key(kind, i)), "each page and the whole in list order"


def test_limits_out_of_range_are_422_with_a_reason(client: TestClient, owner: TestUser) -> None:
    interview = _post(client, owner, "/interviews", KINDS[1].body("2024-03-07T10:00:00Z"))
    for path in (*PATHS, f"/interviews/{interview['id']}/feedback"):
        for params, name in (
            ({"limit": 0}, "limit"),
            ({"limit": MAX_LIMIT + 1}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"before": 0}, "before"),
            ({"before": 2**31}, "before"),  # beyond a 32-bit id: refused before any query binds it
            ({"before": "x"}, "before"),
        ):
            answer = client.get(f"{API}{path}", params=params, headers=owner.headers)
            assert answer.status_code == 422, (path, params, answer.text)
            assert name in answer.json()["detail"], (path, params, answer.json())
        assert client.get(f"{API}{path}", params={"limit": MAX_LIMIT}, headers=owner.headers).is_success


def test_a_cursor_outside_the_list_answers_404_like_an_absent_one(
    client: TestClient, owner: TestUser
) -> None:
    """Another user's item, another interview's feedback, an item outside the window: no such item, and
    the answer is the same as for an id that names nothing at all."""
    stranger = sign_up(client)
    t = "2024-03-07T10:00:00Z"
    theirs = {k.name: _post(client, stranger, f"/{k.name}", k.body(t)) for k in KINDS if k.name != "feedback"}
    their_feedback = _post(client, stranger, f"/interviews/{theirs['interviews']['id']}/feedback", {})
    mine = _post(client, owner, "/interviews", KINDS[1].body(t))
    my_other = _post(client, owner, "/interviews", KINDS[1].body(t))
    _post(client, owner, f"/interviews/{mine['id']}/feedback", {})
    my_other_feedback = _post(client, owner, f"/interviews/{my_other['id']}/feedback", {})
    my_checkin = _post(client, owner, "/checkins", KINDS[0].body(t))
    cases = [(f"/{name}", {"before": item["id"]}) for name, item in theirs.items()]
    cases += [
        (f"/interviews/{mine['id']}/feedback", {"before": their_feedback["id"]}),
        (f"/interviews/{mine['id']}/feedback", {"before": my_other_feedback["id"]}),
        ("/checkins", {"before": my_checkin["id"], "from": "2025-01-01T00:00:00Z"}),
    ]
    absent = client.get(f"{API}/checkins", params={"before": 2**31 - 1}, headers=owner.headers)
    assert absent.status_code == 404 and "Link" not in absent.headers
    for path, params in cases:
        answer = client.get(f"{API}{path}", params=params, headers=owner.headers)
        assert (answer.status_code, answer.json()) == (404, absent.json()), (path, params)
    # The stranger's own walk is untouched by the owner's items.
    assert [c["id"] for c in client.get(f"{API}/checkins", headers=stranger.headers).json()] == [
        theirs["checkins"]["id"]
    ]


# Characters JSON spells longest: a control character is six bytes ("\u0001") in the answer.
WIDEST = "\x01"


def test_fifty_maximal_practice_records_give_a_small_first_page(http: httpx.Client) -> None:
    """Issue 15's attack against the running server: 50 records as large as the API accepts made one
    21 MB answer. Now one record is bounded and a page stops near PAGE_BYTES; the walk still has all."""
    user = sign_up(http)
    old_maximum = {"at": "2024-03-07T10:00:00Z", "questions": ["q" * 2000] * 200, "self_rating": 5}
    refused = http.post(f"{API}/practice", json=old_maximum, headers=user.headers)
    assert refused.status_code == 422 and "questions" in refused.json()["detail"]
    body = {
        "questions": [WIDEST * MAX_QUESTION_CHARS] * MAX_QUESTIONS,
        "self_rating": 5,
        "notes": WIDEST * 20_000,  # LongText's bound
    }
    for i in range(50):
        at = (dt.datetime(2024, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i)).isoformat()
        answer = http.post(f"{API}/practice", json={**body, "at": at}, headers=user.headers)
        assert answer.status_code == 201, answer.text[:200]
    one_item = len(json.dumps(answer.json(), separators=(",", ":")))
    assert one_item < 500_000

    first = http.get(f"{API}/practice", headers=user.headers)
    assert first.status_code == 200 and "next" in first.links
    assert len(first.content) <= max(PAGE_BYTES, one_item + 2) < 1_000_000  # well under the ~2 MB asked
    ids: list[int] = []
    url: str | None = f"{API}/practice?limit={MAX_LIMIT}"
    while url is not None:
        page = http.get(url, headers=user.headers)
        assert page.status_code == 200 and len(page.content) <= max(PAGE_BYTES, one_item + 2)
        ids = [p["id"] for p in page.json()] + ids
        url = page.links.get("next", {}).get("url")
    assert len(ids) == len(set(ids)) == 50 and ids == sorted(ids)


def test_the_default_page_is_the_newest_hundred(client: TestClient, engine: Engine) -> None:
    """Old clients: up to DEFAULT_LIMIT items are the same array as before, without a Link; beyond, the
    newest ones. The 101 rows are written straight to the database, only to save time."""
    user = sign_up(client)
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    with Session(engine) as db:
        db.add_all(
            CheckIn(user_id=user.id, at=start + dt.timedelta(hours=i), confidence=5, created_at=start)
            for i in range(DEFAULT_LIMIT + 1)
        )
        db.commit()
    first = client.get(f"{API}/checkins", headers=user.headers)
    assert len(first.json()) == DEFAULT_LIMIT and first.json()[0]["at"] == "2024-03-01T01:00:00+00:00"
    assert first.headers["Link"] == f'</api/v1/checkins?limit=100&before={first.json()[0]["id"]}>; rel="next"'
    last = client.get(first.links["next"]["url"], headers=user.headers)
    assert [c["at"] for c in last.json()] == ["2024-03-01T00:00:00+00:00"] and "Link" not in last.headers
