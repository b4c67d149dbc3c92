"""The HTTP API under /api/v1: one router per resource, each parsing a request, calling one layer below it
(journal, pipeline, coaching, importers, recording) and answering; `main` mounts them, `deps` is shared."""
