from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from compat.testing import FaultServer


@pytest.fixture
def server(fault_server: FaultServer) -> FaultServer:
    """compat's fault server (the pytest plugin's ``fault_server``), under a short name."""
    return fault_server


_open_clients: list[Any] = []


def track(client: Any) -> Any:
    """Close *client* when the test ends: an SDK client left to the garbage collector
    warns about its pooled sockets during whichever test runs next."""
    _open_clients.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_tracked_clients() -> Iterator[None]:
    yield
    while _open_clients:
        client = _open_clients.pop()
        close = getattr(client, "close", None)
        if close is not None and not inspect.iscoroutinefunction(close):
            close()


@contextlib.contextmanager
def compat_logs(handler: logging.Handler) -> Iterator[None]:
    """*handler* on the ``compat`` loggers at every level, for the ``with`` block: records
    formatted as level, logger name and message (with their tracebacks)."""
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("compat")
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
