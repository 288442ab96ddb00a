"""The v1+ openai SDK (1.x, 2.x, 3.x), driven over HTTP against a loopback server."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("the v1+ SDK is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.adapters._common import kind_by_class  # noqa: E402
from compat.adapters.openai_v1 import CLASS_KINDS  # noqa: E402
from compat.testing import FaultServer  # noqa: E402
from tests.bodies import CASES, check  # noqa: E402
from tests.conftest import track  # noqa: E402

KEY = "sk-test-" + "Z" * 40
MESSAGES = [{"role": "user", "content": "hi"}]


def client(server: FaultServer, **options: Any) -> Any:
    return track(openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, **options))


def call(server: FaultServer, **options: Any) -> BaseException:
    with pytest.raises(openai.OpenAIError) as info:
        client(server, **options).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    return info.value


def completion(finish_reason: str, content: str = '{"a": 1') -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 16, "total_tokens": 21},
    }


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_every_real_answer_through_the_sync_client(
    server: FaultServer,
    name: str,
    status: int,
    headers: dict[str, str],
    body: Any,
    expected: dict[str, Any],
) -> None:
    """The SDK's exception for each real answer translates to the answer's kind."""
    server.push(status, headers, body)
    exc = call(server)
    error = compat.translate(exc)
    check(error, expected)
    assert error is not None
    assert status == error.status
    assert exc is error.__cause__
    # The server is not OpenAI's host: the answer names its sender, OpenAI's shape "openai".
    assert error.provider == ("openai" if isinstance(body, dict) else "unknown")
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_every_real_answer_through_the_async_client(
    server: FaultServer,
    name: str,
    status: int,
    headers: dict[str, str],
    body: Any,
    expected: dict[str, Any],
) -> None:
    """The async client's exceptions translate exactly like the sync client's."""
    server.push(status, headers, body)

    async def main() -> BaseException:
        api = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
        try:
            await api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        except openai.OpenAIError as exc:
            return exc
        finally:
            await api.close()
        raise AssertionError("no error raised")

    check(compat.translate(asyncio.run(main())), expected)


@pytest.mark.parametrize(
    ("status", "sdk_class", "kind"),
    [
        (400, "BadRequestError", "invalid_request"),
        (401, "AuthenticationError", "authentication"),
        (403, "PermissionDeniedError", "permission_denied"),
        (404, "NotFoundError", "not_found"),
        (408, "APIStatusError", "timeout"),
        (409, "ConflictError", "conflict"),
        (413, "APIStatusError", "invalid_request"),
        (415, "APIStatusError", "invalid_request"),
        (422, "UnprocessableEntityError", "invalid_request"),
        (429, "RateLimitError", "rate_limited"),
        (500, "InternalServerError", "server_error"),
        (502, "InternalServerError", "server_error"),
        (503, "InternalServerError", "overloaded"),
        (504, "InternalServerError", "timeout"),
        (529, "InternalServerError", "overloaded"),
    ],
)
def test_each_status_class(server: FaultServer, status: int, sdk_class: str, kind: str) -> None:
    """Each status the SDK knows, and those without a class of their own, map to a kind."""
    server.push(
        status, {"x-request-id": f"req_{status}"}, {"error": {"message": "failure", "type": None}}
    )
    exc = call(server)
    assert sdk_class == type(exc).__name__
    error = compat.translate(exc)
    assert error is not None
    assert (kind, status, f"req_{status}") == (error.kind.value, error.status, error.request_id)


@pytest.mark.parametrize("status", [302, 304])
def test_a_3xx_raised_by_the_sdk_is_translated(server: FaultServer, status: int) -> None:
    """A 3xx the SDK raises as APIStatusError (a redirect without Location, 304) is a
    bad_response carrying the status, not an exception that escapes untranslated."""
    server.push(status, {"x-request-id": f"req_{status}"}, b"")
    exc = call(server)
    assert isinstance(exc, openai.APIStatusError)
    error = compat.translate(exc)
    assert error is not None
    assert (compat.ErrorKind.BAD_RESPONSE, status, f"req_{status}") == (
        error.kind,
        error.status,
        error.request_id,
    )
    assert exc is error.__cause__


def test_timeout(server: FaultServer) -> None:
    """APITimeoutError (checked before its parent APIConnectionError) is timeout."""
    server.push(200, {}, completion("stop"), delay=2.0)
    exc = call(server, timeout=0.2)
    assert isinstance(exc, openai.APITimeoutError)
    error = compat.translate(exc)
    assert isinstance(error, compat.APITimeoutError)
    assert error.retryable


def test_connection_refused() -> None:
    """A refused connection is connection, with the transport's reason in the message."""
    api = openai.OpenAI(base_url="http://127.0.0.1:1/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.APIConnectionError) as info:
        api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    error = compat.translate(info.value)
    assert isinstance(error, compat.APIConnectionError)
    assert "ConnectError" in error.message
    assert KEY not in error.message


def test_a_connection_error_names_the_host_and_nothing_secret_of_its_url() -> None:
    """Which server could not be reached: its scheme, host and port, never the user-info,
    path or query string of the URL the client was given."""
    api = openai.OpenAI(
        base_url="http://someone:pa55word99@127.0.0.1:1/v1?key=q1w2e3r4t5",
        api_key=KEY,
        max_retries=0,
    )
    with pytest.raises(openai.APIConnectionError) as info:
        api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    error = compat.translate(info.value)
    assert "[host http://127.0.0.1:1]" in error.message
    for secret in ("someone", "pa55word99", "q1w2e3r4t5", KEY):
        assert secret not in str(error), str(error)


def test_connection_reset(server: FaultServer) -> None:
    """A connection closed without an answer is connection."""
    server.push(200, reset=True)
    error = compat.translate(call(server))
    assert isinstance(error, compat.APIConnectionError)


def test_response_validation_error(server: FaultServer) -> None:
    """An answer off the SDK's schema (strict validation) is bad_response."""
    server.push(
        200, {}, {"id": 1, "object": "chat.completion", "choices": "not a list", "created": "x"}
    )
    exc = call(server, _strict_response_validation=True)
    assert isinstance(exc, openai.APIResponseValidationError)
    error = compat.translate(exc)
    assert error is not None
    assert (
        error.kind,
        error.status,
        error.retryable,
    ) == (compat.ErrorKind.BAD_RESPONSE, 200, False)


def parse(server: FaultServer) -> BaseException:
    pydantic = pytest.importorskip("pydantic")

    class Answer(pydantic.BaseModel):  # type: ignore[misc,name-defined]
        a: int

    api = client(server)
    completions = api.chat.completions
    parse_method = getattr(completions, "parse", None) or api.beta.chat.completions.parse
    with pytest.raises(openai.OpenAIError) as info:
        parse_method(model="gpt-4o", messages=MESSAGES, response_format=Answer)
    return info.value


def test_length_finish_reason(server: FaultServer) -> None:
    """LengthFinishReasonError is output_truncated, not retryable."""
    server.push(200, {}, completion("length"))
    exc = parse(server)
    assert isinstance(exc, openai.LengthFinishReasonError)
    error = compat.translate(exc)
    assert isinstance(error, compat.OutputTruncatedError)
    assert not error.retryable
    assert error.body["choices"][0]["finish_reason"] == "length"


def test_content_filter_finish_reason(server: FaultServer) -> None:
    """ContentFilterFinishReasonError is content_filtered."""
    server.push(200, {}, completion("content_filter", ""))
    exc = parse(server)
    assert isinstance(exc, openai.ContentFilterFinishReasonError)
    error = compat.translate(exc)
    assert isinstance(error, compat.ContentFilteredError)
    assert error.code == "content_filter"


def test_error_event_in_a_stream(server: FaultServer) -> None:
    """An error event mid-stream (an APIError with no status) is read by its body."""
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}],
    }
    error_event = {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "code": None,
        }
    }
    stream = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(error_event)}\n\n"
    server.push(200, {"content-type": "text/event-stream"}, stream)
    with pytest.raises(openai.APIError) as info:
        for _ in client(server).chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        ):
            pass
    error = compat.translate(info.value)
    assert error is not None
    assert (error.kind, error.status) == (compat.ErrorKind.SERVER_ERROR, None)


def test_gateway_envelope_behind_an_error_status(server: FaultServer) -> None:
    """When the SDK keeps no error object (an envelope whose "error" is a string), the whole
    answer is read again from the response."""
    server.push(
        500, {}, {"error": "", "reason": "upstream failed", "detail": "x", "message": "boom"}
    )
    error = compat.translate(call(server))
    assert error is not None
    assert (error.kind, error.message) == (compat.ErrorKind.SERVER_ERROR, "boom")


def test_client_side_errors() -> None:
    """A missing key (OpenAIError raised by the client itself) is authentication."""
    import os

    saved = os.environ.pop("OPENAI_API_KEY", None)
    try:
        with pytest.raises(openai.OpenAIError) as info:
            openai.OpenAI()
    finally:
        if saved is not None:
            os.environ["OPENAI_API_KEY"] = saved
    error = compat.translate(info.value)
    assert error is not None
    assert compat.ErrorKind.AUTHENTICATION is error.kind


def test_azure_client_sets_the_provider(server: FaultServer) -> None:
    """Errors of AzureOpenAI say provider azure."""
    server.push(
        429,
        {"retry-after": "6"},
        {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 6 seconds."}},
    )
    api = track(
        openai.AzureOpenAI(
            azure_endpoint=server.url, api_key="0" * 32, api_version="2024-06-01", max_retries=0
        )
    )
    with pytest.raises(openai.RateLimitError) as info:
        api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    error = compat.translate(info.value)
    assert error is not None
    assert (
        error.provider,
        error.kind,
        error.retry_after,
    ) == ("azure", compat.ErrorKind.RATE_LIMITED, 6.0)
    assert "/openai/deployments/gpt-4o/chat/completions" in server.requests[0].path


def sdk_exception_classes() -> list[type]:
    module = openai._exceptions
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ in ("openai", module.__name__)
    ]


def test_every_sdk_class_is_in_the_table() -> None:
    """A class the installed SDK defines and the adapter's table does not know fails here."""
    classes = sdk_exception_classes()
    assert len(classes) >= 15
    for cls in classes:
        found, _ = kind_by_class(cls, CLASS_KINDS)
        assert found, cls.__name__
        assert cls.__name__ in CLASS_KINDS, cls.__name__


def test_an_ipv6_host_is_written_as_a_url_writes_it() -> None:
    """A connection error to an IPv6 address names it in brackets: ``http://[::1]:9``."""
    from types import SimpleNamespace

    from compat.adapters.openai_v1 import _host

    # the SDK's request URL as httpx (and httpx2) hold it: the host without its brackets
    request = SimpleNamespace(url=SimpleNamespace(scheme="http", host="::1", port=9))
    assert "http://[::1]:9" == _host(request)
    assert "" == _host(None)
