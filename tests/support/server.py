"""The one way tests and benchmarks run the service on a real loopback socket: in-process (`LiveServer`, uvicorn
in a thread, stopped and started again on the same port) or as its own `chinup serve` process (`ServeProcess`,
the way users run it: for what only the command line decides, for killing it mid-write, and for benchmarks).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine

from service.app import create_app
from service.cli.main import proxy_options, server_options
from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nobody listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_health(
    url: str, timeout_s: float, *, poll_s: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Whether `url`/health answers 200 within `timeout_s` (False at once if the server is not `alive`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(poll_s)
    return False


@dataclass
class LiveServer:
    """`chinup serve` in-process: the real ASGI server on a real socket."""

    settings: Settings
    engine: Engine | None = None
    port: int = field(default_factory=free_port)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    app: Any = None  # the running FastAPI app, for a test to reach its state (e.g. a scratch recomputation)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        app = self.app = create_app(self.settings, engine=self.engine)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **proxy_options(self.settings),
            **server_options(self.settings),
        )  # the forwarded-header and connection options `chinup serve` uses
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        if not _answers_health(self.url, timeout_s, poll_s=0.05):
            raise RuntimeError(f"server on port {self.port} did not start")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
        self._server = self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


@dataclass
class ServeProcess:
    """`chinup serve --db URL --port P` as its own process (`python -m service.cli serve`, the same command line).

    `env` is the child's whole environment (default: this process's), with CHINUP_DATA_DIR set to `data_dir`
    on top; `args` go between `serve` and `--db` (e.g. `-v`). Its output goes to `log_path`, appended to (a
    pipe nobody reads fills at 64 KiB and then blocks the server's logging, and with it every request).
    The port stays the same across `kill()` and `start()`.
    """

    db_url: str
    data_dir: Path
    env: Mapping[str, str] | None = None
    args: Sequence[str] = ()
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.log_path = self.log_path or self.data_dir / "serve.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        """What the server has written so far."""
        assert self.log_path is not None
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout_s: float = 60.0) -> None:
        """Start it and wait until /health answers 200; RuntimeError (with the log's tail) if it does not."""
        assert self.log_path is not None
        env = {**(os.environ if self.env is None else self.env), "CHINUP_DATA_DIR": str(self.data_dir)}
        command = [sys.executable, "-m", "service.cli", "serve", *self.args, "--db", self.db_url]
        with open(self.log_path, "ab") as out:  # the child holds its own copy of the descriptor
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        if _answers_health(self.url, timeout_s, poll_s=0.1, alive=lambda: self.running):
            return
        if not self.running:
            raise RuntimeError(f"chinup serve exited: {self.log[-2000:]}")
        self.stop()
        raise RuntimeError(f"chinup serve did not start within {timeout_s:g} s: {self.log[-2000:]}")

    def kill(self) -> None:
        """SIGKILL, as a power cut would: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Stop it with `sig` (killed if it has not exited within 20 s); what it logged."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@contextmanager
def serve_process(
    db_url: str, data_dir: Path | None = None, **options: Any
) -> Iterator[ServeProcess]:
    """A started `ServeProcess` (in a temporary data directory unless given one), stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="chinup-serve-") as tmp:
        server = ServeProcess(db_url, data_dir or Path(tmp), **options)
        server.start()
        try:
            yield server
        finally:
            server.stop()
