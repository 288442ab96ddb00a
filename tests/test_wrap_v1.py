"""compat.wrap around real v1+ clients (sync, async, Azure), counted on a loopback server."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("the v1+ SDK is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.testing import Fault, FaultServer, Request, faults  # noqa: E402
from tests.conftest import track  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi"}]
RATE_LIMIT = {
    "error": {
        "message": "Rate limit reached for requests",
        "type": "requests",
        "code": "rate_limit_exceeded",
    }
}
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}
OVERLOADED = {
    "error": {
        "message": "The engine is currently overloaded, please try again later",
        "type": "server_error",
    }
}


def completion(text: str = "hello") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chunk(text: str) -> str:
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return f"data: {json.dumps(body)}\n\n"


def sync_client(server: FaultServer, **options: Any) -> Any:
    return track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", **options))


def test_429_twice_then_success_honours_the_header(server: FaultServer) -> None:
    """Two 429s with retry-after, then 200: the call succeeds with exactly 3 requests,
    each retry no earlier than the server asked."""
    for _ in range(2):
        server.push(429, {"retry-after": "0.3"}, RATE_LIMIT)
    server.push(200, {}, completion("after the wait"))
    client = compat.wrap(sync_client(server))
    result = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "after the wait" == result.choices[0].message.content
    assert 3 == len(server.requests)
    gaps = [b.at - a.at for a, b in zip(server.requests, server.requests[1:])]
    assert all(gap >= 0.3 for gap in gaps), gaps


def test_insufficient_quota_costs_exactly_one_request(server: FaultServer) -> None:
    """A quota 429 is raised as QuotaExceededError after one request, from the SDK's error."""
    server.push(429, {"retry-after": "1"}, QUOTA)
    client = compat.wrap(sync_client(server))
    with pytest.raises(compat.QuotaExceededError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert isinstance(info.value.__cause__, openai.RateLimitError)
    assert 1 == len(server.requests)


def test_request_too_large_costs_exactly_one_request(server: FaultServer) -> None:
    """A request over the per-minute limit on its own is not retried."""
    body = {
        "error": {
            "message": "Request too large for gpt-4o on tokens per min (TPM): Limit 30000, "
            "Requested 31538.",
            "type": "tokens",
            "code": "rate_limit_exceeded",
        }
    }
    server.push(429, {"retry-after": "1"}, body)
    with pytest.raises(compat.RateLimitError):
        compat.wrap(sync_client(server)).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 1 == len(server.requests)


def test_outage_stops_at_the_attempt_cap(server: FaultServer) -> None:
    """During a 503 outage the attempts stop at max_attempts."""
    server.add_rule(lambda request: faults.answer(503, {}, OVERLOADED))
    policy = compat.RetryPolicy(max_attempts=3)
    with compat.retry_testing(), pytest.raises(compat.OverloadedError):
        compat.wrap(sync_client(server), policy).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    assert 3 == len(server.requests)


def test_outage_stops_at_the_budget(server: FaultServer) -> None:
    """During an outage, with holding off, the shared budget ends retries: later calls
    make one request each."""
    server.add_rule(lambda request: faults.answer(503, {}, OVERLOADED))
    policy = compat.RetryPolicy(max_attempts=5, budget_capacity=3, hold=False)
    client = compat.wrap(sync_client(server), policy)
    with compat.retry_testing():
        for _ in range(10):
            with pytest.raises(compat.OverloadedError):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 10 + 3 == len(server.requests)


def test_sdk_retries_left_on_are_turned_off(server: FaultServer) -> None:
    """A client built with max_retries=5 makes one request per policy attempt, not six."""
    server.add_rule(
        lambda request: faults.answer(
            500, {}, {"error": {"message": "boom", "type": "server_error"}}
        )
    )
    client = compat.wrap(sync_client(server, max_retries=5), compat.RetryPolicy(max_attempts=2))
    with compat.retry_testing(), pytest.raises(compat.ServerError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 2 == len(server.requests)


def test_only_compat_errors_escape(server: FaultServer) -> None:
    """A refused connection leaves a wrapped client as APIConnectionError, not the SDK's class."""
    client = compat.wrap(
        openai.OpenAI(base_url="http://127.0.0.1:1/v1", api_key="sk-x"),
        compat.RetryPolicy(max_attempts=2),
    )
    with compat.retry_testing(), pytest.raises(compat.APIConnectionError) as info:
        client.models.list()
    assert isinstance(info.value.__cause__, openai.APIConnectionError)


def test_interface_is_kept(server: FaultServer) -> None:
    """Attributes and non-API values of the client pass through unchanged."""
    client = compat.wrap(sync_client(server))
    assert "sk-test" == client.api_key
    assert str(client.base_url).startswith(server.url)
    server.push(
        200,
        {},
        {
            "object": "list",
            "data": [{"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "x"}],
        },
    )
    assert ["gpt-4o"] == [m.id for m in client.models.list()]


def test_async_client(server: FaultServer) -> None:
    """AsyncOpenAI through wrap: retried after the server's wait, result returned."""
    server.push(429, {"retry-after-ms": "200"}, RATE_LIMIT)
    server.push(200, {}, completion("async"))

    async def main() -> Any:
        client = compat.wrap(openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test"))
        try:
            return await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        finally:
            await client.close()

    assert "async" == asyncio.run(main()).choices[0].message.content
    assert 2 == len(server.requests)
    assert server.requests[1].at - server.requests[0].at >= 0.2


def test_async_cancellation_is_not_retried(server: FaultServer) -> None:
    """Cancelling a wrapped async call during its wait stops it; no further request is made."""
    server.push(429, {"retry-after": "20"}, RATE_LIMIT)

    async def main() -> None:
        client = compat.wrap(openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test"))
        task = asyncio.ensure_future(
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        )
        while not server.requests:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.close()

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5
    assert 1 == len(server.requests)


def test_azure_client(server: FaultServer) -> None:
    """AzureOpenAI through wrap: Azure's 429 message wait is honoured, provider azure."""
    body = {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."}}
    server.push(429, {"apim-request-id": "apim-1"}, body)
    server.push(200, {}, completion("azure"))
    seen: list[compat.LLMError] = []
    policy = compat.RetryPolicy(on_retry=lambda e, n, w: seen.append(e))
    azure = track(
        openai.AzureOpenAI(azure_endpoint=server.url, api_key="0" * 32, api_version="2024-06-01")
    )
    with compat.retry_testing():
        result = compat.wrap(azure, policy).chat.completions.create(model="gpt4", messages=MESSAGES)
    assert "azure" == result.choices[0].message.content
    assert [("azure", 1.0)] == [(e.provider, e.retry_after) for e in seen]


def test_stream_error_before_the_first_chunk_is_retried(server: FaultServer) -> None:
    """A stream whose first event is an error is retried like a failed request."""
    error_event = {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
        }
    }
    server.push(200, {"content-type": "text/event-stream"}, f"data: {json.dumps(error_event)}\n\n")
    server.push(
        200, {"content-type": "text/event-stream"}, chunk("Hel") + chunk("lo") + "data: [DONE]\n\n"
    )
    client = compat.wrap(sync_client(server))
    with compat.retry_testing():
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert "Hello" == text
    assert 2 == len(server.requests)


def test_stream_error_mid_stream_is_translated_not_retried(server: FaultServer) -> None:
    """An error after the first chunk leaves as a compat error; no second request is made."""
    error_event = {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
        }
    }
    server.push(
        200,
        {"content-type": "text/event-stream"},
        chunk("Hel") + f"data: {json.dumps(error_event)}\n\n",
    )
    client = compat.wrap(sync_client(server))
    received = []
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)

    def consume() -> None:
        for c in stream:
            received.append(c.choices[0].delta.content)

    with pytest.raises(compat.ServerError) as info:
        consume()
    assert ["Hel"] == received
    assert isinstance(info.value.__cause__, openai.APIError)
    assert 1 == len(server.requests)


def test_concurrent_calls_share_one_cooldown(server: FaultServer) -> None:
    """Threads and asyncio tasks through one policy meet a target closed for 0.5 s: after
    three 429s in a row (one stray 429 is not taken to speak for the target) the others
    wait for the cooldown instead of collecting their own 429s."""
    closed_until = [0.0]
    lock = threading.Lock()

    def rule(request: Request) -> Fault:
        with lock:
            now = time.monotonic()
            if closed_until[0] == 0.0:
                closed_until[0] = now + 0.5
            if now < closed_until[0]:
                return faults.answer(429, {"retry-after": "0.5"}, RATE_LIMIT)
        return faults.answer(200, {}, completion("ok"))

    server.add_rule(rule)
    policy = compat.RetryPolicy(probe_concurrency=1)
    sync = compat.wrap(sync_client(server), policy)
    results: list[str] = []

    def worker() -> None:
        results.append(
            sync.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            .choices[0]
            .message.content
        )

    async def tasks() -> None:
        client = compat.wrap(
            openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test"), policy
        )
        try:
            replies = await asyncio.gather(
                *(
                    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                    for _ in range(8)
                )
            )
        finally:
            await client.close()
        results.extend(r.choices[0].message.content for r in replies)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    assert ["ok"] * 16 == results
    # The slow start's one probe at a time meets three 429s; everyone else waits them out.
    assert server.answered.count(429) <= 3, server.answered


# ---------------------------------------------------------------------- failures under 200

ENVELOPE_4017 = {"response": None, "error": "", "reason": "timeout", "error_code": "4017"}
ENVELOPE_2000_429 = {
    "response": {
        "error": {
            "message": "Rate limit reached for gpt-4o on tokens per min (TPM). "
            "Please try again in 1.5s.",
            "type": "tokens",
            "code": "rate_limit_exceeded",
        }
    },
    "error": "",
    "reason": "",
    "error_code": "2000",
}
COMPLETION_WITH_ERROR = {
    "id": "gen-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "error"}
    ],
    "error": {"message": "Upstream error from provider", "code": 502},
}
PAGE_200 = "<html><head><title>Sign in</title></head><body>proxy login</body></html>"


@pytest.mark.parametrize(
    ("body", "content_type", "error_class", "billed"),
    [
        (RATE_LIMIT, "application/json", compat.RateLimitError, None),
        (ENVELOPE_4017, "application/json", compat.APITimeoutError, True),
        (ENVELOPE_2000_429, "application/json", compat.RateLimitError, True),
        (PAGE_200, "text/html", compat.BadResponseError, None),
        (COMPLETION_WITH_ERROR, "application/json", compat.ServerError, None),
        # Portkey's own failure: a key its source names (Source.body_keys), not the core
        (
            {"html-message": "Network connection lost."},
            "application/json",
            compat.APIConnectionError,
            None,
        ),
    ],
    ids=[
        "openai-error",
        "envelope-4017",
        "envelope-2000-upstream-429",
        "html",
        "completion-error",
        "portkey-html-message",
    ],
)
def test_failures_under_200_raise_sync_async_and_streaming(
    server: FaultServer, body: Any, content_type: str, error_class: type, billed: bool | None
) -> None:
    """A failure that arrives under HTTP 200 raises the common error through wrap, in every
    call form, and is retried by its kind like any other."""
    payload = body if isinstance(body, str) else json.dumps(body)
    answer = faults.answer(200, {"content-type": content_type}, payload)
    policy = compat.RetryPolicy(max_attempts=1)

    server.script(answer)
    with pytest.raises(error_class) as info:
        compat.wrap(sync_client(server), policy).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    assert billed == info.value.billed

    async def call_async() -> None:
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-t")
        try:
            await compat.wrap(client, policy).chat.completions.create(
                model="gpt-4o", messages=MESSAGES
            )
        finally:
            await client.close()

    server.script(answer)
    with pytest.raises(error_class):
        asyncio.run(call_async())

    server.script(answer)
    create = compat.wrap(sync_client(server), policy).chat.completions.create
    with pytest.raises(error_class):
        create(model="gpt-4o", messages=MESSAGES, stream=True)


def test_a_failure_under_200_is_retried_by_its_kind(server: FaultServer) -> None:
    """An envelope's timeout (4017) under HTTP 200 is retried, then the answer comes back."""
    server.script(faults.answer(200, {"content-type": "application/json"}, ENVELOPE_4017))
    with compat.retry_testing():
        reply = compat.wrap(sync_client(server)).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    assert reply.choices[0].message.content
    assert 2 == len(server.requests)


def test_a_success_that_mentions_errors_is_a_success(server: FaultServer) -> None:
    """A completion whose text talks about errors, or whose stream chunk carries a content
    filter result with an ``error`` key, is not a failure."""
    body = completion('the word "error" and "failed" in the text')
    server.script(faults.answer(200, {"content-type": "application/json"}, body))
    reply = compat.wrap(sync_client(server)).chat.completions.create(
        model="gpt-4o", messages=MESSAGES
    )
    assert "error" in reply.choices[0].message.content


# ---------------------------------------------------------------------- derived clients


def test_what_comes_out_of_a_wrapped_client_is_wrapped(server: FaultServer) -> None:
    """with_options, copy, with_raw_response and with_streaming_response all stay behind the
    policy: a 429 is retried and a failure raises a compat error, never the SDK's own."""
    client = compat.wrap(sync_client(server), compat.RetryPolicy(max_attempts=2))
    derived = {
        "with_options": client.with_options(timeout=5).chat.completions.create,
        "copy": client.copy(timeout=5).chat.completions.create,
        "with_raw_response": client.with_raw_response.chat.completions.create,
    }
    for name, create in derived.items():
        server.script(faults.answer(429, {"retry-after-ms": "1"}, RATE_LIMIT))
        with compat.retry_testing():
            result = create(model="gpt-4o", messages=MESSAGES)
        assert result is not None, name
        server.script(faults.answer(401, {}, {"error": {"message": "bad key"}}))
        with pytest.raises(compat.AuthenticationError):
            create(model="gpt-4o", messages=MESSAGES)
    server.script(faults.answer(429, {"retry-after-ms": "1"}, RATE_LIMIT))
    with (
        compat.retry_testing(),
        client.with_streaming_response.chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        ) as response,
    ):
        assert 200 == response.status_code
    server.script(faults.answer(400, {}, {"error": {"message": "bad", "type": "invalid"}}))
    with (
        pytest.raises(compat.InvalidRequestError),
        client.with_streaming_response.chat.completions.create(model="gpt-4o", messages=MESSAGES),
    ):
        pass  # pragma: no cover - entering raises


def test_the_client_keeps_its_type(server: FaultServer) -> None:
    """The wrapped client still answers isinstance-free introspection: its attributes, its
    repr and its own non-API methods are the client's."""
    raw = sync_client(server)
    client = compat.wrap(raw)
    assert str(raw.base_url) == str(client.base_url)
    assert 0 == client.max_retries
    assert "compat.wrap(" in repr(client)


# ---------------------------------------------------------------------- deadlines


def test_a_long_cooldown_never_makes_a_later_call_wait_past_its_deadline(
    server: FaultServer,
) -> None:
    """A 429 asking for 1000 s surfaces at once; the next call, whose deadline is 5 s, is
    refused at once without sending anything: a client-side rate limit that says so."""
    policy = compat.RetryPolicy(deadline=5.0)
    client = compat.wrap(sync_client(server), policy)
    server.script(faults.answer(429, {"retry-after": "1000"}, RATE_LIMIT))
    with pytest.raises(compat.RateLimitError) as first:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 1000 == first.value.retry_after
    started = time.monotonic()
    with pytest.raises(compat.RateLimitError) as second:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert time.monotonic() - started < 5.0  # a hang guard: it returns at once
    assert 1 == len(server.requests)
    error = second.value
    assert "client" == error.origin
    assert error.code is None
    assert error.retry_after is not None
    assert error.retry_after > 990
    assert "Not sent" in error.message
    assert "cooling down" in error.message
    assert "e+0" not in error.message  # seconds written as seconds: "for 1000 s more"
    assert re.search(r"for (99\d|1000) s more", error.message), error.message


def test_a_slow_limit_refuses_calls_it_cannot_serve_in_time(server: FaultServer) -> None:
    """Success headers that reveal one request per 100 s: the next call with a 2 s deadline
    is refused at once instead of waiting."""
    limits = {
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "100s",
    }
    server.script(faults.answer(200, limits, completion()))
    client = compat.wrap(sync_client(server), compat.RetryPolicy(deadline=2.0))
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    started = time.monotonic()
    with pytest.raises(compat.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert time.monotonic() - started < 2.0
    assert "client" == info.value.origin
    assert 1 == len(server.requests)


def test_an_attempt_gets_the_time_its_deadline_leaves(server: FaultServer) -> None:
    """A slow server and a 1 s deadline: the SDK's own 600 s timeout no longer decides; the
    call ends as a timeout soon after its deadline."""
    server.script(faults.slow(30.0))
    client = compat.wrap(sync_client(server), compat.RetryPolicy(deadline=1.0))
    started = time.monotonic()
    with pytest.raises(compat.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert time.monotonic() - started < 10.0  # a hang guard, ten times the deadline


def test_the_final_error_says_how_many_attempts_and_how_long(server: FaultServer) -> None:
    """The error that ends a retried call carries the attempts made and the time spent, as
    attributes and as a note in its traceback."""
    server.add_rule(lambda request: faults.answer(500, {}, {"error": {"message": "boom"}}))
    policy = compat.RetryPolicy(max_attempts=3, hold=False)
    with compat.retry_testing(), pytest.raises(compat.ServerError) as info:
        compat.wrap(sync_client(server), policy).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    error = info.value
    assert 3 == error.attempts
    assert error.elapsed is not None
    assert error.elapsed >= 0
    import traceback

    shown = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "gave up after 3 attempts" in shown


def test_wrapping_a_wrapped_client_rewraps_the_client(server: FaultServer) -> None:
    """compat.wrap of a wrapped client puts the client itself under the new policy, not one
    policy inside another (attempts would multiply)."""
    outer = compat.wrap(compat.wrap(sync_client(server)), compat.RetryPolicy(max_attempts=2))
    server.add_rule(lambda request: faults.answer(500, {}, {"error": {"message": "boom"}}))
    with compat.retry_testing(), pytest.raises(compat.ServerError):
        outer.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 2 == len(server.requests)


# ---------------------------------------------------------------------- resends


def test_a_reset_after_sending_is_a_resend_and_can_be_refused(server: FaultServer) -> None:
    """A connection reset after the request went out may mean the server processed it:
    by default it is retried and said to be a resend; with resend=False it is not."""
    reasons: list[str] = []
    policy = compat.RetryPolicy(hooks=lambda e: reasons.append(e.reason), max_attempts=2)
    server.add_rule(lambda request: faults.reset())
    with compat.retry_testing(), pytest.raises(compat.APIConnectionError) as info:
        compat.wrap(sync_client(server), policy).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    assert 2 == len(server.requests)
    assert 1 == info.value.resent
    assert any("a resend" in reason for reason in reasons)
    import traceback

    assert "may already have been processed" in "".join(
        traceback.format_exception(info.type, info.value, info.tb)
    )

    strict = compat.RetryPolicy(resend=False)
    with pytest.raises(compat.APIConnectionError) as refused:
        compat.wrap(sync_client(server), strict).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    assert 3 == len(server.requests)
    assert "resend is off" in str(refused.value.__notes__)


def test_a_refused_connection_is_retried_even_without_resends() -> None:
    """Nothing listens: the request never arrived, so resend=False still retries it."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = track(openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test"))
    policy = compat.RetryPolicy(resend=False, max_attempts=3)
    with compat.retry_testing(), pytest.raises(compat.APIConnectionError) as info:
        compat.wrap(client, policy).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 3 == info.value.attempts
    assert 0 == info.value.resent
