"""The test suite: pure functions, the service through its HTTP API on SQLite and PostgreSQL, the strap
stack over Bumble, and the dashboard in Chromium; `tests.support` holds what they share."""
