"""Blocking calls in the event loop fail the test: blockbuster, as bleak-retry-connector's tests use it.

What is checked: a blocking call (file, socket, SQLite, sleep, lock...) made in the test's own event loop
by an async function of the project's scanned code. Not checked: sync tests and fixtures, worker threads
(`asyncio.to_thread`), a live server's loop in its own thread, and a test body calling a sync helper
directly (e.g. `spool.depth()` in an assertion: the test blocks, not the code under test).
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from blockbuster import BlockBuster

SCANNED = ("devices", "service")
TESTS_DIR = str(Path(__file__).resolve().parents[1])
THIS_FILE = __file__  # the checker's own frames are in the tests folder too: they never count as the test's
_ASYNC_FLAGS = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _module_dirs(names: Sequence[str]) -> tuple[str, ...]:
    """Where the scanned modules' files are (a package's folder or a module's file)."""
    paths = []
    for name in names:
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        file = str(Path(module.__file__ or "").resolve())
        paths.append(str(Path(file).parent) if file.endswith("__init__.py") else file)
    return tuple(paths)


def _called_by_the_test(scanned: tuple[str, ...]) -> bool:
    """True when, walking out from the blocking call, a test's frame comes before any async frame of the
    scanned code: a sync helper the test body called itself."""
    frame = inspect.currentframe()
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(TESTS_DIR) and filename != THIS_FILE:
            return True
        if frame.f_code.co_flags & _ASYNC_FLAGS and filename.startswith(scanned):
            return False
        frame = frame.f_back
    return False


def _checked_only_in_our_code(allowed: Callable[..., bool], scanned: tuple[str, ...]) -> Callable[..., bool]:
    """The function's own exemption, or another thread's loop, or a test's own sync call."""
    main = threading.main_thread()

    def can_block(*args: Any, **kwargs: Any) -> bool:
        if threading.current_thread() is not main or allowed(*args, **kwargs):
            return True
        return _called_by_the_test(scanned)

    return can_block


@contextmanager
def no_blocking_in_the_loop(
    request: pytest.FixtureRequest, scanned: Sequence[str] = SCANNED
) -> Iterator[None]:
    """Active for the duration of an async test; a no-op for a sync one."""
    if not inspect.iscoroutinefunction(getattr(request, "function", None)):
        yield
        return
    blockbuster = BlockBuster(list(scanned))
    dirs = _module_dirs(scanned)
    for function in blockbuster.functions.values():  # set before activation: the wrappers capture it
        function.can_block_predicate = _checked_only_in_our_code(function.can_block_predicate, dirs)
    blockbuster.activate()
    try:
        yield
    finally:
        blockbuster.deactivate()
