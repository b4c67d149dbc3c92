"""Secrets never reach the logs: the access log line of an EventSource request is redacted."""

from __future__ import annotations

import logging

import pytest

from service.core.logs import RedactSecrets


def test_tokens_in_query_strings_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("uvicorn.access.test")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="uvicorn.access.test"):
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5",
            "GET",
            "/api/v1/live?access_token=cu_SECRET&x=1",
            "1.1",
            200,
        )
        logger.info("login with password=hunter2 failed")
    text = caplog.text
    assert "cu_SECRET" not in text and "hunter2" not in text
    assert "access_token=***&x=1" in text
