"""The HTTP edge below the routers: error answers in one place, the security-header and body-guard middleware,
log-in throttling, and what several routers share (the app context, field types, answer shapes, paging)."""
