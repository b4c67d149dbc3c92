"""The data path from an upload to the page: ingest (one validator) -> stored samples -> minutes -> days,
with the scheduler owning when the analysis runs, and the live stream (across processes on PostgreSQL)."""
