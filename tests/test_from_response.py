"""compat.from_response reads raw answers of every shape into the right kind."""

from __future__ import annotations

import json
from typing import Any

import pytest

import compat
from tests.bodies import CASES, CLOUDFLARE_502, check


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_real_bodies(
    name: str, status: int, headers: dict[str, str], body: Any, expected: dict[str, Any]
) -> None:
    """Each real answer gives its documented kind, retryability, wait and ids."""
    check(compat.from_response(status, headers, body), expected)


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_body_as_bytes_str_or_parsed(
    name: str, status: int, headers: dict[str, str], body: Any, expected: dict[str, Any]
) -> None:
    """The same answer gives the same error whether the body is bytes, str or parsed JSON."""
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    raw = text.encode() if isinstance(text, str) else text
    results = [compat.from_response(status, headers, form) for form in (body, text, raw)]
    assert len({(e.kind, e.retryable, e.code, e.status) for e in results if e}) == 1


def test_header_names_any_case() -> None:
    """Header names are matched whatever their capitalisation, and lists of pairs work."""
    body = {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}
    for headers in (
        {"RETRY-AFTER": "3", "X-Request-ID": "req_A"},
        {"Retry-After": "3", "x-request-id": "req_A"},
        [("retry-after", "3"), ("X-REQUEST-ID", "req_A")],
    ):
        error = compat.from_response(429, headers, body)
        assert error is not None
        assert (error.retry_after, error.request_id) == (3.0, "req_A")


def test_request_id_prefers_server_ids_over_client_id() -> None:
    """x-request-id, then request-id, then apim-request-id; never x-ms-client-request-id."""
    body = {"error": {"message": "boom", "type": "server_error"}}
    error = compat.from_response(500, {"x-ms-client-request-id": "mine"}, body)
    assert error is not None
    assert error.request_id is None
    error = compat.from_response(
        500, {"x-ms-client-request-id": "mine", "apim-request-id": "apim-1"}, body
    )
    assert error is not None
    assert error.request_id == "apim-1"
    error = compat.from_response(500, {"request-id": "legacy-1", "apim-request-id": "apim-1"}, body)
    assert error is not None
    assert error.request_id == "legacy-1"


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_is_none(status: int) -> None:
    """A success answer is not an error, with or without a body."""
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "choices": []}
    assert compat.from_response(status, {}, completion) is None
    assert compat.from_response(status, {}, b"") is None
    assert compat.from_response(status, {}, {"status": "completed", "error": None}) is None


def test_nested_error_in_a_result_is_not_a_failure() -> None:
    """A streamed chunk whose content_filter_results carry an error key is a success."""
    chunk = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "delta": {"content": "hi"},
                "content_filter_results": {
                    "error": {"code": "content_filter_error", "message": "x"}
                },
            }
        ],
    }
    assert compat.from_response(200, {}, chunk) is None


def test_error_inside_a_2xx_body() -> None:
    """An error object delivered with status 200 is an error, read by its code."""
    error = compat.from_response(
        200, {}, {"error": {"message": "quota", "code": "insufficient_quota"}}
    )
    assert error is not None
    assert (error.kind, error.status) == (compat.ErrorKind.QUOTA_EXCEEDED, 200)


def test_response_failed_event() -> None:
    """A Responses-API ``response.failed`` event is read by its error code."""
    event = {
        "type": "response.failed",
        "response": {
            "id": "resp_1",
            "status": "failed",
            "error": {
                "code": "server_error",
                "message": "The model failed to generate a response.",
            },
        },
    }
    error = compat.from_response(200, {}, event)
    assert error is not None
    assert compat.ErrorKind.SERVER_ERROR is error.kind


def test_server_sent_error_event() -> None:
    """A body of server-sent events carrying an error event is read as that error."""
    stream = (
        b'data: {"id":"c1","choices":[{"delta":{"content":"Hel"}}]}\n\n'
        b'event: error\ndata: {"error": {"message": "The server had an error while processing '
        b'your request.", "type": "server_error"}}\n\n'
    )
    error = compat.from_response(200, {"content-type": "text/event-stream"}, stream)
    assert error is not None
    assert compat.ErrorKind.SERVER_ERROR is error.kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "bad_response"),
        (None, "bad_response"),
        (502, "server_error"),
        (504, "timeout"),
        (413, "invalid_request"),
    ],
)
def test_html_where_json_was_due(status: int | None, kind: str) -> None:
    """An HTML page is read by its status; only a 2xx or unknown status makes it bad_response."""
    error = compat.from_response(status, {"content-type": "text/html"}, CLOUDFLARE_502)
    assert error is not None
    assert kind == error.kind.value
    assert "HTML page" in error.message
    assert error.body == CLOUDFLARE_502


@pytest.mark.parametrize(
    "body", [b'{"error": {"message": "cut', b"\xff\xfe\x00garbage", "{not json"]
)
def test_invalid_json_keeps_the_text(body: Any) -> None:
    """Truncated JSON and invalid UTF-8 give a clear error and keep what was received."""
    error = compat.from_response(500, {}, body)
    assert error is not None
    assert compat.ErrorKind.SERVER_ERROR is error.kind
    assert isinstance(error.body, str)
    assert error.body
    ok = compat.from_response(200, {}, body)
    assert ok is not None
    assert compat.ErrorKind.BAD_RESPONSE is ok.kind


@pytest.mark.parametrize(
    "body", [[], 42, "null", [{"error": {"message": "x", "code": "invalid_api_key"}}]]
)
def test_json_of_other_shapes(body: Any) -> None:
    """JSON that is a list, a number or null is read without failing."""
    error = compat.from_response(400, {}, body)
    assert error is not None
    assert error.kind in (compat.ErrorKind.INVALID_REQUEST, compat.ErrorKind.AUTHENTICATION)


def test_huge_body_is_not_parsed_whole() -> None:
    """A body over the parse limit is kept as a prefix, with a note that it was cut."""
    body = b'{"error": {"message": "' + b"x" * (1024 * 1024) + b'"}}'
    error = compat.from_response(500, {}, body)
    assert error is not None
    assert compat.ErrorKind.SERVER_ERROR is error.kind
    assert "body cut" in error.message
    assert len(error.body) <= 4096


def test_wrong_types_never_raise() -> None:
    """A status that is not an int, headers that are not a mapping: still an answer."""
    assert compat.from_response("429", None, None) is not None  # type: ignore[arg-type]
    error = compat.from_response(object(), object(), object())  # type: ignore[arg-type]
    assert error is None or isinstance(error, compat.LLMError)


def test_other_shapes_from_proxies() -> None:
    """APIM's {statusCode, message}, FastAPI's {detail} and {"error": "text"} are read."""
    apim = {
        "statusCode": 401,
        "message": "Access denied due to invalid subscription key or wrong API endpoint.",
    }
    error = compat.from_response(401, {}, apim)
    assert error is not None
    assert ("authentication", apim["message"]) == (error.kind.value, error.message)
    error = compat.from_response(404, {}, {"detail": "Not Found"})
    assert error is not None
    assert (error.kind.value, error.message) == ("not_found", "Not Found")
    error = compat.from_response(401, {}, {"error": "Unauthorized"})
    assert error is not None
    assert (error.kind.value, error.message) == ("authentication", "Unauthorized")


def test_provider_by_shape() -> None:
    """OpenAI's shape says openai, Azure's headers say azure, a bare page says unknown."""
    body = {"error": {"message": "x", "type": "server_error"}}
    assert compat.from_response(500, {}, body).provider == "openai"  # type: ignore[union-attr]
    assert compat.from_response(500, {"apim-request-id": "a"}, body).provider == "azure"  # type: ignore[union-attr]
    assert compat.from_response(502, {}, CLOUDFLARE_502).provider == "unknown"  # type: ignore[union-attr]
    assert compat.from_response(500, {}, body, provider="gateway-x").provider == "gateway-x"  # type: ignore[union-attr]


RATE_LIMITED_BODY = {"error": {"message": "Rate limit reached.", "code": "rate_limit_exceeded"}}


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        # a negative retry-after is absent: the message's wait decides
        ({"retry-after": "-10"}, "Please try again in 3s.", 3.0),
        ({"retry-after": "-10"}, "Rate limit reached.", None),
        ({"retry-after": "inf"}, "Rate limit reached.", None),
        ({"retry-after": "nan"}, "Please try again in 2s.", 2.0),
        ({"retry-after-ms": "-5", "retry-after": "4"}, "Rate limit reached.", 4.0),
        # a wait too long to be meant is absent, in the text and in the reset headers
        ({}, "Please try again in " + "9" * 400 + "s.", None),
        ({}, "Please retry after " + "9" * 400 + " seconds.", None),
        (
            {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "9" * 400 + "s"},
            "Rate limit reached.",
            None,
        ),
        (
            {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "9" * 400},
            "Please try again in " + "9" * 400 + "ms.",
            None,
        ),
    ],
)
def test_unreadable_waits_are_absent(
    headers: dict[str, str], body: str, expected: float | None
) -> None:
    """Negative, non-finite and unreadable waits are absent, and the next signal decides."""
    error = compat.from_response(
        429, headers, {"error": {"message": body, "code": "rate_limit_exceeded"}}
    )
    assert error is not None
    assert expected == error.retry_after


@pytest.mark.parametrize(
    "form",
    ["%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"],
    ids=["IMF-fixdate", "RFC 850", "asctime"],
)
def test_retry_after_dates_in_every_rfc_7231_form(form: str) -> None:
    """A retry-after date is read in each of RFC 7231's three forms (asctime is GMT)."""
    import time

    when = time.gmtime(time.time() + 120)
    value = time.strftime(form, when)
    error = compat.from_response(429, {"retry-after": value}, RATE_LIMITED_BODY)
    assert error is not None
    assert error.retry_after is not None
    assert 100 < error.retry_after <= 121


def test_a_successful_event_stream_is_a_success() -> None:
    """A 2xx body of server-sent events none of which is an error is a success, with and
    without a status; a stream with an error event, or with data that is not JSON, is not."""
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"delta": {"content": "an error"}}],
    }
    stream = f"data: {json.dumps(chunk)}\n\n: keep-alive\n\ndata: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
    assert compat.from_response(200, {"content-type": "text/event-stream"}, stream) is None
    assert compat.from_response(200, {}, stream.encode()) is None
    assert compat.from_response(None, {}, stream) is None
    failed = stream.replace(
        "data: [DONE]", 'data: {"error": {"message": "boom", "type": "server_error"}}'
    )
    error = compat.from_response(200, {}, failed)
    assert error is not None
    assert compat.ErrorKind.SERVER_ERROR is error.kind
    garbled = compat.from_response(200, {}, "data: <html>oops</html>\n\n")
    assert garbled is not None
    assert compat.ErrorKind.BAD_RESPONSE is garbled.kind
    broken = compat.from_response(500, {}, stream)
    assert broken is not None
    assert compat.ErrorKind.SERVER_ERROR is broken.kind


@pytest.mark.parametrize("status", [301, 302, 304, 307, 308])
def test_a_3xx_is_not_a_success(status: int) -> None:
    """A redirect or other 3xx where an answer was due is an error (bad_response), not a
    success; an error object under it is read as usual."""
    error = compat.from_response(status, {"x-request-id": "req_3"}, b"")
    assert error is not None
    assert (compat.ErrorKind.BAD_RESPONSE, status, False) == (
        error.kind,
        error.status,
        error.retryable,
    )
    assert f"HTTP {status}" in error.message
    coded = compat.from_response(status, {}, {"error": {"code": "insufficient_quota"}})
    assert coded is not None
    assert compat.ErrorKind.QUOTA_EXCEEDED is coded.kind
