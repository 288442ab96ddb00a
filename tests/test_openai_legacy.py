"""The legacy openai SDK (0.28, ``openai.error``), driven over HTTP against a loopback server."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if hasattr(openai, "OpenAI"):
    pytest.skip("the legacy SDK (openai<1) is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.adapters._common import kind_by_class  # noqa: E402
from compat.adapters.openai_legacy import CLASS_KINDS  # noqa: E402
from compat.testing import FaultServer  # noqa: E402
from tests.bodies import CASES, check  # noqa: E402

KEY = "sk-test-" + "Z" * 40
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def legacy(server: FaultServer) -> Iterator[FaultServer]:
    """The legacy SDK's global configuration pointed at the scripted server."""
    saved = (openai.api_base, openai.api_key, openai.api_type, openai.api_version)
    openai.api_base, openai.api_key = server.url + "/v1", KEY
    openai.api_type, openai.api_version = "open_ai", None
    yield server
    openai.api_base, openai.api_key, openai.api_type, openai.api_version = saved


def call(**options: Any) -> BaseException:
    with pytest.raises(openai.error.OpenAIError) as info:
        openai.ChatCompletion.create(model="gpt-4", messages=MESSAGES, **options)
    return info.value


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_every_real_answer(
    legacy: FaultServer,
    name: str,
    status: int,
    headers: dict[str, str],
    body: Any,
    expected: dict[str, Any],
) -> None:
    """The legacy SDK's exception for each real answer translates to the answer's kind."""
    legacy.push(status, headers, body)
    exc = call(timeout=0)
    error = compat.translate(exc)
    check(error, expected)
    assert error is not None
    # The server is not OpenAI's host: the answer names its sender, OpenAI's shape "openai".
    provider = "openai" if isinstance(body, dict) else "unknown"
    assert (status, provider) == (error.status, error.provider)
    assert exc is error.__cause__


@pytest.mark.parametrize(
    ("status", "sdk_class", "kind"),
    [
        (400, "InvalidRequestError", "invalid_request"),
        (401, "AuthenticationError", "authentication"),
        (403, "PermissionError", "permission_denied"),
        (404, "InvalidRequestError", "not_found"),
        (409, "TryAgain", "conflict"),
        (415, "InvalidRequestError", "invalid_request"),
        (429, "RateLimitError", "rate_limited"),
        (500, "APIError", "server_error"),
        (502, "APIError", "server_error"),
        (503, "ServiceUnavailableError", "overloaded"),
        (504, "APIError", "timeout"),
    ],
)
def test_each_class(legacy: FaultServer, status: int, sdk_class: str, kind: str) -> None:
    """Each class the legacy SDK raises for a status maps to the status's kind."""
    legacy.push(
        status, {"request-id": f"req_{status}"}, {"error": {"message": "failure", "type": None}}
    )
    exc = call(timeout=0)
    assert sdk_class == type(exc).__name__
    error = compat.translate(exc)
    assert error is not None
    assert (kind, status, f"req_{status}") == (error.kind.value, error.status, error.request_id)


def test_timeout(legacy: FaultServer) -> None:
    """openai.error.Timeout is timeout."""
    legacy.push(200, {}, {}, delay=2.0)
    exc = call(request_timeout=0.2)
    assert isinstance(exc, openai.error.Timeout)
    error = compat.translate(exc)
    assert isinstance(error, compat.APITimeoutError)


def test_connection_error(legacy: FaultServer) -> None:
    """openai.error.APIConnectionError is connection."""
    openai.api_base = "http://127.0.0.1:1/v1"
    exc = call()
    assert isinstance(exc, openai.error.APIConnectionError)
    error = compat.translate(exc)
    assert isinstance(error, compat.APIConnectionError)
    assert KEY not in str(error)


def test_invalid_api_type(legacy: FaultServer) -> None:
    """openai.error.InvalidAPIType is invalid_request."""
    openai.api_type = "bogus"
    exc = call()
    assert isinstance(exc, openai.error.InvalidAPIType)
    error = compat.translate(exc)
    assert error is not None
    assert (error.kind, error.retryable) == (compat.ErrorKind.INVALID_REQUEST, False)


def test_azure_api_type_sets_the_provider(legacy: FaultServer) -> None:
    """With api_type azure the errors say provider azure."""
    openai.api_type, openai.api_version = "azure", "2023-05-15"
    openai.api_base = legacy.url
    legacy.push(
        404,
        {"apim-request-id": "apim-1"},
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
            }
        },
    )
    with pytest.raises(openai.error.InvalidRequestError) as info:
        openai.ChatCompletion.create(deployment_id="gpt4", messages=MESSAGES)
    error = compat.translate(info.value)
    assert error is not None
    assert (
        error.provider,
        error.kind,
        error.request_id,
    ) == ("azure", compat.ErrorKind.NOT_FOUND, "apim-1")


def test_legacy_constructed_errors() -> None:
    """Errors built by hand, as legacy code and tests do, translate by class."""
    cases = {
        openai.error.RateLimitError("slow down", http_status=429): "rate_limited",
        openai.error.ServiceUnavailableError("down"): "overloaded",
        openai.error.TryAgain("again"): "conflict",
        openai.error.APIError("boom"): "server_error",
        openai.error.InvalidRequestError("bad", param="x"): "invalid_request",
        openai.error.AuthenticationError("who"): "authentication",
        openai.error.PermissionError("no"): "permission_denied",
        openai.error.SignatureVerificationError("sig", "header"): "authentication",
        openai.error.OpenAIError("something"): "unknown",
    }
    for exc, kind in cases.items():
        error = compat.translate(exc)
        assert error is not None
        assert kind == error.kind.value, type(exc).__name__


def test_every_sdk_class_is_in_the_table() -> None:
    """Every class of openai.error is known to the adapter."""
    classes = [
        obj
        for obj in vars(openai.error).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == "openai.error"
    ]
    assert len(classes) >= 11
    for cls in classes:
        found, _ = kind_by_class(cls, CLASS_KINDS)
        assert found, cls.__name__
        assert cls.__name__ in CLASS_KINDS, cls.__name__
