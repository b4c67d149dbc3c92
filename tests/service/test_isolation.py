"""Users cannot reach each other's data: a walk over every route of the OpenAPI document, new ones included.

User A gets one of each resource; user B then calls every route that has a path parameter, with A's real
ids and a valid body derived from the schema, and must get 404 (or 403) with none of A's data in the answer.
A route whose body, query or path parameter the walk cannot fill fails the test: extend the tables below.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.users import TestUser, register_device, sign_up
from tests.support.workouts import workout_samples

API = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")
# Routes anyone may call; everything else in the OpenAPI document needs a token.
PUBLIC = {("post", f"{API}/users"), ("post", f"{API}/auth/token"), ("get", "/health")}
DAY = "2024-03-05"
A_TIME = f"{DAY}T12:00:00+00:00"
# Path parameters that are not ids of an owned resource, with a value that names a day A has data on.
NON_ID_VALUES: dict[str, str] = {"date": DAY}
# Required query parameters, by name; others are derived from their schema.
QUERY_VALUES: dict[str, Any] = {"from": f"{DAY}T00:00:00+00:00", "to": "2024-03-06T00:00:00+00:00"}
# Bodies the schema cannot describe well enough (checked inside the handler), by (method, path template).
KNOWN_BODIES: dict[tuple[str, str], Any] = {
    ("post", f"{API}/devices/{{device_id}}/samples"): {"samples": [{"t": A_TIME, "bpm": 80}]},
}
# A's stored data, read back by A before and after the walk: nothing B did may change it.
OWNER_READS = (
    "/devices/{device_id}",
    "/devices/{device_id}/samples",
    "/interviews/{interview_id}",
    "/checkins/{checkin_id}",
    "/practice/{practice_id}",
    "/applications/{application_id}",
)
FALLBACK_ID = 1  # for an id no resource of A's could be found for: any id will do, B owns nothing


class CannotFill(AssertionError):
    """The walk met a route it cannot call with a valid request: the tables above need an entry."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass
class World:
    """User A with one of each resource, user B with nothing, and the OpenAPI document."""

    client: TestClient
    alice: TestUser
    bob: TestUser
    ids: dict[str, int]
    secrets: list[str]
    openapi: dict[str, Any]


def operations(openapi: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method, path, spec)
        for path, item in openapi["paths"].items()
        for method, spec in item.items()
        if method in METHODS
    ]


def example(schema: dict[str, Any], components: dict[str, Any], where: str) -> Any:
    """A minimal valid value for a JSON schema (one body: its times increase, so start < end holds)."""
    return Examples(components).of(schema, where)


class Examples:
    """Minimal valid values for JSON schemas: required fields only, bounds respected."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components
        self._minutes = itertools.count()

    def of(self, schema: dict[str, Any], where: str) -> Any:
        if "$ref" in schema:
            return self.of(self.components[schema["$ref"].rsplit("/", 1)[-1]], where)
        if "const" in schema:
            return schema["const"]
        if schema.get("examples") or schema.get("enum"):
            return (schema.get("examples") or schema["enum"])[0]
        options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
        if options:
            typed = [o for o in options if o.get("type") != "null"]
            if len(typed) != 1 and "allOf" in schema:
                raise CannotFill(f"{where}: allOf with {len(typed)} parts")
            return self.of(typed[0], where)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next(k for k in kind if k != "null")
        if kind == "boolean":
            return True
        maker = {"string": self._string, "integer": _number, "number": _number}.get(kind)
        maker = maker or {"array": self._array, "object": self._object}.get(kind)
        if maker is None:
            raise CannotFill(f"{where}: schema without a usable type: {schema}")
        return maker(schema, where)

    def _string(self, schema: dict[str, Any], where: str) -> str:
        if schema.get("format") == "date-time":
            return (dt.datetime.fromisoformat(A_TIME) + dt.timedelta(minutes=next(self._minutes))).isoformat()
        formats = {"date": DAY, "email": "walker@example.org", "uuid": str(uuid.UUID(int=1))}
        if schema.get("format") in formats:
            return formats[schema["format"]]
        if "pattern" in schema or "format" in schema:
            raise CannotFill(f"{where}: cannot make a string for {schema}")
        length = max(4, schema.get("minLength", 0))
        length = min(length, schema.get("maxLength", length))
        return ("walk" * (length // 4 + 1))[:length]

    def _array(self, schema: dict[str, Any], where: str) -> list[Any]:
        count = min(max(1, schema.get("minItems", 0)), schema.get("maxItems", 1_000))
        if count and "items" not in schema:
            raise CannotFill(f"{where}: array without an item schema")
        return [self.of(schema["items"], f"{where}[]") for _ in range(count)]

    def _object(self, schema: dict[str, Any], where: str) -> dict[str, Any]:
        properties = schema.get("properties", {})
        return {name: self.of(properties[name], f"{where}.{name}") for name in schema.get("required", [])}


def _number(schema: dict[str, Any], _where: str) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
    value = min(low, schema.get("maximum", low))
    return int(value) if schema.get("type") == "integer" else float(value)


def request_parts(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    """The query and body keyword arguments of a valid call of `op`."""
    parts: dict[str, Any] = {}
    query = {}
    for param in op.spec.get("parameters", []):
        name, where = param["name"], f"{op} {param['in']} parameter {param['name']!r}"
        if param["in"] == "path" or not param.get("required"):
            continue
        if param["in"] != "query":
            raise CannotFill(f"{where}: the walk sends no required headers or cookies")
        query[name] = (
            QUERY_VALUES[name]
            if name in QUERY_VALUES
            else example(param.get("schema", {}), components, where)
        )
    if query:
        parts["params"] = query
    content = op.spec.get("requestBody", {}).get("content", {})
    if (op.method, op.path) in KNOWN_BODIES:
        parts["json"] = KNOWN_BODIES[(op.method, op.path)]
    elif "application/json" in content:
        parts["json"] = example(content["application/json"].get("schema", {}), components, str(op))
    elif "application/x-www-form-urlencoded" in content or "multipart/form-data" in content:
        form = content.get("application/x-www-form-urlencoded") or content["multipart/form-data"]
        parts["data"] = example(form.get("schema", {}), components, str(op))
    elif content:
        raise CannotFill(f"{op}: body of type {sorted(content)}; add it to KNOWN_BODIES")
    return parts


def is_id(name: str) -> bool:
    return name == "id" or name.endswith("_id")


def fill_path(world: World, op: Operation) -> str:
    """The route's path with A's real ids (found through the parent listing where not created here)."""
    path = op.path
    for name in op.path_params:
        marker = f"{{{name}}}"
        if not is_id(name):
            if name not in NON_ID_VALUES:
                raise CannotFill(f"{op}: path parameter {name!r} is no id; add a value to NON_ID_VALUES")
            value: Any = NON_ID_VALUES[name]
        elif name in world.ids:
            value = world.ids[name]
        else:
            parents = op.path.split(marker)[0].rstrip("/"), path.split(marker)[0].rstrip("/")
            value = _discover_id(world, name, *parents)
        path = path.replace(marker, str(value))
    return path


def _discover_id(world: World, name: str, parent_template: str, parent: str) -> int:
    """An id of A's for a resource this test did not make: from A's listing, else made by A through it."""
    methods = world.openapi["paths"].get(parent_template, {})
    if "get" in methods:
        answer = world.client.get(parent, headers=world.alice.headers)
        items = answer.json() if answer.status_code == 200 else None
        if isinstance(items, list) and items and isinstance(items[0], dict) and "id" in items[0]:
            world.ids[name] = int(items[0]["id"])
    if name not in world.ids and "post" in methods:
        op = Operation("post", parent_template, methods["post"])
        parts = request_parts(op, world.openapi.get("components", {}).get("schemas", {}))
        answer = world.client.post(parent, headers=world.alice.headers, **parts)
        if answer.status_code in (200, 201) and isinstance(answer.json(), dict) and "id" in answer.json():
            world.ids[name] = int(answer.json()["id"])
    return world.ids.get(name, FALLBACK_ID)


def _alice_journal(client: TestClient, alice: TestUser, mark: str) -> dict[str, int]:
    """One of each journal resource, every text holding the marker; answers the ids by path parameter."""

    def make(method: str, path: str, body: dict[str, Any]) -> int:
        answer = client.request(method, f"{API}{path}", json=body, headers=alice.headers)
        assert answer.status_code in (200, 201), answer.text
        return int(answer.json().get("id", 0))

    interview = make("POST", "/interviews", {"company": mark, "role": mark, "at": A_TIME, "stage": mark})
    lessons = [{"lesson": f"{mark} lesson", "next_time": mark}]
    make(
        "PUT",
        f"/interviews/{interview}/reflection",
        {"went_well": [mark], "went_poorly": [mark], "lessons": lessons},
    )
    return {
        "interview_id": interview,
        "feedback_id": make("POST", f"/interviews/{interview}/feedback", {"notes": mark}),
        "checkin_id": make("POST", "/checkins", {"at": A_TIME, "confidence": 3, "note": mark}),
        "practice_id": make("POST", "/practice", {"at": A_TIME, "questions": [mark], "self_rating": 4}),
        "application_id": make(
            "POST", "/applications", {"company": mark, "role": mark, "applied_at": A_TIME}
        ),
    }


@pytest.fixture(scope="module")
def world(client: TestClient) -> World:
    """A's data, each text holding a marker that must never appear in an answer to B."""
    mark = f"alpha-{uuid.uuid4().hex[:12]}"
    alice = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    bob = sign_up(client)
    device = register_device(client, alice, name=f"{mark} strap", address=f"{mark}-addr", model=mark)
    # Five minutes of rest, fifteen hard, five of recovery, at 1 Hz (ISO times): enough for a session to be found.
    effort = dt.datetime.fromisoformat(A_TIME) + dt.timedelta(minutes=5)
    workout = workout_samples(effort, 15, 152, rest_bpm=68, before_s=300, after_s=300, recovered_bpm=95,
                              tau_s=None, noise_sd=0, times="iso", contact=None)  # fmt: skip
    samples = {"samples": workout}
    ingest = client.post(f"{API}/devices/{device['id']}/samples", json=samples, headers=alice.headers)
    assert ingest.status_code == 200 and ingest.json()["accepted"] == 1500, ingest.text
    ids = {"device_id": device["id"], **_alice_journal(client, alice, mark)}
    secrets = [mark, alice.email, alice.token, device["upload_token"]]
    return World(client, alice, bob, ids, secrets, client.get("/openapi.json").json())


def owner_view(world: World) -> dict[str, tuple[int, str]]:
    """A's stored data (not derived views, which may move with the clock), to compare after B's attempts."""
    view = {}
    for template in OWNER_READS:
        op = Operation("get", f"{API}{template}", {})
        answer = world.client.get(fill_path(world, op), headers=world.alice.headers)
        view[template] = (answer.status_code, answer.text)
    return view


def _leaks(world: World, text: str) -> list[str]:
    return [secret for secret in world.secrets if secret in text]


def test_the_walk_covers_every_route_with_a_path_parameter(world: World) -> None:
    walked = {str(op) for op in operations(world.openapi) if op.path_params}
    expected = {
        f"{method} {API}{path}"
        for method, path in [
            ("GET", "/devices/{device_id}"),
            ("POST", "/devices/{device_id}/samples"),
            ("PATCH", "/interviews/{interview_id}"),
            ("PUT", "/interviews/{interview_id}/reflection"),
            ("PATCH", "/interviews/{interview_id}/feedback/{feedback_id}"),
            ("DELETE", "/checkins/{checkin_id}"),
            ("PATCH", "/practice/{practice_id}"),
            ("DELETE", "/applications/{application_id}"),
        ]
    }
    assert expected <= walked, expected - walked


def test_another_users_ids_answer_404_everywhere(world: World) -> None:
    components = world.openapi.get("components", {}).get("schemas", {})
    before = owner_view(world)
    assert all(status == 200 for status, _ in before.values()), before
    assert world.secrets[0] in before["/interviews/{interview_id}"][1]  # reflection and feedback included
    walk = sorted(
        (op for op in operations(world.openapi) if op.path_params), key=lambda o: o.method == "delete"
    )
    failures = []
    for op in walk:
        path, parts = fill_path(world, op), request_parts(op, components)
        answer = world.client.request(op.method.upper(), path, headers=world.bob.headers, **parts)
        names_a_resource = any(is_id(name) for name in op.path_params)
        allowed = answer.status_code in (403, 404) if names_a_resource else 200 <= answer.status_code < 500
        if not allowed or answer.status_code == 401:
            failures.append(f"{op} as {path}: {answer.status_code} {answer.text[:200]}")
        if leaked := _leaks(world, answer.text):
            failures.append(f"{op} as {path}: answer shows A's {leaked}")
    assert not failures, "\n".join(failures)
    assert owner_view(world) == before, "B's requests changed A's data"


def test_every_private_route_needs_a_token(world: World) -> None:
    components = world.openapi.get("components", {}).get("schemas", {})
    failures = []
    for op in operations(world.openapi):
        if (op.method, op.path) in PUBLIC:
            continue
        path, parts = fill_path(world, op), request_parts(op, components)
        for headers in ({}, {"Authorization": "Bearer cu_forged"}, {"Authorization": "Basic d2Fsazp3YWxr"}):
            answer = world.client.request(op.method.upper(), path, headers=headers, **parts)
            if answer.status_code != 401 or _leaks(world, answer.text):
                failures.append(
                    f"{op} with {headers or 'no token'}: {answer.status_code} {answer.text[:200]}"
                )
    assert not failures, "\n".join(failures)
    assert {(op.method, op.path) for op in operations(world.openapi)} >= PUBLIC, (
        "PUBLIC names a route that is gone"
    )


def test_public_routes_answer_without_a_token(client: TestClient) -> None:
    for path in ("/health", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path
    created = client.post(
        f"{API}/users", json={"email": f"p-{uuid.uuid4().hex[:8]}@example.org", "password": "walk-walk-walk"}
    )
    assert created.status_code == 201


def test_a_route_the_walk_cannot_fill_fails_loudly() -> None:
    op = Operation("post", f"{API}/things/{{thing_id}}", {})
    with pytest.raises(CannotFill, match="pattern"):
        example(
            {
                "type": "object",
                "required": ["hh"],
                "properties": {"hh": {"type": "string", "pattern": "^a$"}},
            },
            {},
            "x",
        )
    with pytest.raises(CannotFill, match="type"):
        example({}, {}, "x")
    odd = Operation("get", f"{API}/weeks/{{week}}", {})
    with pytest.raises(CannotFill, match="NON_ID_VALUES"):
        fill_path(World(None, None, None, {}, [], {"paths": {}}), odd)  # type: ignore[arg-type]
    header = {
        "parameters": [{"name": "x-key", "in": "header", "required": True, "schema": {"type": "string"}}]
    }
    with pytest.raises(CannotFill, match="headers"):
        request_parts(Operation(op.method, op.path, header), {})
    upload = {"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}}
    with pytest.raises(CannotFill, match="KNOWN_BODIES"):
        request_parts(Operation(op.method, op.path, upload), {})


def test_examples_respect_bounds_and_refs() -> None:
    components = {
        "Body": {
            "type": "object",
            "required": ["rating", "when", "items", "name", "until"],
            "properties": {
                "rating": {"type": "integer", "minimum": 1, "maximum": 10},
                "when": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date-time"}]},
                "items": {"type": "array", "items": {"type": "string", "maxLength": 2}, "minItems": 2},
                "name": {"type": "string", "minLength": 6, "maxLength": 8},
                "optional": {"type": "string", "pattern": "^a$"},
                "until": {"type": "string", "format": "date-time"},
            },
        }
    }
    body = example({"$ref": "#/components/schemas/Body"}, components, "x")
    assert body == {
        "rating": 1,
        "when": A_TIME,
        "items": ["wa", "wa"],
        "name": "walkwa",
        "until": "2024-03-05T12:01:00+00:00",
    }
