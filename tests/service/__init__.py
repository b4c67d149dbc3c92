"""The service's tests: every database test on SQLite and PostgreSQL, against the real app or a real `chinup serve`,
with the production settings (a test that changes one says why)."""
