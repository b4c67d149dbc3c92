"""The `chinup` command: serve, demo, scan, record, strap, import. Thin: each command calls one function."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from service.config import Settings

app = typer.Typer(
    help="Chin Up: get your heartbeat up, recover, and rebuild confidence after a hard interview.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

TransportOpt = Annotated[
    str, typer.Option("--transport", "-t", help="os | bumble:<bumble transport> | virtual")
]


@app.callback()
def _group() -> None:
    """Chin Up's commands."""


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def serve(
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: SQLite in the data dir)")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the API and the dashboards; applies database migrations at start."""
    import uvicorn

    from service.app import create_app

    _setup_logging(verbose)
    overrides = {k: v for k, v in {"database_url": db, "host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)
    console.print(f"Chin Up on [bold]http://{settings.host}:{settings.port}/dashboard[/]")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info" if verbose else "warning",
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()

__all__ = ["app", "asyncio", "Path", "TransportOpt"]
