from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from tests.scripted_server import ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1, closed after the test."""
    srv = ScriptedServer()
    try:
        yield srv
    finally:
        srv.close()


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
