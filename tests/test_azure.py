"""Azure OpenAI: every error Azure sends, through AzureOpenAI over HTTP and as raw answers."""

from __future__ import annotations

from typing import Any

import pytest

import compat
from compat.testing import FaultServer
from tests.azure_bodies import APIM, CASES, FILTERED_PROMPT, TPM_MESSAGE
from tests.bodies import check
from tests.conftest import track

openai = pytest.importorskip("openai")
V1 = hasattr(openai, "OpenAI")
needs_v1 = pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
needs_legacy = pytest.mark.skipif(V1, reason="the legacy SDK (openai<1) is not installed")
MESSAGES = [{"role": "user", "content": "hi"}]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "status", "headers", "body", "expected"), CASES, ids=IDS)
def test_raw_answers(
    name: str, status: int, headers: dict[str, str], body: Any, expected: dict[str, Any]
) -> None:
    """Each Azure answer, raw and without a provider hint, is recognised as Azure's and read."""
    error = compat.from_response(status, headers, body)
    check(error, expected)
    assert error is not None
    assert ("azure", APIM["apim-request-id"]) == (error.provider, error.request_id)


@pytest.mark.parametrize(("name", "status", "headers", "body", "expected"), CASES, ids=IDS)
def test_raw_answers_without_azure_headers(
    name: str, status: int, headers: dict[str, str], body: Any, expected: dict[str, Any]
) -> None:
    """The kind does not depend on Azure's headers being there."""
    bare = {k: v for k, v in headers.items() if not k.startswith(("apim", "x-ms-region"))}
    check(compat.from_response(status, bare, body, provider="azure"), expected)


def azure_client(server: FaultServer) -> Any:
    return track(
        openai.AzureOpenAI(
            azure_endpoint=server.url,
            api_key="0123456789abcdef0123456789abcdef",
            api_version="2024-06-01",
            max_retries=0,
        )
    )


@needs_v1
@pytest.mark.parametrize(("name", "status", "headers", "body", "expected"), CASES, ids=IDS)
def test_azure_openai_client(
    server: FaultServer,
    name: str,
    status: int,
    headers: dict[str, str],
    body: Any,
    expected: dict[str, Any],
) -> None:
    """openai.AzureOpenAI's exception for each answer translates to its kind, provider azure."""
    server.push(status, headers, body)
    with pytest.raises(openai.APIStatusError) as info:
        azure_client(server).chat.completions.create(model="gpt4o-deployment", messages=MESSAGES)
    error = compat.translate(info.value)
    check(error, expected)
    assert error is not None
    assert ("azure", APIM["apim-request-id"], status) == (
        error.provider,
        error.request_id,
        error.status,
    )
    assert "/openai/deployments/gpt4o-deployment/chat/completions" in server.requests[0].path
    assert "api-version=2024-06-01" in server.requests[0].path


@needs_v1
def test_async_azure_client(server: FaultServer) -> None:
    """openai.AsyncAzureOpenAI too."""
    import asyncio

    server.push(429, dict(APIM), {"error": {"code": "429", "message": TPM_MESSAGE}})

    async def main() -> BaseException:
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=server.url, api_key="k" * 32, api_version="2024-06-01", max_retries=0
        )
        try:
            await client.chat.completions.create(model="d", messages=MESSAGES)
        except openai.RateLimitError as exc:
            return exc
        finally:
            await client.close()
        raise AssertionError("no error")

    error = compat.translate(asyncio.run(main()))
    assert error is not None
    assert ("azure", 6.0) == (error.provider, error.retry_after)


@needs_v1
def test_content_filter_detail(server: FaultServer) -> None:
    """The per-category verdicts of a filtered prompt are structured data."""
    server.push(400, dict(APIM), FILTERED_PROMPT)
    with pytest.raises(openai.BadRequestError) as info:
        azure_client(server).chat.completions.create(model="d", messages=MESSAGES)
    error = compat.translate(info.value)
    assert isinstance(error, compat.ContentFilteredError)
    (result,) = error.content_filter
    assert "prompt" == result.source
    assert ("jailbreak", "violence") == result.filtered
    verdicts = {c.name: (c.filtered, c.severity, c.detected) for c in result.categories}
    assert (True, "high", None) == verdicts["violence"]
    assert (True, None, True) == verdicts["jailbreak"]
    assert (False, "safe", None) == verdicts["hate"]


def filtered_completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "prompt_filter_results": [
            {
                "prompt_index": 0,
                "content_filter_results": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "jailbreak": {"filtered": False, "detected": False},
                },
            }
        ],
        "choices": [
            {
                "index": 0,
                "finish_reason": "content_filter",
                "message": {"role": "assistant", "content": None},
                "content_filter_results": {
                    "sexual": {"filtered": True, "severity": "medium"},
                    "protected_material_text": {"filtered": False, "detected": False},
                },
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5},
    }


def test_completion_stopped_by_the_filter_is_an_error() -> None:
    """A 200 completion whose choices all stopped at the filter is content_filtered, with the
    completion's verdicts and the prompt's."""
    error = compat.from_response(200, dict(APIM), filtered_completion())
    assert isinstance(error, compat.ContentFilteredError)
    assert "sexual" in error.message
    sources = {(r.source, r.filtered) for r in error.content_filter}
    assert {("prompt", ()), ("completion", ("sexual",))} == sources


def test_a_filtered_choice_among_others_is_not_an_error() -> None:
    """Only when every choice was filtered is the completion a failure."""
    body = filtered_completion()
    body["choices"].append(
        {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
    )
    assert compat.from_response(200, {}, body) is None


@needs_v1
def test_content_filter_finish_reason_error(server: FaultServer) -> None:
    """The v1 ContentFilterFinishReasonError from an Azure completion carries the verdicts."""
    pydantic = pytest.importorskip("pydantic")

    class Answer(pydantic.BaseModel):  # type: ignore[misc,name-defined]
        a: int

    server.push(200, dict(APIM), filtered_completion())
    client = azure_client(server)
    parse = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse
    with pytest.raises(openai.ContentFilterFinishReasonError) as info:
        parse(model="d", messages=MESSAGES, response_format=Answer)
    error = compat.translate(info.value)
    assert isinstance(error, compat.ContentFilteredError)
    if getattr(info.value, "completion", None) is None:
        # openai 1.x and 2.x raise it without the completion: nothing tells Azure's verdicts.
        assert () == error.content_filter
        return
    assert "azure" == error.provider
    assert ("sexual",) in [r.filtered for r in error.content_filter if r.source == "completion"]


@needs_v1
def test_resource_not_found_names_version_and_path(server: FaultServer) -> None:
    """A bare 404 "Resource not found" says which api-version and path to check."""
    server.push(404, dict(APIM), {"error": {"code": "404", "message": "Resource not found"}})
    client = track(
        openai.AzureOpenAI(
            azure_endpoint=server.url, api_key="k" * 32, api_version="2099-01-01", max_retries=0
        )
    )
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="d", messages=MESSAGES)
    error = compat.translate(info.value)
    assert error is not None
    assert compat.ErrorKind.NOT_FOUND is error.kind
    assert "'2099-01-01'" in error.message
    assert "/openai/deployments/d/chat/completions" in error.message
    assert "Resource not found" == info.value.body["message"]  # the SDK's own error is untouched


def test_same_failure_from_openai_and_azure() -> None:
    """A tokens-per-minute 429 from OpenAI and from Azure: same kind, retryability and wait."""
    openai_429 = compat.from_response(
        429,
        {"x-request-id": "req_1"},
        {
            "error": {
                "message": "Rate limit reached for gpt-4o on tokens per min (TPM). Please try again in 6s.",
                "type": "tokens",
                "code": "rate_limit_exceeded",
            }
        },
    )
    azure_429 = compat.from_response(
        429, dict(APIM), {"error": {"code": "429", "message": TPM_MESSAGE}}
    )
    assert openai_429 is not None
    assert azure_429 is not None
    assert (openai_429.kind, openai_429.retryable, openai_429.retry_after) == (
        azure_429.kind,
        azure_429.retryable,
        azure_429.retry_after,
    )
    assert ("openai", "azure") == (openai_429.provider, azure_429.provider)


def test_client_request_id_is_not_the_request_id() -> None:
    """x-ms-client-request-id is the client's own id: never reported as the server's."""
    error = compat.from_response(
        500, {"x-ms-client-request-id": "mine"}, {"error": {"code": "500", "message": "x"}}
    )
    assert error is not None
    assert error.request_id is None


@needs_legacy
@pytest.mark.parametrize(("name", "status", "headers", "body", "expected"), CASES, ids=IDS)
def test_legacy_sdk_with_api_type_azure(
    server: FaultServer,
    name: str,
    status: int,
    headers: dict[str, str],
    body: Any,
    expected: dict[str, Any],
) -> None:
    """The legacy SDK configured for Azure: each answer translates to its kind, provider azure."""
    saved = (openai.api_base, openai.api_key, openai.api_type, openai.api_version)
    openai.api_base, openai.api_key = server.url, "0123456789abcdef0123456789abcdef"
    openai.api_type, openai.api_version = "azure", "2023-05-15"
    server.push(status, headers, body)
    try:
        with pytest.raises(openai.error.OpenAIError) as info:
            openai.ChatCompletion.create(deployment_id="gpt4", messages=MESSAGES, timeout=0)
    finally:
        openai.api_base, openai.api_key, openai.api_type, openai.api_version = saved
    error = compat.translate(info.value)
    check(error, expected)
    assert error is not None
    assert "azure" == error.provider
    assert "/openai/deployments/gpt4/chat/completions" in server.requests[0].path


def test_azure_shape_without_azure_headers() -> None:
    """Azure's codes and inner_error say azure even when a proxy dropped Azure's headers."""
    for body in (
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
            }
        },
        {
            "error": {
                "code": "content_filter",
                "message": "filtered",
                "inner_error": {"code": "ResponsibleAIPolicyViolation"},
            }
        },
    ):
        error = compat.from_response(400, {}, body)
        assert error is not None
        assert "azure" == error.provider


@pytest.mark.parametrize(
    ("status", "body", "kind", "retry_after"),
    [
        (429, {"error": {"code": "429", "message": TPM_MESSAGE}}, "rate_limited", 6.0),
        (
            403,
            {
                "error": {
                    "code": "403",
                    "message": "Out of call volume quota for AzureOpenAI. Quota will be replenished in 2.01:55:44.",
                }
            },
            "quota_exceeded",
            None,
        ),
        (
            400,
            {"error": {"code": "content_filter", "message": FILTERED_PROMPT["error"]["message"]}},
            "content_filtered",
            None,
        ),
    ],
    ids=["429 token rate limit", "403 call volume quota", "400 content filter"],
)
def test_azure_wording_is_evidence_of_azure(
    status: int, body: dict[str, Any], kind: str, retry_after: float | None
) -> None:
    """Azure's own wording, without Azure's headers and without a provider hint, says azure
    (and is read as before)."""
    error = compat.from_response(status, {}, body)
    assert error is not None
    assert ("azure", kind, retry_after) == (error.provider, error.kind.value, error.retry_after)


def test_the_inner_code_is_the_code_when_the_error_has_none() -> None:
    """An error object whose only code is its innererror's keeps that code."""
    body = {
        "error": {"message": "filtered", "innererror": {"code": "ResponsibleAIPolicyViolation"}}
    }
    error = compat.from_response(400, {}, body)
    assert error is not None
    assert ("ResponsibleAIPolicyViolation", "content_filtered", "azure") == (
        error.code,
        error.kind.value,
        error.provider,
    )
