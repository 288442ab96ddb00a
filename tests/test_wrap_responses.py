"""The Responses API through compat.wrap: failed responses and failure events raise the
common error (sync, async, streamed), counted on the loopback fault server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI") or not hasattr(openai.OpenAI, "responses"):
    pytest.skip("the SDK has no Responses API", allow_module_level=True)

import compat  # noqa: E402
from compat import ErrorKind as K  # noqa: E402
from compat.testing import FaultServer, faults  # noqa: E402
from tests.conftest import track  # noqa: E402
from tests.responses_api import ERROR_EVENT, FAILED, IN_PROGRESS, sse  # noqa: E402


async def collect(stream: Any, seen: list[str]) -> None:
    """Read *stream* to its end, keeping each event's type in *seen* as it comes."""
    async for event in stream:
        seen.append(event.type)


def client(server: FaultServer) -> Any:
    return track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test"))


def aclient(server: FaultServer) -> Any:
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test")


def test_a_failed_response_read_back_raises_at_once(server: FaultServer) -> None:
    """``responses.retrieve`` of a failed background response raises the common error
    (the response's code decides) and is not retried: the stored outcome stays failed."""
    server.script(faults.answer(200, {}, FAILED))
    wrapped = compat.wrap(client(server), compat.RetryPolicy(max_attempts=3))
    with pytest.raises(compat.ServerError) as caught:
        wrapped.responses.retrieve(FAILED["id"])
    error = caught.value
    assert (K.SERVER_ERROR, False, "server_error", 200) == (
        error.kind,
        error.retryable,
        error.code,
        error.status,
    )
    assert 1 == len(server.requests)


def test_a_failed_response_from_create_is_retried(server: FaultServer) -> None:
    """A ``create`` answered with a failed response under 200 is a failure: the policy
    retries it, and the next attempt's response is returned."""
    server.script(faults.answer(200, {}, FAILED))
    wrapped = compat.wrap(client(server), compat.RetryPolicy(max_attempts=3, initial_wait=0.01))
    result = wrapped.responses.create(model="gpt-4o", input="hi")
    assert "completed" == result.status
    assert 2 == len(server.requests)


def test_a_stream_that_sends_response_failed_raises(server: FaultServer) -> None:
    """``response.failed`` after the first event raises the common error mid-stream (no
    retry: part of the answer was read); the events before it are delivered."""
    server.script(
        sse(
            {"type": "response.created", "response": IN_PROGRESS, "sequence_number": 0},
            {"type": "response.failed", "response": FAILED, "sequence_number": 1},
        )
    )
    wrapped = compat.wrap(client(server), compat.RetryPolicy(max_attempts=3))
    seen: list[str] = []
    stream = wrapped.responses.create(model="gpt-4o", input="hi", stream=True)
    with pytest.raises(compat.ServerError) as caught:
        seen.extend(event.type for event in stream)
    assert ["response.created"] == seen
    assert ("server_error", True) == (caught.value.code, caught.value.retryable)
    assert 1 == len(server.requests)


def test_a_stream_that_sends_an_error_event_raises_with_its_wait(server: FaultServer) -> None:
    """An ``error`` event raises the common error its code and words say, with the wait
    its message asks for."""
    server.script(
        sse(
            {"type": "response.created", "response": IN_PROGRESS, "sequence_number": 0},
            ERROR_EVENT,
        )
    )
    wrapped = compat.wrap(client(server), compat.RetryPolicy(max_attempts=3))
    with pytest.raises(compat.RateLimitError) as caught:
        list(wrapped.responses.create(model="gpt-4o", input="hi", stream=True))
    assert ("rate_limit_exceeded", 2.0) == (caught.value.code, caught.value.retry_after)


def test_a_stream_that_fails_at_its_first_event_is_retried(server: FaultServer) -> None:
    """A failure event before any other is a failure of the attempt: retried, and the
    next attempt's stream is delivered whole."""
    failed_first = {"type": "response.failed", "response": FAILED, "sequence_number": 0}
    server.script(sse(failed_first))
    wrapped = compat.wrap(client(server), compat.RetryPolicy(max_attempts=3, initial_wait=0.01))
    types = [
        event.type for event in wrapped.responses.create(model="gpt-4o", input="hi", stream=True)
    ]
    assert "response.completed" == types[-1]
    assert 2 == len(server.requests)


def test_async_failed_response_and_failed_stream(server: FaultServer) -> None:
    """The async client: a failed response read back raises at once, and a stream's
    ``response.failed`` raises mid-stream."""
    server.script(
        faults.answer(200, {}, FAILED),
        sse(
            {"type": "response.created", "response": IN_PROGRESS, "sequence_number": 0},
            {"type": "response.failed", "response": FAILED, "sequence_number": 1},
        ),
    )

    async def main() -> tuple[Any, Any, list[str]]:
        raw = aclient(server)
        try:
            wrapped = compat.wrap(raw, compat.RetryPolicy(max_attempts=3))
            with pytest.raises(compat.ServerError) as retrieved:
                await wrapped.responses.retrieve(FAILED["id"])
            seen: list[str] = []
            stream = await wrapped.responses.create(model="gpt-4o", input="hi", stream=True)
            with pytest.raises(compat.ServerError) as streamed:
                await collect(stream, seen)
            return retrieved.value, streamed.value, seen
        finally:
            await raw.close()

    retrieved, streamed, seen = asyncio.run(main())
    assert (False, True) == (retrieved.retryable, streamed.retryable)
    assert ["response.created"] == seen
    assert 2 == len(server.requests)


def test_a_completed_stream_passes_untouched(server: FaultServer) -> None:
    """Events that are not failures (the whole of a successful stream) pass as they are."""
    wrapped = compat.wrap(client(server))
    types = [
        event.type for event in wrapped.responses.create(model="gpt-4o", input="hi", stream=True)
    ]
    assert ["response.created", "response.completed"] == [types[0], types[-1]]
    assert 1 == len(server.requests)
