"""One error hierarchy for the service; only service.app maps it to HTTP answers."""

from __future__ import annotations


class ChinUpError(Exception):
    """Root of the service's errors; `status` is the HTTP code the app answers with."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ChinUpError):
    status = 404


class Conflict(ChinUpError):
    status = 409


class Unauthorized(ChinUpError):
    status = 401


class Forbidden(ChinUpError):
    status = 403


class InvalidInput(ChinUpError, ValueError):
    status = 422


class PayloadTooLarge(ChinUpError):
    status = 413


class TooManyRequests(ChinUpError):
    status = 429
