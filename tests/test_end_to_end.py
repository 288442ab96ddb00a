"""End to end: real clients through ``compat.wrap`` against the fault server's rules.

The legacy SDK (openai<1), the current SDK sync and async, Azure and the gateway
client each meet a token bucket, a quota that runs out, an outage and random
faults, and every call ends with the server's answer or a compat error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import compat
from compat.testing import FaultServer, Outage, Quota, RandomFaults, TokenBucket, faults
from tests.conftest import track

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
LEGACY = openai is not None and not V1
MESSAGES = [{"role": "user", "content": "hi"}]
REPLY = "Hello from the compat fault server."
#: Short backoffs (the tests wait for what the server asks, not for seconds of jitter),
#: no retry budget (at these fault rates it would rightly stop retrying) and
#: up to 10 attempts, so that a seeded run of bad luck does not end a call.
FAST = compat.RetryPolicy(
    initial_wait=0.01,
    max_wait=0.05,
    overloaded_initial_wait=0.01,
    overloaded_max_wait=0.05,
    budget_capacity=0,
    max_attempts=10,
)
TRANSIENT = [
    faults.rate_limited(0.02),
    faults.rate_limited(0.02, "message"),
    faults.rate_limited(0.02, "none"),
    faults.server_error(),
    faults.overloaded(),
    faults.html_page(502),
    faults.reset(),
    faults.reset(after_bytes=64),
]
v1_only = pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
legacy_only = pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")


def v1_client(server: FaultServer, **options: Any) -> Any:
    options.setdefault("timeout", 5)
    return track(openai.OpenAI(base_url=server.openai_url, api_key="sk-e2e", **options))


# ---------------------------------------------------------------------- current SDK, sync


@v1_only
def test_v1_sync_under_a_token_bucket(server: FaultServer) -> None:
    """30 calls in a row into a 40/s bucket of 3: all succeed, and the pacer, fed by the
    x-ratelimit headers, keeps the 429s few."""
    server.add_rule(TokenBucket(rate=40, burst=3))
    client = compat.wrap(v1_client(server), FAST)
    replies = [
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content
        for _ in range(30)
    ]
    assert [REPLY] * 30 == replies
    assert 30 == server.count(status=200)
    assert server.count(status=429) <= 6, server.stats()


@v1_only
def test_v1_every_endpoint_through_random_faults(server: FaultServer) -> None:
    """Chat (plain and streamed), embeddings and responses, with 40 % transient faults:
    every call ends in the right answer."""
    server.add_rule(RandomFaults(0.4, [*TRANSIENT, faults.stream_reset(after=0)], seed=3))
    client = compat.wrap(v1_client(server), FAST)
    for _ in range(8):
        chat = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert REPLY == chat.choices[0].message.content
        with client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        ) as stream:
            text = "".join(
                chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices
            )
        assert REPLY == text
        vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        assert [8, 8] == [len(item.embedding) for item in vectors.data]
        if hasattr(client, "responses"):
            assert REPLY == client.responses.create(model="gpt-4o", input="hi").output_text
    assert server.count(status=200) >= 24
    assert server.count() > server.count(status=200), "no fault was injected"


@v1_only
def test_v1_quota_running_out_costs_one_request_per_call(server: FaultServer) -> None:
    """Once the quota runs out, each call costs one request and raises a non-retryable
    QuotaExceededError."""
    server.add_rule(Quota(3))
    client = compat.wrap(v1_client(server), FAST)
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    for _ in range(4):
        with pytest.raises(compat.QuotaExceededError) as info:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert not info.value.retryable
        assert isinstance(info.value.__cause__, openai.RateLimitError)
    assert 7 == len(server.requests)


@v1_only
def test_v1_outage_then_recovery(server: FaultServer) -> None:
    """A 0.3 s outage of 503s: the call rides it out within the policy's attempts."""
    server.add_rule(Outage(0.3))
    policy = compat.RetryPolicy(
        overloaded_initial_wait=0.1, overloaded_max_wait=0.2, budget_capacity=0, max_attempts=30
    )
    client = compat.wrap(v1_client(server), policy)
    assert (
        REPLY
        == client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        .choices[0]
        .message.content
    )
    assert server.count(status=503) >= 1
    assert server.count(status=503) < 30


@v1_only
def test_v1_slow_answer_is_a_timeout_then_retried(server: FaultServer) -> None:
    """An answer slower than the client's timeout is a timeout, retried, and the retry
    succeeds."""
    server.script(faults.slow(2.0))
    client = compat.wrap(v1_client(server, timeout=0.3), FAST)
    assert (
        REPLY
        == client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        .choices[0]
        .message.content
    )
    assert [200, 200] == server.answered  # the first was sent after the client gave up


@v1_only
def test_v1_error_mid_stream_is_a_compat_error(server: FaultServer) -> None:
    """An error event after three chunks is raised as a compat error, never retried."""
    server.script(faults.stream_error(after=3))
    client = compat.wrap(v1_client(server), FAST)
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    received = [next(stream) for _ in range(3)]
    with pytest.raises(compat.LLMError) as info:
        next(stream)
    assert 3 == len(received)
    assert isinstance(info.value.__cause__, openai.APIError)
    assert 1 == len(server.requests)


# ---------------------------------------------------------------------- current SDK, async


@v1_only
def test_v1_async_concurrent_calls_under_a_token_bucket(server: FaultServer) -> None:
    """40 concurrent calls into a 50/s bucket of 5: all succeed."""
    server.add_rule(TokenBucket(rate=50, burst=5))

    async def main() -> list[str]:
        raw = openai.AsyncOpenAI(base_url=server.openai_url, api_key="sk-e2e", timeout=5)
        client = compat.wrap(raw, FAST)
        try:
            results = await asyncio.gather(
                *(
                    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                    for _ in range(40)
                )
            )
        finally:
            await raw.close()
        return [r.choices[0].message.content for r in results]

    assert [REPLY] * 40 == asyncio.run(main())
    assert 40 == server.count(status=200)


@v1_only
def test_v1_async_streams_through_random_faults(server: FaultServer) -> None:
    """Async streams through 40 % random faults all end with the whole reply."""
    server.add_rule(RandomFaults(0.4, [*TRANSIENT, faults.stream_reset(after=0)], seed=5))

    async def main() -> list[str]:
        raw = openai.AsyncOpenAI(base_url=server.openai_url, api_key="sk-e2e", timeout=5)
        client = compat.wrap(raw, FAST)

        async def one() -> str:
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            )
            parts = [
                chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices
            ]
            return "".join(parts)

        try:
            return await asyncio.gather(*(one() for _ in range(10)))
        finally:
            await raw.close()

    assert [REPLY] * 10 == asyncio.run(main())


# ---------------------------------------------------------------------- Azure


@v1_only
def test_azure_through_random_faults_and_its_filter(server: FaultServer) -> None:
    """AzureOpenAI calls through random faults all succeed; the content filter is raised as
    ContentFilteredError with its verdicts."""
    server.add_rule(RandomFaults(0.4, TRANSIENT, seed=7))
    raw = track(
        openai.AzureOpenAI(
            azure_endpoint=server.azure_endpoint,
            api_key="0123456789abcdef0123456789abcdef",
            api_version="2024-06-01",
            timeout=5,
        )
    )
    client = compat.wrap(raw, FAST)
    for _ in range(10):
        reply = client.chat.completions.create(model="gpt4o-deployment", messages=MESSAGES)
        assert REPLY == reply.choices[0].message.content
    assert {r.flavour for r in server.requests} == {"azure"}
    server.clear()
    server.script(faults.content_filtered())
    with pytest.raises(compat.ContentFilteredError) as info:
        client.chat.completions.create(model="gpt4o-deployment", messages=MESSAGES)
    assert ("violence",) == info.value.content_filter[0].filtered
    assert "azure" == info.value.provider
    assert 1 == len(server.requests)
    if hasattr(raw, "responses"):  # /openai/responses: Azure's, with no deployment in the path
        server.clear()
        server.script(faults.rate_limited(0.02))
        assert REPLY == client.responses.create(model="gpt4o-deployment", input="hi").output_text
        assert [429, 200] == server.answered
        assert {"azure"} == {r.flavour for r in server.requests}
        assert "apim-request-id" in server.requests[0].answer.headers


# ---------------------------------------------------------------------- gateway


def test_gateway_through_random_faults(server: FaultServer) -> None:
    """The gateway client meets envelopes with retryable codes, resets and HTML pages."""
    server.gateway_credentials = ("gw-key", "gw-secret")
    server.add_rule(
        RandomFaults(
            0.4,
            [
                faults.rate_limited(),
                faults.overloaded(),
                faults.server_error(),
                faults.gateway_code("4017", "upstream timed out"),
                faults.reset(),
                faults.reset(after_bytes=64),
                faults.html_page(502),
            ],
            seed=11,
        )
    )
    raw = compat.GatewayClient("gw-key", "gw-secret", base_url=server.gateway_url, timeout=(2, 2))
    client = compat.wrap(raw, FAST)
    try:
        for _ in range(15):
            answer = client.call("v1/chat/completions", {"model": "gpt-4o", "messages": MESSAGES})
            assert REPLY == answer["choices"][0]["message"]["content"]
        server.clear()
        server.add_rule(Quota(0))
        with pytest.raises(compat.QuotaExceededError) as info:
            client.call("v1/chat/completions", {"model": "gpt-4o", "messages": MESSAGES})
        assert "4013" == info.value.code
        assert 1 == len(server.requests)
    finally:
        raw.close()


def test_gateway_wrong_credentials(server: FaultServer) -> None:
    """Wrong gateway credentials are an AuthenticationError after one request."""
    server.gateway_credentials = ("gw-key", "gw-secret")
    with (
        compat.GatewayClient("gw-key", "wrong", base_url=server.gateway_url) as raw,
        pytest.raises(compat.AuthenticationError),
    ):
        compat.wrap(raw, FAST).call("v1/models")
    assert 1 == len(server.requests)


# ---------------------------------------------------------------------- legacy SDK


@pytest.fixture
def legacy(server: FaultServer) -> Any:
    saved = (openai.api_base, openai.api_key, openai.api_type, openai.api_version)
    openai.api_base, openai.api_key = server.openai_url, "sk-e2e"
    openai.api_type, openai.api_version = "open_ai", None
    try:
        yield server
    finally:
        openai.api_base, openai.api_key, openai.api_type, openai.api_version = saved


@legacy_only
def test_legacy_under_random_faults_and_a_bucket(legacy: FaultServer) -> None:
    """The legacy module through random faults and a token bucket: every call succeeds."""
    legacy.add_rule(RandomFaults(0.3, TRANSIENT, seed=13))
    legacy.add_rule(TokenBucket(rate=50, burst=3))
    client = compat.wrap(openai, FAST)
    for _ in range(15):
        reply = client.ChatCompletion.create(model="gpt-4o", messages=MESSAGES, request_timeout=5)
        assert REPLY == reply["choices"][0]["message"]["content"]
    assert 15 == legacy.count(status=200)


@legacy_only
def test_legacy_streams(legacy: FaultServer) -> None:
    """A legacy stream whose first attempt is reset is retried and read whole."""
    legacy.script(faults.reset())
    client = compat.wrap(openai, FAST)
    chunks = client.ChatCompletion.create(
        model="gpt-4o", messages=MESSAGES, stream=True, request_timeout=5
    )
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert REPLY == text


@legacy_only
def test_legacy_quota_and_azure(legacy: FaultServer) -> None:
    """The legacy module's exhausted quota is a QuotaExceededError; with api_type azure, a rate
    limit and an overload are retried."""
    legacy.add_rule(Quota(1))
    client = compat.wrap(openai, FAST)
    client.ChatCompletion.create(model="gpt-4o", messages=MESSAGES, request_timeout=5)
    with pytest.raises(compat.QuotaExceededError) as info:
        client.ChatCompletion.create(model="gpt-4o", messages=MESSAGES, request_timeout=5)
    assert isinstance(info.value.__cause__, openai.error.RateLimitError)
    legacy.clear()
    legacy.script(faults.rate_limited(0.05), faults.overloaded())
    reply = client.ChatCompletion.create(
        engine="gpt4o-deployment",
        messages=MESSAGES,
        api_type="azure",
        api_base=legacy.azure_endpoint,
        api_version="2024-06-01",
        api_key="0123456789abcdef0123456789abcdef",
        request_timeout=5,
    )
    assert REPLY == reply["choices"][0]["message"]["content"]
    assert ["azure"] * 3 == [r.flavour for r in legacy.requests]
    assert [429, 503, 200] == legacy.answered
