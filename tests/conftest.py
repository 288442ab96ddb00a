from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sys
import threading
import types
from collections.abc import Callable, Iterator
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


def wrapped_client(server: FaultServer, **policy: Any) -> Any:
    """``compat.wrap`` of an ``openai.OpenAI`` on *server* under ``RetryPolicy(**policy)``,
    closed when the test ends."""
    import openai

    import compat

    raw = track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test"))
    return compat.wrap(raw, compat.RetryPolicy(**policy))


def run_wrapped_async(server: FaultServer, body: Any, **policy: Any) -> Any:
    """``body(client)`` run to its end, *client* being ``compat.wrap`` of an
    ``openai.AsyncOpenAI`` on *server* under ``RetryPolicy(**policy)``, closed after it."""
    import openai

    import compat

    async def main() -> Any:
        raw = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test")
        try:
            return await body(compat.wrap(raw, compat.RetryPolicy(**policy)))
        finally:
            await raw.close()

    return asyncio.run(main())


def fake_tiktoken(
    monkeypatch: pytest.MonkeyPatch, encoding_for_model: Callable[[str], Any]
) -> None:
    """A stand-in ``tiktoken`` whose ``encoding_for_model`` is *encoding_for_model*, and an
    empty process-wide encoding cache, for the test. The loads earlier tests started are
    waited for first: one still on its way would import the stand-in, and store what it
    loads in the test's cache."""
    from compat.retry import tokens

    for thread in threading.enumerate():
        if thread.name == "compat-tiktoken":
            thread.join(60)
            assert not thread.is_alive(), "an earlier test's tiktoken load never ended"
    fake = types.ModuleType("tiktoken")
    fake.encoding_for_model = encoding_for_model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    monkeypatch.setattr(tokens, "_ENCODERS", {})


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
