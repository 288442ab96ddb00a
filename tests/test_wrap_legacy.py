"""compat.wrap around the legacy openai module (0.28), counted on a loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

openai = pytest.importorskip("openai")
if hasattr(openai, "OpenAI"):
    pytest.skip("the legacy SDK (openai<1) is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.testing import FaultServer, faults  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi"}]
RATE_LIMIT = {
    "error": {
        "message": "Rate limit reached for requests",
        "type": "requests",
        "code": "rate_limit_exceeded",
    }
}
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "legacy ok"},
            "finish_reason": "stop",
        }
    ],
}


@pytest.fixture
def legacy(server: FaultServer) -> Iterator[FaultServer]:
    saved = (openai.api_base, openai.api_key, openai.api_type, openai.api_version)
    openai.api_base, openai.api_key, openai.api_type, openai.api_version = (
        server.url + "/v1",
        "sk-t",
        "open_ai",
        None,
    )
    yield server
    openai.api_base, openai.api_key, openai.api_type, openai.api_version = saved


def test_429_twice_then_success(legacy: FaultServer) -> None:
    """Two 429s with retry-after then 200: success after exactly 3 requests, waits honoured."""
    for _ in range(2):
        legacy.push(429, {"retry-after": "0.2"}, RATE_LIMIT)
    legacy.push(200, {}, COMPLETION)
    result = compat.wrap(openai).ChatCompletion.create(model="gpt-4", messages=MESSAGES)
    assert "legacy ok" == result["choices"][0]["message"]["content"]
    assert 3 == len(legacy.requests)
    gaps = [b.at - a.at for a, b in zip(legacy.requests, legacy.requests[1:])]
    assert all(gap >= 0.2 for gap in gaps), gaps


def test_quota_is_one_request(legacy: FaultServer) -> None:
    """A quota 429 raises QuotaExceededError from openai.error.RateLimitError after one request."""
    legacy.push(
        429,
        {},
        {
            "error": {
                "message": "You exceeded your current quota",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        },
    )
    with pytest.raises(compat.QuotaExceededError) as info:
        compat.wrap(openai).ChatCompletion.create(model="gpt-4", messages=MESSAGES)
    assert isinstance(info.value.__cause__, openai.error.RateLimitError)
    assert 1 == len(legacy.requests)


def test_try_again_is_retried_by_the_policy_not_the_sdk(legacy: FaultServer) -> None:
    """409 (TryAgain) is retried by the policy, each attempt one request: the SDK's own
    warm-up loop is turned off."""
    legacy.add_rule(
        lambda request: faults.answer(409, {}, {"error": {"message": "warming up", "type": None}})
    )
    with compat.retry_testing(), pytest.raises(compat.ConflictError):
        compat.wrap(openai, compat.RetryPolicy(max_attempts=3)).ChatCompletion.create(
            model="gpt-4", messages=MESSAGES
        )
    assert 3 == len(legacy.requests)


def test_async_acreate(legacy: FaultServer) -> None:
    """acreate goes through the policy too."""
    import asyncio

    legacy.push(
        503,
        {},
        {
            "error": {
                "message": "The server is overloaded or not ready yet.",
                "type": "server_error",
            }
        },
    )
    legacy.push(200, {}, COMPLETION)

    async def main() -> object:
        return await compat.wrap(openai).ChatCompletion.acreate(model="gpt-4", messages=MESSAGES)

    with compat.retry_testing():
        result = asyncio.run(main())
    assert "legacy ok" == result["choices"][0]["message"]["content"]  # type: ignore[index]
    assert 2 == len(legacy.requests)
