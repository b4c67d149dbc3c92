"""The error answers of the API, as the OpenAPI document declares them and as the app produces them.

service.app maps errors to answers in one place; this module makes the document say what that place does:
`{detail}` bodies (and `errors` on 422), 401 where a token is needed, 404 where a path names a resource,
409 on writes (a conflict with stored data), 503 while the database is away. Found by schemathesis
(tests/service/test_schemathesis.py): FastAPI documents neither these nor the real shape of its 422.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from service.errors import NotFound

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"title": "Detail", "type": "string"}},
}
VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"title": "Detail", "type": "string"},
        "errors": {
            "title": "Errors",
            "type": "array",
            "items": {"$ref": "#/components/schemas/ValidationError"},
        },
    },
}
_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
# Ids are SQLAlchemy Integer columns: 32-bit on PostgreSQL. A larger one names nothing, and binding it fails
# (PostgreSQL: integer out of range; SQLite's driver beyond 64 bits: OverflowError).
MAX_ID = 2**31 - 1


def _declare(operation: dict[str, Any], status: int, description: str) -> None:
    operation["responses"].setdefault(str(status), {"description": description, "content": _ERROR_REF})


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the error answers every operation can give to an OpenAPI document (in place, and returned)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    if "HTTPValidationError" in schemas:
        schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
    for path, item in openapi.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if operation.get("security"):
                _declare(operation, 401, "Missing, invalid, expired or revoked token")
            if re.search(r"{\w+}", path):
                _declare(operation, 404, "No such resource of yours")
            if method in WRITE_METHODS:
                _declare(operation, 409, "Conflicts with data already stored")
            _declare(operation, 503, "Database unavailable; retry after the Retry-After delay")
    return openapi


async def ids_in_range(request: Request) -> None:
    """A path id beyond the databases' 64-bit range names no resource: 404, before any query is bound (`async`:
    no I/O, so no hop to the thread pool for every request)."""
    for name, value in request.path_params.items():
        if not (name == "id" or name.endswith("_id")) or not isinstance(value, str):
            continue
        try:
            number = int(value)
        except ValueError:
            continue  # not a number: the route's own validation answers 422
        if not -MAX_ID <= number <= MAX_ID:
            raise NotFound(f"no such {name.removesuffix('_id').replace('_', ' ') or 'resource'}")


_DESCRIPTIONS = {
    404: "No such resource of yours",
    413: "Too large",
    415: "Not a format the service reads",
    422: "Not valid, with the reason",
    429: "Too many requests; retry after the Retry-After delay",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route's own error answers (those the whole API gives are added to every route)."""
    return {status: {"description": _DESCRIPTIONS[status], "content": _ERROR_REF} for status in statuses}
