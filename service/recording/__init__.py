"""Recording inside the service: one supervised recorder per paired strap, uploading through the very
ingest endpoint `chinup record` uses."""
