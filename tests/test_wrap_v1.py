"""compat.wrap around real v1+ clients (sync, async, Azure), counted on a loopback server."""

from __future__ import annotations

import asyncio
import json
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
