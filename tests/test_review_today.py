"""Defects found in review of the quicker readers, the deferred token counting and the
engine's slot-at-once path: each test failed before its fix."""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("the v1+ SDK is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.retry import tokens  # noqa: E402
from compat.testing import FaultServer  # noqa: E402
from tests.conftest import track  # noqa: E402

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


class _Tiktoken:
    """A stand-in tiktoken whose encoding counts one token a character; loads are recorded."""

    def __init__(self) -> None:
        self.models: list[str] = []

    def encoding_for_model(self, model: str) -> Any:
        self.models.append(model)
        return types.SimpleNamespace(encode=lambda text: [0] * len(text))

    @staticmethod
    def stored(model: str) -> bool:
        """Wait (at most a minute) until the background load stored *model*'s encoding."""
        for _ in range(6000):
            if tokens._ENCODERS.get(model) is not None:
                return True
            threading.Event().wait(0.01)
        return False


@pytest.fixture
def tiktoken(monkeypatch: pytest.MonkeyPatch) -> _Tiktoken:
    """A fake tiktoken for the test, and an empty process-wide encoding cache."""
    found = _Tiktoken()
    fake = types.ModuleType("tiktoken")
    fake.encoding_for_model = found.encoding_for_model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    monkeypatch.setattr(tokens, "_ENCODERS", {})
    return found


def _client(server: FaultServer) -> Any:
    return track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test"))


def test_a_derived_client_counts_exactly_once_its_parent_was_told_a_token_limit(
    server: FaultServer, tiktoken: _Tiktoken
) -> None:
    """``with_options`` (the SDK's per-request idiom) derives a client whose prompts are
    counted exactly once the client it came from was told a token limit: the target it
    shares paces tokens with its estimates."""
    client = compat.wrap(_client(server))
    server.push(200, TOKEN_HEADERS, COMPLETION)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # tells the limit
    server.push(200, TOKEN_HEADERS, COMPLETION)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # starts the load
    assert tiktoken.stored("gpt-4o")
    derived = client.with_options(timeout=30)
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}
    assert derived._compat_client.measure(kwargs).exact


def test_clients_derived_per_call_learn_the_token_limit_together(
    server: FaultServer, tiktoken: _Tiktoken
) -> None:
    """A client used only through ``with_options(...)`` per call: what one derived client's
    answer told (a token limit) holds for the next derived client, which counts exactly."""
    client = compat.wrap(_client(server))
    for _ in range(2):
        server.push(200, TOKEN_HEADERS, COMPLETION)
        client.with_options(timeout=30).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "gpt-4o" in tokens._ENCODERS  # the second derived client asked for the encoding
    assert tiktoken.stored("gpt-4o")
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}
    assert client.with_options(timeout=30)._compat_client.measure(kwargs).exact


def test_a_second_client_on_a_paced_target_counts_exactly(
    server: FaultServer, tiktoken: _Tiktoken
) -> None:
    """Clients wrapped apart under one policy (a client made per request or per worker)
    share their target's pacing: once one was told a token limit and the model's encoding
    is loaded, the other's prompts, which that pacing reserves, are counted exactly too."""
    policy = compat.RetryPolicy()
    first = compat.wrap(_client(server), policy)
    for _ in range(2):
        server.push(200, TOKEN_HEADERS, COMPLETION)
        first.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert tiktoken.stored("gpt-4o")
    second = compat.wrap(_client(server), policy)
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}
    measured = second._compat_client.measure(kwargs)
    assert measured.exact
    assert measured.prompt == 400 + len("user") + 4 + 3  # one token a character, as loaded
    assert ["gpt-4o"] == tiktoken.models
