"""Logging set-up: secrets never reach a log line, even when the access log is on."""

from __future__ import annotations

import logging
import re

# EventSource cannot send headers: the live stream's URL carries a single-use ticket
# (`/api/v1/live?ticket=...`), or for old clients the bearer token itself (`?access_token=...`).
_SECRET_IN_QUERY = re.compile(r"((?:access_token|token|ticket|password)=)[^&\s\"']+", re.IGNORECASE)


# Control characters in a value from outside (a strap's advertised name, a path) would let it forge a log
# line of its own: they are written as escapes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


class RedactSecrets(logging.Filter):
    """Replaces secrets in query strings of a record's message and arguments with `***`, and escapes control
    characters in its arguments (one record, one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _SECRET_IN_QUERY.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _CONTROL.sub(_escape, _SECRET_IN_QUERY.sub(r"\1***", a)) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in ("uvicorn.access", "uvicorn.error", "chinup", "service", "devices"):
        logging.getLogger(name).addFilter(RedactSecrets())
    for handler in logging.getLogger().handlers:  # a logger's filter misses its children's records
        handler.addFilter(RedactSecrets())
