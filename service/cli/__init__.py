"""The `chinup` command line (Typer): serve, record, strap, demo, import, migrate; and the import client."""

from service.cli.main import app

__all__ = ["app"]
