"""The SDK's stream helpers and ``with_streaming_response`` through compat.wrap, sync and
async: ``responses.stream(...)`` and ``chat.completions.stream(...)`` return a manager that
sends the request when it is entered, so the request is sent (and retried) on entry, and
what is read from the stream (its events, ``until_done``, ``get_final_...``) raises the
common error, never the SDK's. Counted on the loopback fault server."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI") or not hasattr(openai.OpenAI, "responses"):
    pytest.skip("the SDK has no Responses API", allow_module_level=True)

import compat  # noqa: E402
from compat.testing import FaultServer, faults  # noqa: E402
from tests.conftest import run_wrapped_async, track, wrapped_client  # noqa: E402
from tests.responses_api import FAILED, IN_PROGRESS, sse  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi"}]
RATE_LIMIT = {"error": {"message": "Rate limit reached", "type": "requests", "code": None}}
SERVER_ERROR = {"error": {"message": "The server had an error", "type": "server_error"}}
BAD = {"error": {"message": "Invalid value for 'temperature'", "type": "invalid_request_error"}}
#: A stream whose response fails after it was created.
FAILS_MIDWAY = (
    {"type": "response.created", "response": IN_PROGRESS, "sequence_number": 0},
    {"type": "response.failed", "response": FAILED, "sequence_number": 1},
)

has_chat_stream = pytest.mark.skipif(
    not hasattr(openai.OpenAI(api_key="x").chat.completions, "stream"),
    reason="the SDK has no chat.completions.stream",
)


def answered(server: FaultServer, *statuses: int) -> bool:
    """Whether the server answered exactly *statuses* (in any order: counted by status)."""
    counts = {status: statuses.count(status) for status in statuses}
    return len(server.requests) == len(statuses) and all(
        server.count(status=status) == n for status, n in counts.items()
    )


# ---------------------------------------------------------------------- responses.stream


def test_a_failure_on_entry_is_retried_and_the_stream_read_whole(server: FaultServer) -> None:
    """A 429 answering the request is retried on entry; the next attempt's stream is read
    to its end and ``get_final_response`` gives the completed response."""
    server.script(faults.answer(429, {"retry-after-ms": "1"}, RATE_LIMIT))
    wrapped = wrapped_client(server, max_attempts=3)
    with compat.retry_testing(), wrapped.responses.stream(model="gpt-4o", input="hi") as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.completed" == types[-1]
    assert "completed" == final.status
    assert answered(server, 429, 200)


def test_a_failure_that_is_not_retried_raises_the_common_error_on_entry(
    server: FaultServer,
) -> None:
    """A 400 raises the common error when the manager is entered, never the SDK's own."""
    server.script(faults.answer(400, {}, BAD))
    with pytest.raises(compat.InvalidRequestError) as caught:  # noqa: SIM117 - entering raises
        with wrapped_client(server).responses.stream(model="gpt-4o", input="hi"):
            pass  # pragma: no cover - entering raises
    assert not isinstance(caught.value, openai.APIError)
    assert 1 == len(server.requests)


def test_response_failed_raises_from_the_events_and_from_get_final_response(
    server: FaultServer,
) -> None:
    """``response.failed`` after the first event raises the common error mid-stream (no
    retry: part of the answer was read), whether the events are read one by one or
    ``get_final_response`` reads them (which without compat says only "Didn't receive a
    response.completed event")."""
    server.script(sse(*FAILS_MIDWAY), sse(*FAILS_MIDWAY))
    wrapped = wrapped_client(server, max_attempts=3)
    seen: list[str] = []
    with (
        wrapped.responses.stream(model="gpt-4o", input="hi") as stream,
        pytest.raises(compat.ServerError) as by_events,
    ):
        seen.extend(event.type for event in stream)
    with (
        wrapped.responses.stream(model="gpt-4o", input="hi") as stream,
        pytest.raises(compat.ServerError) as by_final,
    ):
        stream.get_final_response()
    assert ["response.created"] == seen
    for caught in (by_events, by_final):
        assert ("server_error", True) == (caught.value.code, caught.value.retryable)
    assert 2 == len(server.requests)


def test_a_stream_failing_at_its_first_event_is_retried_on_entry(server: FaultServer) -> None:
    """A stream whose first event is an error object (as OpenAI-compatible servers send a
    failure mid-stream: the SDK raises its ``APIError``) is the attempt's failure: retried
    on entry, and ``until_done`` returns the checked stream."""
    first = faults.answer(
        200, {"content-type": "text/event-stream"}, f"data: {json.dumps(SERVER_ERROR)}\n\n"
    )
    server.script(first)
    wrapped = wrapped_client(server, max_attempts=3, initial_wait=0.01)
    with wrapped.responses.stream(model="gpt-4o", input="hi") as stream:
        assert stream.until_done() is stream
        assert "completed" == stream.get_final_response().status
    assert 2 == len(server.requests)


def test_async_responses_stream(server: FaultServer) -> None:
    """The async client's helper is entered with ``async with`` (it is not a coroutine): a
    500 on entry is retried, and ``response.failed`` in the next stream raises the
    common error from ``get_final_response``."""
    server.script(faults.answer(500, {}, SERVER_ERROR), sse(*FAILS_MIDWAY))

    async def body(wrapped: Any) -> list[str]:
        first: list[str] = []

        async def read(stream: Any) -> None:
            async for event in stream:
                first.append(event.type)

        async with wrapped.responses.stream(model="gpt-4o", input="hi") as stream:
            with pytest.raises(compat.ServerError):
                await read(stream)
        async with wrapped.responses.stream(model="gpt-4o", input="hi") as stream:
            final = await stream.get_final_response()
            assert "completed" == final.status
        return first

    assert ["response.created"] == run_wrapped_async(
        server, body, max_attempts=3, initial_wait=0.01
    )
    assert answered(server, 500, 200, 200)


# ---------------------------------------------------------------------- chat.completions.stream


@has_chat_stream
def test_chat_completions_stream(server: FaultServer) -> None:
    """``chat.completions.stream``: a 429 on entry is retried and the final completion is
    read; a 400 raises the common error on entry."""
    server.script(faults.answer(429, {"retry-after-ms": "1"}, RATE_LIMIT))
    wrapped = wrapped_client(server, max_attempts=3)
    with (
        compat.retry_testing(),
        wrapped.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream,
    ):
        completion = stream.get_final_completion()
    assert completion.choices[0].message.content
    server.script(faults.answer(400, {}, BAD))
    with pytest.raises(compat.InvalidRequestError):  # noqa: SIM117 - entering raises
        with wrapped.chat.completions.stream(model="gpt-4o", messages=MESSAGES):
            pass  # pragma: no cover - entering raises
    assert answered(server, 429, 200, 400)


@has_chat_stream
def test_async_chat_completions_stream(server: FaultServer) -> None:
    """The async helper: entered with ``async with``, a 503 on entry retried, the final
    completion read."""
    server.script(faults.answer(503, {}, SERVER_ERROR))

    async def body(wrapped: Any) -> Any:
        async with wrapped.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
            return await stream.get_final_completion()

    completion = run_wrapped_async(server, body, max_attempts=3, initial_wait=0.01)
    assert completion.choices[0].message.content
    assert answered(server, 503, 200)


# ---------------------------------------------------------------------- with_streaming_response


def test_async_with_streaming_response(server: FaultServer) -> None:
    """The async client's ``with_streaming_response`` is entered with ``async with``: a 429
    is retried on entry, and a 401 raises the common error."""
    server.script(faults.answer(429, {"retry-after-ms": "1"}, RATE_LIMIT))

    async def body(wrapped: Any) -> int:
        create = wrapped.with_streaming_response.chat.completions.create
        with compat.retry_testing():
            async with create(model="gpt-4o", messages=MESSAGES) as response:
                status: int = response.status_code
        server.script(faults.answer(401, {}, {"error": {"message": "bad key"}}))
        with pytest.raises(compat.AuthenticationError):
            async with create(model="gpt-4o", messages=MESSAGES):
                pass  # pragma: no cover - entering raises
        return status

    assert 200 == run_wrapped_async(server, body, max_attempts=2)
    assert answered(server, 429, 200, 401)


# ---------------------------------------------------------------------- failover, Assistants


def test_a_failover_clients_stream_helper_fails_over_with_each_deployments_request(
    server: FaultServer,
) -> None:
    """Through ``compat.wrap([Deployment(a, models=...), b])``, ``responses.stream`` sends the
    first deployment its own model name, and moves to the second when the first is out
    of quota."""
    with FaultServer() as other:
        first = track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-a"))
        second = track(openai.OpenAI(base_url=other.url + "/v1", api_key="sk-b"))
        client = compat.wrap([compat.Deployment(first, models={"gpt-4o": "prod-4o"}), second])
        with compat.retry_testing():
            with client.responses.stream(model="gpt-4o", input="hi") as stream:
                assert "completed" == stream.get_final_response().status
            server.script(faults.quota_exceeded(), times=5)
            with client.responses.stream(model="gpt-4o", input="hi") as stream:
                assert "completed" == stream.get_final_response().status
        assert ["prod-4o", "prod-4o"] == [request.model for request in server.requests]
        assert ["gpt-4o"] == [request.model for request in other.requests]


def test_an_assistants_stream_cut_before_its_first_event_is_not_sent_again() -> None:
    """The Assistants' helpers bind the caller's event handler, which cannot be bound twice:
    their stream is entered under the policy but its first event is not read there, so a
    stream cut before any event raises the common error while it is read, after one
    request (re-entering would have sent the run again, then failed on the handler)."""
    handlers = pytest.importorskip("openai.lib.streaming")
    with FaultServer() as server:
        server.script(faults.stream_reset(after=0))
        client = track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test"))
        wrapped = compat.wrap(client, compat.RetryPolicy(max_attempts=3))

        def run() -> None:
            handler = handlers.AssistantEventHandler()
            runs = wrapped.beta.threads.runs
            with runs.stream(thread_id="t", assistant_id="a", event_handler=handler) as stream:
                stream.until_done()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates Assistants
            with pytest.raises(compat.APIConnectionError):
                run()
        assert 1 == len(server.requests)


# ---------------------------------------------------------------------- what the pacer learns


def with_headers(extra: dict[str, str]) -> Any:
    """The server's usual success for the request (a stream when it asked for one), with
    *extra* headers."""
    import attrs

    from compat.testing import Fault

    def render(request: Any) -> Any:
        answer = faults.success()(request)
        return attrs.evolve(answer, headers={**answer.headers, **extra})

    return Fault("success with headers", render)


ONE_PER_100_S = {
    "x-ratelimit-limit-requests": "1",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "100s",
}


@pytest.mark.parametrize("how", ["responses.stream", "with_streaming_response"])
def test_a_streamed_answers_rate_limit_headers_pace_the_next_call(
    server: FaultServer, how: str
) -> None:
    """The headers of the answer a stream helper or ``with_streaming_response`` entered
    say one request per 100 s: the pacer learns it, and the next call with a 2 s deadline
    is refused at once, not sent."""
    server.script(with_headers(ONE_PER_100_S))
    wrapped = wrapped_client(server, deadline=2.0)
    if how == "responses.stream":
        with wrapped.responses.stream(model="gpt-4o", input="hi") as stream:
            stream.until_done()
    else:
        streaming = wrapped.with_streaming_response.chat.completions
        with streaming.create(model="gpt-4o", messages=MESSAGES) as response:
            response.read()
    second = wrapped.responses.stream(model="gpt-4o", input="hi")
    with pytest.raises(compat.RateLimitError) as info, second as stream:
        stream.until_done()
    assert "client" == info.value.origin
    assert 1 == len(server.requests)


def test_a_stream_helper_reserves_its_token_cost(server: FaultServer) -> None:
    """A call's headers say 1000 tokens a minute and none left for 100 s: a stream helper
    whose input is estimated at about 2000 tokens is refused at once (it reserved
    nothing, and was sent)."""
    server.script(
        with_headers(
            {
                "x-ratelimit-limit-tokens": "1000",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "100s",
            }
        )
    )
    wrapped = wrapped_client(server, deadline=2.0)
    wrapped.responses.create(model="gpt-4o", input="hi")
    large = wrapped.responses.stream(model="gpt-4o", input="word " * 2000)
    with pytest.raises(compat.RateLimitError) as info, large as stream:
        stream.until_done()
    assert "client" == info.value.origin
    assert 1 == len(server.requests)


def test_an_assistants_streams_rate_limit_headers_pace_the_next_run(server: FaultServer) -> None:
    """The same for the Assistants' ``runs.stream``, whose answer the SDK's event handler
    keeps: the headers of the first run's answer refuse the second at once."""
    handlers = pytest.importorskip("openai.lib.streaming")
    server.script(with_headers(ONE_PER_100_S))
    runs = wrapped_client(server, deadline=2.0).beta.threads.runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates Assistants
        with runs.stream(thread_id="t", assistant_id="a", event_handler=None):
            pass
        handler = handlers.AssistantEventHandler()
        second = runs.stream(thread_id="t", assistant_id="a", event_handler=handler)
        with pytest.raises(compat.RateLimitError) as info, second:
            pass
    assert "client" == info.value.origin
    assert 1 == len(server.requests)


def test_an_async_streamed_answers_rate_limit_headers_pace_the_next_call(
    server: FaultServer,
) -> None:
    """The same through the async client's ``responses.stream``."""
    server.script(with_headers(ONE_PER_100_S))

    async def body(client: Any) -> compat.LLMError:
        async with client.responses.stream(model="gpt-4o", input="hi") as stream:
            await stream.until_done()
        try:
            async with client.responses.stream(model="gpt-4o", input="hi") as stream:
                await stream.until_done()
        except compat.RateLimitError as refused:
            return refused
        raise AssertionError("the second call was not refused")

    refused = run_wrapped_async(server, body, deadline=2.0)
    assert "client" == refused.origin
    assert 1 == len(server.requests)
