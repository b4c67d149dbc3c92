"""The HTTP edge below the routers: error answers in one place, the security headers and request-body guard
middleware, and the login and upload throttles."""
