"""Real error answers of OpenAI-compatible servers, read by compat three ways.

Every entry of the corpus (tests/data/compatible/, loaded by tests/compatible_corpus.py)
goes through ``compat.from_response``; those with an HTTP error status also go through
the real SDKs against the fault server: the v1+ SDK (``compat.translate`` of what
``openai.OpenAI`` raises) and, where openai<1 is installed, the legacy SDK. Every
labelled field (kind, retryable, retry_after, code, request_id, provider) is compared.

What compat gets wrong today is listed in :data:`KNOWN_MISSES` and runs as a strict
xfail: when a fix makes such an entry pass, the test fails until its line is removed,
so the table can only shrink.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
from compat.testing import FaultServer, faults
from tests.compatible_corpus import DATA, FIELDS, CorpusError, Entry, describe, differences, load
from tests.conftest import track

try:
    import openai as _openai
except ImportError:  # pragma: no cover - every tox environment installs one
    _openai = None  # type: ignore[assignment]

#: The installed SDK, whichever major version it is (legacy attributes included).
openai: Any = _openai

V1 = openai is not None and hasattr(openai, "OpenAI")
LEGACY = openai is not None and not V1
MESSAGES = [{"role": "user", "content": "hi"}]

#: The three ways an answer reaches compat.
PATHS = ("from_response", "v1", "legacy")

#: What compat gets wrong today. A key is an entry id (wrong on every path the entry
#: runs on) or ``"<id> [<path>]"`` (wrong on that path only); the value says which
#: fields are wrong and what compat answers instead.
KNOWN_MISSES: dict[str, str] = {
    "anthropic-overloaded-500": "provider 'openai' (expected 'anthropic')",
    "anthropic-prompt-too-long-400 [from_response]": "provider 'openai' (expected 'anthropic')",
    "anthropic-prompt-too-long-400 [v1]": "request_id None (expected 'req_011CV5J4YZo4J3KLTDZgDN7S'); provider 'openai' (expected 'anthropic')",
    "anthropic-prompt-too-long-400 [legacy]": "provider 'openai' (expected 'anthropic')",
    "anthropic-rate-limit-429": "provider 'openai' (expected 'anthropic')",
    "anthropic-account-rate-limit-429 [from_response]": "provider 'openai' (expected 'anthropic')",
    "anthropic-account-rate-limit-429 [v1]": "request_id None (expected 'req_011CYDA1M8tNwCqrctK48kqs'); provider 'openai' (expected 'anthropic')",
    "anthropic-account-rate-limit-429 [legacy]": "provider 'openai' (expected 'anthropic')",
    "anthropic-cloudflare-520-html [v1]": "provider 'openai' (expected 'unknown')",
    "anthropic-cloudflare-520-html [legacy]": "provider 'openai' (expected 'unknown')",
    "anthropic-rate-limit-should-retry-429": "provider 'openai' (expected 'anthropic')",
    "anthropic-invalid-credentials-401 [from_response]": "provider 'openai' (expected 'anthropic')",
    "anthropic-invalid-credentials-401 [v1]": "request_id None (expected 'req_011Cb3RavXrrXz31j9FoSWJv'); provider 'openai' (expected 'anthropic')",
    "anthropic-invalid-credentials-401 [legacy]": "provider 'openai' (expected 'anthropic')",
    "anthropic-context-limit-no-status": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'anthropic')",
    "azure-peak-load-429": "kind 'rate_limited' (expected 'overloaded')",
    "azure-unauthorized-code-401": "provider 'azure' (expected 'openai')",
    "azure-apim-rate-limit-in-app-500 [from_response]": "kind 'server_error' (expected 'rate_limited'); retry_after None (expected 11.0); provider 'openai' (expected 'unknown')",
    "azure-apim-rate-limit-in-app-500 [v1]": "kind 'server_error' (expected 'rate_limited'); retry_after None (expected 11.0); provider 'openai' (expected 'unknown')",
    "azure-apim-rate-limit-in-app-500 [legacy]": "no error at all (None)",
    "cloudflare-aig-auth-10000-401 [from_response]": "code None (expected '10000'); provider 'unknown' (expected 'cloudflare')",
    "cloudflare-aig-auth-10000-401 [v1]": "code None (expected '10000'); provider 'openai' (expected 'cloudflare')",
    "cloudflare-aig-auth-10000-401 [legacy]": "code None (expected '10000'); provider 'openai' (expected 'cloudflare')",
    "cloudflare-could-not-route-404 [from_response]": "code None (expected '7003'); provider 'unknown' (expected 'cloudflare')",
    "cloudflare-could-not-route-404 [v1]": "code None (expected '7003'); provider 'openai' (expected 'cloudflare')",
    "cloudflare-could-not-route-404 [legacy]": "code None (expected '7003'); provider 'openai' (expected 'cloudflare')",
    "cloudflare-method-not-supported-405 [from_response]": "code None (expected '7001'); provider 'unknown' (expected 'cloudflare')",
    "cloudflare-method-not-supported-405 [v1]": "code None (expected '7001'); provider 'openai' (expected 'cloudflare')",
    "cloudflare-method-not-supported-405 [legacy]": "code None (expected '7001'); provider 'openai' (expected 'cloudflare')",
    "deepinfra-input-length-500": "kind 'server_error' (expected 'context_length_exceeded'); retryable True (expected False)",
    "fireworks-account-suspended-412": "kind 'invalid_request' (expected 'permission_denied'); code 'UNKNOWN_ERROR' (expected 'PRECONDITION_FAILED')",
    "fireworks-invalid-apikey-401 [v1]": "provider 'openai' (expected 'unknown')",
    "fireworks-invalid-apikey-401 [legacy]": "provider 'openai' (expected 'unknown')",
    "fireworks-detail-not-found-404": "provider 'openai' (expected 'unknown')",
    "fireworks-404-no-body [v1]": "provider 'openai' (expected 'unknown')",
    "fireworks-404-no-body [legacy]": "provider 'openai' (expected 'unknown')",
    "gemini-high-demand-503": "provider 'openai' (expected 'gemini')",
    "gemini-model-overloaded-503": "provider 'openai' (expected 'gemini')",
    "gemini-invalid-argument-list-400": "provider 'openai' (expected 'gemini')",
    "gemini-invalid-resource-400": "provider 'openai' (expected 'gemini')",
    "gemini-resource-exhausted-429": "provider 'openai' (expected 'gemini')",
    "gemini-daily-quota-429": "provider 'openai' (expected 'gemini')",
    "gemini-model-capacity-503": "provider 'openai' (expected 'gemini')",
    "gemini-api-key-invalid-400": "kind 'invalid_request' (expected 'authentication'); provider 'openai' (expected 'gemini')",
    "gemini-no-capacity-claude-503": "provider 'openai' (expected 'gemini')",
    "gemini-overloaded-cli-503": "provider 'openai' (expected 'gemini')",
    "gemini-resource-exhausted-text-429": "provider 'openai' (expected 'gemini')",
    "gemini-input-token-count-400": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'gemini')",
    "groq-tpm-request-over-limit-429": "retryable True (expected False)",
    "groq-model-decommissioned-400": "kind 'invalid_request' (expected 'not_found')",
    "helicone-proxy-error-500 [from_response]": "provider 'unknown' (expected 'helicone')",
    "helicone-proxy-error-500 [v1]": "provider 'openai' (expected 'helicone')",
    "helicone-proxy-error-500 [legacy]": "provider 'openai' (expected 'helicone')",
    "helicone-no-api-key": "provider 'openai' (expected 'helicone')",
    "helicone-cloudflare-522-html [v1]": "provider 'openai' (expected 'unknown')",
    "helicone-cloudflare-522-html [legacy]": "provider 'openai' (expected 'unknown')",
    "litellm-budget-exceeded-429": "kind 'rate_limited' (expected 'quota_exceeded'); retryable True (expected False); provider 'openai' (expected 'litellm')",
    "litellm-budget-exceeded-400": "kind 'invalid_request' (expected 'quota_exceeded'); provider 'openai' (expected 'litellm')",
    "litellm-no-deployments-429": "provider 'openai' (expected 'litellm')",
    "litellm-token-not-in-db-401": "provider 'openai' (expected 'litellm')",
    "litellm-auth-error-401": "provider 'openai' (expected 'litellm')",
    "litellm-key-model-access-denied-403": "provider 'openai' (expected 'litellm')",
    "litellm-user-permission-403": "provider 'openai' (expected 'litellm')",
    "litellm-anthropic-context-limit-400": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'litellm')",
    "litellm-azure-throttling-429": "provider 'azure' (expected 'litellm')",
    "litellm-invalid-model-name-400": "kind 'invalid_request' (expected 'not_found'); provider 'openai' (expected 'litellm')",
    "litellm-no-api-key-401": "provider 'openai' (expected 'litellm')",
    "litellm-key-blocked-401": "provider 'openai' (expected 'litellm')",
    "litellm-malformed-key-401": "provider 'openai' (expected 'litellm')",
    "litellm-jwt-expired-401": "provider 'openai' (expected 'litellm')",
    "litellm-trace-id-required-400": "provider 'openai' (expected 'litellm')",
    "litellm-vertex-context-error-string": "kind 'unknown' (expected 'context_length_exceeded'); code None (expected '400'); provider 'openai' (expected 'litellm')",
    "litellm-guardrail-blocked-400": "kind 'invalid_request' (expected 'content_filtered'); provider 'openai' (expected 'litellm')",
    "litellm-budget-reservation-429": "kind 'rate_limited' (expected 'quota_exceeded'); retryable True (expected False); provider 'openai' (expected 'litellm')",
    "llamacpp-exceed-context-under-200": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'llamacpp')",
    "llamacpp-exceed-context-500": "kind 'server_error' (expected 'context_length_exceeded'); retryable True (expected False); provider 'openai' (expected 'llamacpp')",
    "llamacpp-context-server-error-500": "kind 'server_error' (expected 'context_length_exceeded'); retryable True (expected False)",
    "llamacpp-exceed-context-400": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'llamacpp')",
    "llamacpp-loading-model-503": "provider 'openai' (expected 'llamacpp')",
    "llamacpp-python-detail-not-found-404": "provider 'openai' (expected 'unknown')",
    "mistral-rate-limited-429": "provider 'openai' (expected 'mistral')",
    "mistral-service-tier-capacity": "no error at all (None)",
    "mistral-unauthorized-401 [from_response]": "provider 'openai' (expected 'unknown')",
    "mistral-unauthorized-401 [v1]": "request_id None (expected 'c61f2f15feca71626a990e3740f99245'); provider 'openai' (expected 'unknown')",
    "mistral-unauthorized-401 [legacy]": "provider 'openai' (expected 'unknown')",
    "mistral-detail-unauthorized-401": "provider 'openai' (expected 'unknown')",
    "ollama-native-model-not-found-404 [from_response]": "provider 'openai' (expected 'unknown')",
    "ollama-native-model-not-found-404 [v1]": "provider 'openai' (expected 'unknown')",
    "ollama-native-model-not-found-404 [legacy]": "no error at all (None)",
    "ollama-cloud-overloaded-503": "provider 'openai' (expected 'unknown')",
    "ollama-server-busy-503": "provider 'openai' (expected 'unknown')",
    "ollama-runner-terminated-500 [from_response]": "provider 'openai' (expected 'unknown')",
    "ollama-runner-terminated-500 [v1]": "provider 'openai' (expected 'unknown')",
    "ollama-runner-terminated-500 [legacy]": "no error at all (None)",
    "ollama-404-page-not-found-text [v1]": "provider 'openai' (expected 'unknown')",
    "ollama-404-page-not-found-text [legacy]": "provider 'openai' (expected 'unknown')",
    "oneapi-no-channel-503": "request_id None (expected '2025121521151664761470129816750'); provider 'openai' (expected 'oneapi')",
    "oneapi-no-channel-fork-503": "request_id None (expected '202510161555437244439317690388'); provider 'openai' (expected 'oneapi')",
    "oneapi-user-quota-403": "request_id None (expected '2024081922011112714735330169131'); provider 'openai' (expected 'oneapi')",
    "oneapi-new-api-user-quota-403": "request_id None (expected '20240909152207513198801NCNrvKxv'); provider 'openai' (expected 'oneapi')",
    "oneapi-upstream-saturated-429": "request_id None (expected '2024121602163036521732429064585'); provider 'openai' (expected 'oneapi')",
    "oneapi-upstream-saturated-bad-status-429": "request_id None (expected '20260521174921838127707FxeB1sRH'); provider 'openai' (expected 'oneapi')",
    "oneapi-user-quota-python-403": "request_id None (expected '202502281247138307582052662997'); provider 'openai' (expected 'oneapi')",
    "oneapi-no-channel-empty-model-503": "request_id None (expected '20240217221420431221851eBgCEaZ1'); provider 'openai' (expected 'oneapi')",
    "oneapi-no-channel-new-api-503": "request_id None (expected '20250318131155384202563SBRLdIC9'); provider 'openai' (expected 'oneapi')",
    "oneapi-user-quota-python-free-403": "request_id None (expected '2025020911093417487821572799492'); provider 'openai' (expected 'oneapi')",
    "openai-project-no-model-access-403": "kind 'not_found' (expected 'permission_denied')",
    "openai-project-no-model-access-sdk-403": "kind 'not_found' (expected 'permission_denied')",
    "openrouter-credits-402": "provider 'openai' (expected 'openrouter')",
    "openrouter-no-endpoints-404": "provider 'openai' (expected 'openrouter')",
    "openrouter-no-tool-endpoints-404": "kind 'not_found' (expected 'invalid_request')",
    "openrouter-upstream-rate-limit-429": "provider 'openai' (expected 'openrouter')",
    "openrouter-upstream-openai-400": "provider 'openai' (expected 'openrouter')",
    "openrouter-upstream-crucible-400": "code '400' (expected 'invalid_request_error'); provider 'openai' (expected 'openrouter')",
    "openrouter-internal-error-under-200": "provider 'openai' (expected 'openrouter')",
    "openrouter-afford-max-tokens-402": "provider 'openai' (expected 'openrouter')",
    "openrouter-byok-invalid-key-401": "provider 'openai' (expected 'openrouter')",
    "openrouter-no-tool-choice-endpoints-404": "kind 'not_found' (expected 'invalid_request')",
    "openrouter-zen-user-not-found-401 [v1]": "provider 'openai' (expected 'unknown')",
    "openrouter-zen-user-not-found-401 [legacy]": "provider 'openai' (expected 'unknown')",
    "openrouter-upstream-location-400": "kind 'invalid_request' (expected 'permission_denied'); provider 'openai' (expected 'openrouter')",
    "perplexity-openresty-401-html [v1]": "provider 'openai' (expected 'unknown')",
    "perplexity-openresty-401-html [legacy]": "provider 'openai' (expected 'unknown')",
    "perplexity-openresty-401-html-challenge [v1]": "provider 'openai' (expected 'unknown')",
    "perplexity-openresty-401-html-challenge [legacy]": "provider 'openai' (expected 'unknown')",
    "perplexity-invalid-model-400": "kind 'invalid_request' (expected 'not_found')",
    "perplexity-invalid-model-sonar-400": "kind 'invalid_request' (expected 'not_found')",
    "portkey-network-lost-under-200": "no error at all (None)",
    "portkey-401-no-body [v1]": "provider 'openai' (expected 'unknown')",
    "portkey-401-no-body [legacy]": "provider 'openai' (expected 'unknown')",
    "portkey-missing-provider-400": "provider 'openai' (expected 'portkey')",
    "sglang-unauthorized-401 [from_response]": "provider 'openai' (expected 'unknown')",
    "sglang-unauthorized-401 [v1]": "provider 'openai' (expected 'unknown')",
    "sglang-unauthorized-401 [legacy]": "no error at all (None)",
    "sglang-proxy-403-html [v1]": "provider 'openai' (expected 'unknown')",
    "sglang-proxy-403-html [legacy]": "provider 'openai' (expected 'unknown')",
    "tgi-top-p-422 [from_response]": "provider 'openai' (expected 'tgi')",
    "tgi-top-p-422 [v1]": "provider 'openai' (expected 'tgi')",
    "tgi-top-p-422 [legacy]": "no error at all (None)",
    "tgi-context-422 [from_response]": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'tgi')",
    "tgi-context-422 [v1]": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'tgi')",
    "tgi-context-422 [legacy]": "no error at all (None)",
    "tgi-inputs-too-long-422 [from_response]": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'tgi')",
    "tgi-inputs-too-long-422 [v1]": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'tgi')",
    "tgi-inputs-too-long-422 [legacy]": "no error at all (None)",
    "tgi-overloaded-429 [from_response]": "provider 'openai' (expected 'tgi')",
    "tgi-overloaded-429 [v1]": "provider 'openai' (expected 'tgi')",
    "tgi-overloaded-429 [legacy]": "no error at all (None)",
    "tgi-generation-error-sse-200": "kind 'unknown' (expected 'server_error'); retryable False (expected True); provider 'openai' (expected 'tgi')",
    "together-credit-limit-402": "provider 'openai' (expected 'together')",
    "vllm-max-tokens-negative-400": "provider 'openai' (expected 'vllm')",
    "vllm-roles-alternate-400": "provider 'openai' (expected 'vllm')",
    "vllm-no-chat-api-under-200": "no error at all (None)",
    "vllm-context-length-400": "provider 'openai' (expected 'vllm')",
    "vllm-model-not-exist-404": "provider 'openai' (expected 'vllm')",
    "vllm-model-not-exist-curl-404": "provider 'openai' (expected 'vllm')",
    "vllm-starlette-500-text [v1]": "provider 'openai' (expected 'unknown')",
    "vllm-starlette-500-text [legacy]": "provider 'openai' (expected 'unknown')",
    "vllm-auto-tool-choice-400": "provider 'openai' (expected 'vllm')",
    "vllm-auto-tool-choice-new-shape-400 [v1]": "request_id None (expected '0e4a6d5d0e7f6b7c')",
    "vllm-model-not-exist-gptq-404": "provider 'openai' (expected 'vllm')",
    "vllm-no-chat-api-no-status": "no error at all (None)",
    "vllm-auto-tool-choice-java-400": "provider 'openai' (expected 'vllm')",
    "vllm-decoder-prompt-too-long-400": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'vllm')",
    "vllm-decoder-prompt-new-shape-400": "kind 'invalid_request' (expected 'context_length_exceeded'); provider 'openai' (expected 'vllm')",
}


def _miss(entry: Entry, path: str) -> str | None:
    return KNOWN_MISSES.get(f"{entry.id} [{path}]", KNOWN_MISSES.get(entry.id))


def _runs_on(entry: Entry, path: str) -> bool:
    return path == "from_response" or entry.failed_status


def cases(path: str) -> list[Any]:
    """The corpus as parameters for *path*, known misses marked as strict xfails."""
    params = []
    for entry in load():
        if not _runs_on(entry, path):
            continue
        miss = _miss(entry, path)
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=miss)] if miss else []
        params.append(pytest.param(entry, id=entry.id, marks=marks))
    return params


def assert_reads(error: Any, entry: Entry) -> None:
    """Every labelled field of *error* is the entry's expected value."""
    diff = differences(error, entry.expected)
    assert not diff, f"{entry.id}: {describe(diff)}"
    assert isinstance(error, compat.LLMError)


# ---------------------------------------------------------------------- from_response


@pytest.mark.parametrize("entry", cases("from_response"))
def test_from_response(entry: Entry) -> None:
    """compat.from_response reads the raw answer into the labelled error."""
    assert_reads(compat.from_response(entry.status, entry.headers, entry.body), entry)


# ---------------------------------------------------------------------- the v1+ SDK


def v1_error(server: FaultServer, entry: Entry) -> BaseException:
    """What openai.OpenAI raises for the entry's answer."""
    server.script(faults.answer(entry.status or 0, entry.headers, entry.body))
    client = track(openai.OpenAI(base_url=server.openai_url, api_key="sk-test", max_retries=0))
    with pytest.raises(openai.APIError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    raised: BaseException = info.value
    return raised


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
@pytest.mark.parametrize("entry", cases("v1"))
def test_v1_sdk(server: FaultServer, entry: Entry) -> None:
    """compat.translate of the v1 SDK's exception reads the answer into the labelled error."""
    exc = v1_error(server, entry)
    error = compat.translate(exc)
    assert_reads(error, entry)
    assert error is not None
    assert exc is error.__cause__


# ---------------------------------------------------------------------- the legacy SDK


@pytest.fixture
def legacy(server: FaultServer) -> Iterator[FaultServer]:
    """The legacy SDK's global configuration pointed at the scripted server."""
    saved = (openai.api_base, openai.api_key, openai.api_type, openai.api_version)
    openai.api_base, openai.api_key = server.openai_url, "sk-test"
    openai.api_type, openai.api_version = "open_ai", None
    yield server
    openai.api_base, openai.api_key, openai.api_type, openai.api_version = saved


def legacy_error(server: FaultServer, entry: Entry) -> BaseException:
    """What the legacy SDK raises for the entry's answer.

    openai 0.28.1 reads ``body["error"]`` as an object: for ``{"error": "text"}`` its own
    error handling raises AttributeError instead of an ``openai.error`` exception.
    """
    server.script(faults.answer(entry.status or 0, entry.headers, entry.body))
    with pytest.raises((openai.error.OpenAIError, AttributeError)) as info:
        openai.ChatCompletion.create(model="gpt-4", messages=MESSAGES, timeout=0)
    raised: BaseException = info.value
    return raised


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")
@pytest.mark.parametrize("entry", cases("legacy"))
def test_legacy_sdk(legacy: FaultServer, entry: Entry) -> None:
    """compat.translate of the legacy SDK's exception reads the answer into the labelled error."""
    exc = legacy_error(legacy, entry)
    error = compat.translate(exc)
    assert_reads(error, entry)
    assert error is not None
    assert exc is error.__cause__


# ---------------------------------------------------------------------- the corpus itself


def test_corpus_size_and_breadth() -> None:
    """The corpus holds at least 150 answers from at least 14 server families."""
    entries = load()
    families = {entry.family for entry in entries}
    assert len(entries) >= 150, len(entries)
    assert len(families) >= 14, sorted(families)


def test_known_misses_name_real_entries() -> None:
    """Every KNOWN_MISSES key names an entry of the corpus (and a path it runs on)."""
    by_id = {entry.id: entry for entry in load()}
    for key in KNOWN_MISSES:
        entry_id, _, path = key.partition(" [")
        assert entry_id in by_id, key
        if path:
            assert path.endswith("]"), key
            assert path[:-1] in PATHS, key
            assert _runs_on(by_id[entry_id], path[:-1]), key


def test_every_field_is_compared() -> None:
    """The comparison covers the six labelled fields and catches a wrong one."""
    entry = load()[0]
    error = compat.from_response(entry.status, entry.headers, entry.body)
    assert error is not None
    assert ("kind", "retryable", "retry_after", "code", "request_id", "provider") == FIELDS
    wrong = dict(entry.expected, provider="not-" + str(entry.expected["provider"]))
    assert "provider" in differences(error, wrong)
    assert set(FIELDS) == set(differences(None, entry.expected))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "x-credits-402"}, "must start with"),
        ({"source": "http://example.com"}, "https"),
        ({"headers": {"Retry-After": "3"}}, "lower-case"),
        ({"status": 200.0}, "status"),
        ({"evidence": None}, "evidence"),
        ({"reason": " "}, "reason"),
    ],
)
def test_loader_rejects_malformed_entries(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    """The loader refuses an entry that breaks the documented form, naming the fault."""
    raw = json.loads(sorted(DATA.glob("*.json"))[0].read_text(encoding="utf-8"))
    good = next(item for item in raw if item["evidence"] is not None)
    family = good["family"]
    (tmp_path / f"{family}.json").write_text(json.dumps([good]), encoding="utf-8")
    assert load.__wrapped__(tmp_path)[0].id == good["id"]
    (tmp_path / f"{family}.json").write_text(json.dumps([dict(good, **change)]), encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load.__wrapped__(tmp_path)
