"""What a wrapped client's successful calls do beyond the SDK's own: no tiktoken encoding is
loaded before a target tells a token limit, and each answer's usage corrects the estimate
its request was given; once a limit is told, derived clients and clients on the same
target count exactly too."""

from __future__ import annotations

import asyncio
import threading
import types
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("the v1+ SDK is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.retry import tokens  # noqa: E402
from compat.retry.tokens import Estimator  # noqa: E402
from compat.testing import FaultServer  # noqa: E402
from tests.conftest import fake_tiktoken, track  # noqa: E402

MESSAGES = [{"role": "user", "content": "x" * 400}]
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 150, "completion_tokens": 1, "total_tokens": 151},
}
TOKEN_HEADERS = {
    "x-ratelimit-limit-tokens": "30000",
    "x-ratelimit-remaining-tokens": "29000",
    "x-ratelimit-reset-tokens": "2s",
}
# OpenAI's own words (tests/test_tokens.py quotes the same message).
TPM_429 = {
    "error": {
        "message": "Rate limit reached for gpt-4o in organization org-abc on tokens per min "
        "(TPM): Limit 30000, Used 29800, Requested 1200. Please try again in 20ms.",
        "type": "tokens",
        "code": "rate_limit_exceeded",
    }
}


class _Loads:
    """A stand-in tiktoken whose loads are recorded and whose encoding counts one token a
    character (unlike the estimate by characters)."""

    def __init__(self) -> None:
        self.models: list[str] = []
        self.done = threading.Event()

    def stored(self, model: str) -> bool:
        """Wait until the load's thread stored the encoding (so that no thread outlives
        the test's cache)."""
        assert self.done.wait(60)
        for _ in range(6000):
            if tokens._ENCODERS.get(model) is not None:
                return True
            threading.Event().wait(0.01)
        return False

    def encoding_for_model(self, model: str) -> Any:
        self.models.append(model)
        self.done.set()
        return types.SimpleNamespace(encode=lambda text: [0] * len(text))


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> _Loads:
    """A fake tiktoken for the test, and an empty process-wide encoding cache."""
    found = _Loads()
    fake_tiktoken(monkeypatch, found.encoding_for_model)
    return found


def _client(server: FaultServer) -> Any:
    return track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test"))


def test_no_encoding_is_loaded_before_a_token_limit_is_told(
    server: FaultServer, loads: _Loads
) -> None:
    """Answers without token headers: no tiktoken load starts, however many calls; the first
    answer that tells a token limit starts one (in the background), for the call's model."""
    client = compat.wrap(_client(server))
    for _ in range(3):
        server.push(200, {}, COMPLETION)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert [] == loads.models
    assert {} == tokens._ENCODERS
    server.push(200, TOKEN_HEADERS, COMPLETION)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert [] == loads.models  # told after its own estimate: the next request loads
    server.push(200, {}, COMPLETION)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert loads.stored("gpt-4o")
    assert ["gpt-4o"] == loads.models


def test_a_tpm_429_starts_the_load_too(server: FaultServer, loads: _Loads) -> None:
    """A 429 whose words tell a tokens-per-minute limit (no token headers) turns exact
    counting on for the async client's next call (its retry keeps the call's estimate)."""
    server.push(429, {"retry-after-ms": "20"}, TPM_429)
    server.push(200, {}, COMPLETION)
    server.push(200, {}, COMPLETION)
    client = compat.wrap(track(openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test")))

    async def calls() -> list[str]:
        try:
            first = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            seen = list(loads.models)  # the retry reused the call's estimate: no load yet
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert "ok" == first.choices[0].message.content
            return seen
        finally:
            await client.close()

    with compat.retry_testing():
        before_second = asyncio.run(calls())
    assert [] == before_second
    assert loads.stored("gpt-4o")
    assert ["gpt-4o"] == loads.models
    assert 3 == len(server.requests)


def test_tells_token_limit_reads_headers_and_words() -> None:
    """What counts as telling a token limit: the header on an SDK error's response or a
    compat error's signals, or a TPM message; a requests-per-minute 429 does not."""
    from compat._wrap import _tells_token_limit

    class Response:
        headers = {"x-ratelimit-limit-tokens": "1000"}

    sdk_like = Exception("429")
    sdk_like.response = Response()  # type: ignore[attr-defined]
    assert _tells_token_limit(sdk_like)
    words = compat.RateLimitError(
        kind="rate_limited", message=TPM_429["error"]["message"], retryable=True
    )
    assert _tells_token_limit(words)
    requests = compat.RateLimitError(
        kind="rate_limited", message="Rate limit reached for requests", retryable=True
    )
    assert not _tells_token_limit(requests)


def test_learning_from_a_measure_equals_learning_from_the_request() -> None:
    """Passing the request's own measure to learn() corrects the estimate exactly as
    counting the request again does."""
    kwargs = {"model": "m", "messages": [{"role": "user", "content": "y" * 400}]}
    usage = {"prompt_tokens": 150, "completion_tokens": 40}
    again, reused = Estimator(exact=False), Estimator(exact=False)
    for _ in range(5):
        assert again.learn(kwargs, usage) == reused.learn(kwargs, usage, reused.measure(kwargs))
    assert again.estimate(kwargs) == reused.estimate(kwargs)
    assert again.estimate(kwargs) != Estimator(exact=False).estimate(kwargs)  # it learned


def test_exact_and_character_counts_learn_apart(loads: _Loads) -> None:
    """A ratio learned while counting by characters is not applied to exact counts: once
    the encoding is at hand, a prompt's estimate starts from its exact count."""
    kwargs = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "z" * 400}],
        "max_tokens": 10,
    }
    estimator = Estimator(exact=False)
    for _ in range(10):
        estimator.learn(kwargs, {"prompt_tokens": 400, "completion_tokens": 1})
    by_characters = estimator.measure(kwargs)
    assert not by_characters.exact
    assert by_characters.total - 10 > 300  # learned: characters undercount this text
    estimator.count_exactly()
    estimator.measure(kwargs)  # starts the load
    assert loads.stored("gpt-4o")
    exact = estimator.measure(kwargs)
    assert exact.exact
    assert exact.prompt == 400 + len("user") + 4 + 3
    assert exact.total == exact.prompt + 10  # no ratio learned for exact counts yet


def test_a_derived_client_counts_exactly_once_its_parent_was_told_a_token_limit(
    server: FaultServer, loads: _Loads
) -> None:
    """``with_options`` (the SDK's per-request idiom) derives a client whose prompts are
    counted exactly once the client it came from was told a token limit: the target it
    shares paces tokens with its estimates."""
    client = compat.wrap(_client(server))
    server.push(200, TOKEN_HEADERS, COMPLETION)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # tells the limit
    server.push(200, TOKEN_HEADERS, COMPLETION)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # starts the load
    assert loads.stored("gpt-4o")
    derived = client.with_options(timeout=30)
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}
    assert derived._compat_client.measure(kwargs).exact


def test_clients_derived_per_call_learn_the_token_limit_together(
    server: FaultServer, loads: _Loads
) -> None:
    """A client used only through ``with_options(...)`` per call: what one derived client's
    answer told (a token limit) holds for the next derived client, which counts exactly."""
    client = compat.wrap(_client(server))
    for _ in range(2):
        server.push(200, TOKEN_HEADERS, COMPLETION)
        client.with_options(timeout=30).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "gpt-4o" in tokens._ENCODERS  # the second derived client asked for the encoding
    assert loads.stored("gpt-4o")
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}
    assert client.with_options(timeout=30)._compat_client.measure(kwargs).exact


def test_a_second_client_on_a_paced_target_counts_exactly(
    server: FaultServer, loads: _Loads
) -> None:
    """Clients wrapped apart under one policy (a client made per request or per worker)
    share their target's pacing: once one was told a token limit and the model's encoding
    is loaded, the other's prompts, which that pacing reserves, are counted exactly too."""
    policy = compat.RetryPolicy()
    first = compat.wrap(_client(server), policy)
    for _ in range(2):
        server.push(200, TOKEN_HEADERS, COMPLETION)
        first.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert loads.stored("gpt-4o")
    second = compat.wrap(_client(server), policy)
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}
    measured = second._compat_client.measure(kwargs)
    assert measured.exact
    assert measured.prompt == 400 + len("user") + 4 + 3  # one token a character, as loaded
    assert ["gpt-4o"] == loads.models
