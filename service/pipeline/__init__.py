"""The data path from an upload to the page: ingest (one validator) -> stored samples -> minutes ->
days -> the analysis scheduler -> the live stream."""
