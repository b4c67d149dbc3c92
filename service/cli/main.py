"""The `chinup` command: serve, demo, scan, record, strap, import. Thin: each command calls one function."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from service.config import Settings
from service.core.logs import setup_logging

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


@app.command()
def serve(
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: SQLite in the data dir)")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Worker processes (above 1: PostgreSQL only)")
    ] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the API and the dashboards; applies database migrations at start."""
    import uvicorn

    from service.app import create_app

    setup_logging(verbose)
    overrides = {k: v for k, v in {"database_url": db, "host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)
    if workers > 1:
        _serve_workers(settings, overrides, workers, verbose)
        return
    console.print(f"Chin Up on [bold]http://{settings.host}:{settings.port}/dashboard[/]")
    tune_gc_for_serving()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info" if verbose else "warning",
        log_config=None,  # keep the handlers and secret filters set up above
        **proxy_options(settings),
        **server_options(settings),
    )


# Objects allocated before the cyclic collector's youngest generation is scanned (CPython: 700). A dashboard
# answer builds thousands of dicts (a year of days: 5,000), each scan of the young generation walking them
# again: 0.4 ms of a year's /days (8.2 -> 7.8 ms, measured in-process). Reference counting frees
# them either way; only cycles wait longer, and a request makes none that matter.
GC_YOUNG_THRESHOLD = 10_000


def tune_gc_for_serving() -> None:
    """The collector's thresholds for a server process (each worker calls it: settings are per process)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _serve_workers(settings: Settings, overrides: dict[str, object], workers: int, verbose: bool) -> None:
    """`serve --workers N`: uvicorn's process manager runs N workers on one socket (and restarts one that
    dies). Refused on SQLite: it is the embedded single-process default, one writer on one machine."""
    import os

    import uvicorn

    from service.cli.worker import VERBOSE_ENV

    url = settings.resolved_database_url
    if not url.startswith("postgresql"):
        console.print(
            f"[red]--workers {workers} needs PostgreSQL[/]: SQLite is the embedded single-process default. "
            "Give --db postgresql+psycopg://user@host/db (or CHINUP_DATABASE_URL), or serve one process."
        )
        raise typer.Exit(2)
    for key, value in overrides.items():  # the workers read their settings from the environment
        os.environ[f"CHINUP_{key.upper()}"] = str(value)
    if "CHINUP_ROUTE_THREADS" not in os.environ:  # N pools within PostgreSQL's connections
        try:
            os.environ["CHINUP_ROUTE_THREADS"] = str(route_threads_for(url, workers))
        except TooManyWorkers as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"
    console.print(f"Chin Up on [bold]http://{settings.host}:{settings.port}/dashboard[/] ({workers} workers)")
    uvicorn.run(
        "service.cli.worker:create_worker_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="info" if verbose else "warning",
        log_config=None,
        **proxy_options(settings),
        **{**server_options(settings), "http": "service.cli.worker:HeaderDeadline"},
    )


# Connections each worker keeps besides its pool (the live bus's two, strap claims) and what is left to
# others on the server (psql, a second deployment, migrations): the budget `route_threads_for` divides.
CONNECTIONS_PER_WORKER_BESIDES_POOL = 4
CONNECTIONS_LEFT_FREE = 10
MIN_ROUTE_THREADS = 4


class TooManyWorkers(ValueError):
    """The database cannot give this many workers their connections."""


def route_threads_for(url: str, workers: int) -> int:
    """Route threads per worker so that `workers` pools (threads + BACKGROUND_CONNECTIONS each) and their other
    connections stay within the server's max_connections: 4 workers at PostgreSQL's default of 100 would
    otherwise open up to 4 x 48 and be refused ("too many clients already", measured by bench/load.py)."""
    from sqlalchemy import create_engine, text

    from service.core.db import BACKGROUND_CONNECTIONS

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
    finally:
        engine.dispose()
    per_worker = (limit - CONNECTIONS_LEFT_FREE) // workers - CONNECTIONS_PER_WORKER_BESIDES_POOL - BACKGROUND_CONNECTIONS
    if per_worker < MIN_ROUTE_THREADS:
        most = (limit - CONNECTIONS_LEFT_FREE) // (MIN_ROUTE_THREADS + CONNECTIONS_PER_WORKER_BESIDES_POOL
                                                    + BACKGROUND_CONNECTIONS)  # fmt: skip
        raise TooManyWorkers(
            f"{workers} workers need more connections than PostgreSQL's max_connections ({limit}) allows: "
            f"at most {most} workers fit (or raise max_connections, or put PgBouncer in front)"
        )
    return min(40, per_worker)  # at most the single process's 40


def proxy_options(settings: Settings) -> dict[str, object]:
    """uvicorn's forwarded-header options: believed only from settings.forwarded_allow_ips. uvicorn's own
    default trusts 127.0.0.1 (or $FORWARDED_ALLOW_IPS), so a local tunnel could set any client address and
    walk past the per-address log-in limits; with no proxy configured the headers are not read at all."""
    if not settings.forwarded_allow_ips:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.forwarded_allow_ips)}


def server_options(settings: Settings) -> dict[str, object]:
    """uvicorn's connection limits from settings: idle kept-alive connections closed after
    http_keep_alive_timeout_s, 503 past http_max_connections, and headers bounded in time and size by
    the protocol below (uvicorn has none of its own: its keep-alive timer only runs between requests, so a
    connection that never finished its headers held a file descriptor for ever)."""
    return {
        "http": header_deadline_protocol(
            timeout_s=settings.http_header_timeout_s, max_bytes=settings.http_max_header_bytes
        ),
        "timeout_keep_alive": settings.http_keep_alive_timeout_s,
        "limit_concurrency": settings.http_max_connections,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
    }


def header_deadline_protocol(*, timeout_s: float, max_bytes: int) -> type:
    """uvicorn's HTTP protocol (httptools, else h11) closing a connection whose next request's headers
    are not complete within `timeout_s` of the connection or of the previous answer, or pass `max_bytes`."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class HeaderDeadline(AutoHTTPProtocol):  # type: ignore[valid-type,misc]
        _timer: asyncio.TimerHandle | None = None
        _header_bytes = 0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._timer is not None:  # still waiting for a request's headers
                self._header_bytes += len(data)
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the request's headers are complete
            elif self._timer is not None and self._header_bytes > max_bytes:
                self._give_up()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers get the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._timer = self.loop.call_later(timeout_s, self._give_up)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._header_bytes = None, 0

        def _give_up(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadline


@app.command()
def scan(
    transport: TransportOpt = "os",
    seconds: Annotated[float, typer.Option(help="How long to listen")] = 5.0,
) -> None:
    """List heart-rate straps advertising service 0x180D: address, name, RSSI."""
    from rich.table import Table

    from devices.errors import StackUnavailable
    from devices.scan import scan_straps

    try:
        found = asyncio.run(scan_straps(transport, seconds))
    except StackUnavailable as exc:  # one line: what is missing and what to do, no traceback
        typer.echo(f"chinup scan: {exc}", err=True)
        raise typer.Exit(2) from exc
    table = Table(title=f"Heart-rate straps heard in {seconds:g} s ({transport})")
    for column in ("address", "name", "RSSI (dBm)"):
        table.add_column(column)
    for advert in found:
        table.add_row(advert.address, escape(advert.name or "?"), str(advert.rssi))
    console.print(table if found else "[yellow]No strap advertising the Heart Rate service was heard.[/]")


@app.command()
def strap(
    transport: TransportOpt = "virtual",
    replay: Annotated[
        Path | None, typer.Option(help="Recording to play (CSV t,bpm[,rr_ms] or RR text)")
    ] = None,
    speed: Annotated[float, typer.Option(help="Playback speed factor")] = 1.0,
    name: Annotated[
        str | None, typer.Option(help="Advertised name (given, it also fixes the address)")
    ] = None,
    seed: Annotated[
        str | None, typer.Option(help="Derive the address from this, to keep it across restarts")
    ] = None,
) -> None:
    """Run a virtual heart-rate strap on a Bumble transport, for other processes or phones to find.

    The address is random per process unless a name or a seed is given, so two straps on one radio
    are two devices, and a named strap is the same device each time it starts.
    """
    from devices.errors import DeviceError
    from devices.simulator import run_strap

    setup_logging(False)
    logging.getLogger("bumble").setLevel(logging.WARNING)
    shown = name or "Chin Up Strap"

    def say(message: str) -> None:
        typer.echo(f"chinup strap: {message}", err=True)

    say(f"starting {shown!r} on {transport} (Ctrl-C to stop)")
    try:
        asyncio.run(run_strap(transport, replay, speed, shown, seed=seed if seed is not None else name, say=say))
    except KeyboardInterrupt:
        pass
    except DeviceError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc


@app.command()
def record(
    server: Annotated[str, typer.Option(help="Chin Up service URL, e.g. http://127.0.0.1:8000")],
    token: Annotated[str, typer.Option(help="Your access token or a device upload token")],
    transport: TransportOpt = "os",
    address: Annotated[str | None, typer.Option(help="Strap address (default: the strongest strap)")] = None,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this long, once the spool is empty")
    ] = None,
    spool: Annotated[Path | None, typer.Option(help="Spool file (default: in the data dir)")] = None,
    replay: Annotated[
        Path | None, typer.Option(help="With --transport virtual: a recording to replay")
    ] = None,
    speed: Annotated[float, typer.Option(help="Replay speed factor")] = 1.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Live capture -> local spool -> upload; survives disconnects of strap and server.

    Logs each connection attempt, disconnection, upload failure and rejection; exits 1, with the
    reason, when it recorded nothing (except with --seconds 0, which only uploads what the spool holds).
    """
    from devices.errors import DeviceError
    from devices.recorder import record as run_record
    from devices.replay import record_replay
    from service.cli.record_view import StatusLine

    setup_logging(verbose)
    for noisy in ("bumble", "httpx"):  # one line per HCI packet / per batch: only with -v
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    spool_path = spool or Settings().data_dir / "spool.sqlite3"
    spool_path.parent.mkdir(parents=True, exist_ok=True)
    shown = StatusLine()
    url = server.rstrip("/")
    try:
        if replay is not None:
            result = asyncio.run(
                record_replay(server_url=url, token=token, transport=transport, address=address, seconds=seconds,
                              spool_path=spool_path, replay=replay, speed=speed, on_status=shown)
            )  # fmt: skip
        else:
            result = asyncio.run(
                run_record(server_url=url, token=token, transport=transport, address=address, seconds=seconds,
                           spool_path=spool_path, on_status=shown)
            )  # fmt: skip
    except KeyboardInterrupt:
        console.print("Stopped; what was recorded is safe in the spool and uploads next time.")
        return
    except DeviceError as exc:
        typer.echo(f"chinup record: {exc}", err=True)
        raise typer.Exit(1) from exc
    console.print(result)
    if seconds == 0:  # asked only to upload what an earlier run left in the spool: an empty spool is success
        return
    if not result.recorded and not result.leftover_straps:
        reason = result.failure or ("no notification arrived" if result.connections else "no connection was made")
        typer.echo(f"chinup record: nothing was recorded on {transport}: {reason}", err=True)
        raise typer.Exit(1)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to serve on")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    weeks: Annotated[int, typer.Option(help="Weeks of generated history")] = 8,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Generate the demo database again instead of the kept one")
    ] = False,
) -> None:
    """Serve on an embedded database with a demo user and a virtual strap streaming a live workout.

    The demo database is kept in the data directory between runs; --fresh generates it again."""
    from service.demo.run import run_demo

    try:
        asyncio.run(run_demo(host=host, port=port, weeks=weeks, console=console, fresh=fresh))
    except KeyboardInterrupt:
        console.print("Demo stopped.")


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="FIT, TCX, GPX, fitlog, Polar HRM, CSV, RR text, Apple Health or Chin Up export; gzip or zip of them"
        ),
    ],
    server: Annotated[str, typer.Option(help="Chin Up service URL, e.g. http://127.0.0.1:8000")],
    token: Annotated[
        str, typer.Option(help="Your access token, or a device's upload token (into that device)")
    ],
    start: Annotated[
        str | None, typer.Option(help="Start time (ISO 8601 with offset) for CSV seconds or RR text")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Refuse a damaged file whole instead of importing what can be read")
    ] = False,
    device_id: Annotated[
        int | None, typer.Option(help="Store on this device instead of the file's own")
    ] = None,
    device_name: Annotated[str | None, typer.Option(help="Name for the device the file creates")] = None,
) -> None:
    """Import heart rate from a file through the API (same validation and idempotency as live uploads)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from service.cli import import_client
    from service.cli.import_client import ServerRefused, ServerUnreachable, import_in_background
    from service.importers import ImportFailed
    from service.pipeline.ingest import parse_time_ms

    try:
        start_ms = parse_time_ms(start) if start else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--start") from exc
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(f"Uploading {file.name}", total=None)

            def show(phase: str, done: int, total: int) -> None:
                bar.update(task, description=f"{phase} {file.name}", completed=done, total=total or None)

            # The server imports in the background (memory flat with the file's size); the bar follows its job.
            outcome = import_in_background(
                file, server=server, token=token, start_ms=start_ms, strict=strict, device_id=device_id,
                device_name=device_name, progress=show,
            )  # fmt: skip
    except (ImportFailed, ServerRefused, ServerUnreachable, OSError) as exc:
        console.print(str(exc), markup=False, style="red", soft_wrap=True)
        raise typer.Exit(1) from exc
    for line, style in import_client.report_lines(outcome):
        console.print(line, markup=False, style=style, soft_wrap=True)
    if why := import_client.nothing_imported(outcome):
        console.print(why, style="red", markup=False, soft_wrap=True)
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
