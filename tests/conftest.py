from __future__ import annotations

import inspect
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
