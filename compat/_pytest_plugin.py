"""compat's pytest plugin: the ``fault_server`` fixture.

Registered through the ``pytest11`` entry point, so it is there wherever compat
is installed; the server itself is imported only by tests that use the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from compat.testing import FaultServer


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A :class:`compat.testing.FaultServer` on 127.0.0.1, closed after the test."""
    from compat.testing import FaultServer

    server = FaultServer()
    try:
        yield server
    finally:
        server.close()
