from __future__ import annotations

from collections.abc import Iterator

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
