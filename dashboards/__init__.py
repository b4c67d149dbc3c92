"""The browser dashboard, served by the service at /dashboard."""

from dashboards.web import mount_dashboards

__all__ = ["mount_dashboards"]
