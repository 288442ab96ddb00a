"""Hostile answers: from_response reads anything without failing inside, and never raises.

from_response and translate catch any failure of their own and answer ``unknown``
with a log record; these properties check that no input needs that last resort.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compat

#: Text with lone surrogates too, as a caller's ``surrogateescape`` decoding makes them.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=25,
)
error_keys = st.sampled_from(
    ["message", "type", "code", "param", "innererror", "inner_error", "status"]
)
error_object = st.dictionaries(error_keys, json_value, max_size=6)
bodies = st.one_of(
    json_value,
    st.builds(lambda e: {"error": e}, error_object | json_value),
    st.builds(
        lambda code, resp, reason: {
            "error_code": code,
            "response": resp,
            "reason": reason,
            "error": "",
        },
        st.integers(-10, 10_000) | st.text(max_size=6) | st.none(),
        json_value,
        st.text(max_size=20),
    ),
    st.binary(max_size=300),
    st.text(max_size=300),
    st.builds(lambda v: json.dumps(v).encode(), json_value),
)
header_values = any_text | st.integers() | st.floats(allow_nan=True) | st.binary(max_size=10)
header_names = (
    st.sampled_from(
        [
            "retry-after",
            "Retry-After-Ms",
            "x-ms-retry-after-ms",
            "x-should-retry",
            "x-request-id",
            "apim-request-id",
            "x-ratelimit-reset-requests",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-limit-requests",
            "content-type",
        ]
    )
    | any_text
)
header_names = header_names | header_names.map(lambda name: name.encode("utf-8", "replace"))
headers = st.dictionaries(header_names, header_values, max_size=6) | st.lists(
    st.tuples(header_names, header_values), max_size=6
)
statuses = st.none() | st.integers(-5, 1000)


def shown(error: compat.LLMError) -> None:
    """Every string form and the redacted views read without failing, and can be printed
    or logged as UTF-8 (lone surrogates in the input come out escaped)."""
    assert isinstance(str(error), str)
    assert repr(error).startswith(type(error).__qualname__)
    assert isinstance(dict(error.headers), dict)
    assert error.body is None or isinstance(error.body, (dict, list, str, int, float, bool))
    for text in (str(error), repr(error), error.message, repr(error.headers), repr(error.body)):
        text.encode("utf-8")


class NoLastResort(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def last_resort() -> Any:
    handler = NoLastResort()
    logger = logging.getLogger("compat")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(status=statuses, headers=headers, body=bodies)
def test_from_response_reads_anything(
    last_resort: NoLastResort, status: Any, headers: Any, body: Any
) -> None:
    """Whatever the status, headers and body: None or an LLMError of a valid kind, every
    field readable, and no internal failure caught on the way."""
    error = compat.from_response(status, headers, body)
    assert error is None or isinstance(error, compat.LLMError)
    if error is not None:
        assert error.kind in set(compat.ErrorKind)
        assert isinstance(error.retryable, bool)
        assert error.retry_after is None or error.retry_after >= 0
        shown(error)
        assert isinstance(error.content_filter, tuple)
        error.rate_limit  # noqa: B018 - reading must not raise
    assert [] == [r.getMessage() for r in last_resort.records]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        ("{" + '"a":' * 50_000 + "1" + "}" * 50_000).encode(),
        b'{"error": {"message": "' + b"x" * (50 * 1024 * 1024) + b'"}}',
        "\ud800 lone surrogate",
        b"\xff\xfe\xfd" * 1000,
    ],
    ids=["deep list", "deep object", "50 MB string", "lone surrogate", "invalid utf-8"],
)
def test_pathological_bodies(last_resort: NoLastResort, body: Any) -> None:
    """Deeply nested JSON, a 50 MB body and undecodable bytes give an error without failing inside."""
    error = compat.from_response(500, {}, body)
    assert isinstance(error, compat.LLMError)
    assert compat.ErrorKind.SERVER_ERROR is error.kind
    shown(error)
    assert [] == [r.getMessage() for r in last_resort.records]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    status=st.integers(400, 599), body=json_value | error_object, content=st.binary(max_size=200)
)
def test_translate_v1_exceptions_with_hostile_bodies(
    last_resort: NoLastResort, status: int, body: Any, content: bytes
) -> None:
    """A v1 APIStatusError built around any body and content translates without failing inside."""
    openai = pytest.importorskip("openai")
    if not hasattr(openai, "OpenAI"):
        pytest.skip("the v1+ SDK is not installed")
    namespace = vars(openai._exceptions)
    httpx = namespace.get("httpx2") or namespace["httpx"]  # whichever the SDK is built on
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    response = httpx.Response(status, content=content, request=request)
    exc = openai.APIStatusError("hostile", response=response, body=body)
    error = compat.translate(exc)
    assert isinstance(error, compat.LLMError)
    assert status == error.status
    shown(error)
    assert [] == [r.getMessage() for r in last_resort.records]


def test_headers_as_bytes_are_read() -> None:
    """Raw headers (bytes names and values, as ``httpx``'s ``raw`` gives them) decide
    like text ones, in a dict or as pairs."""
    pairs = [(b"Retry-After", b"7"), (b"x-request-id", b"req_raw")]
    for headers in (dict(pairs), pairs):
        error = compat.from_response(429, headers, b'{"error": {"code": "rate_limit_exceeded"}}')
        assert error is not None
        assert (7.0, "req_raw") == (error.retry_after, error.request_id)


def test_json_too_long_to_read_says_so() -> None:
    """A JSON body past the parsed prefix is not called 'text instead of JSON', and the
    message says what was cut."""
    body = b'{"error": {"message": "' + b"x" * (1024 * 1024) + b'"}}'
    error = compat.from_response(500, {}, body)
    assert error is not None
    assert error.message.startswith("HTTP 500 with a body over 256 KB, not read as JSON: {")
    assert error.message.endswith("[body cut: only the first 2048 characters were kept]")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    status=statuses,
    json_body=json_value | error_object,
    http_body=st.none() | any_text | st.binary(max_size=200),
    headers=headers,
    message=st.none() | any_text,
    name=st.sampled_from(
        ["APIError", "RateLimitError", "InvalidRequestError", "ServiceUnavailableError", "TryAgain"]
    ),
)
def test_translate_legacy_exceptions_with_hostile_fields(
    last_resort: NoLastResort,
    status: Any,
    json_body: Any,
    http_body: Any,
    headers: Any,
    message: Any,
    name: str,
) -> None:
    """A legacy ``openai.error`` exception with any status, bodies and headers translates
    without failing inside."""
    openai = pytest.importorskip("openai")
    if hasattr(openai, "OpenAI"):
        pytest.skip("the legacy SDK (openai<1) is not installed")
    cls = getattr(openai.error, name)
    if name == "InvalidRequestError":
        exc = cls(message, None, http_body=http_body, http_status=status, json_body=json_body)
    else:
        exc = cls(message, http_body=http_body, http_status=status, json_body=json_body)
    exc.headers = headers  # whatever a caller or a proxy put there
    error = compat.translate(exc)
    assert isinstance(error, compat.LLMError)
    assert error.kind in set(compat.ErrorKind)
    shown(error)
    assert [] == [r.getMessage() for r in last_resort.records]


BIG = 50 * 1024 * 1024


def small(error: compat.LLMError) -> None:
    """An error made from a huge answer keeps a bounded message and body, and says so."""
    assert len(error.message) < 10_000
    assert "cut" in error.message
    assert len(repr(error.body)) < 300_000


def test_a_huge_message_through_the_v1_sdk_is_cut() -> None:
    """A 50 MB error message in a v1 APIStatusError (its response's content and the body
    the SDK parsed from it) is read from a bounded prefix, as from_response reads it."""
    openai = pytest.importorskip("openai")
    if not hasattr(openai, "OpenAI"):
        pytest.skip("the v1+ SDK is not installed")
    namespace = vars(openai._exceptions)
    httpx = namespace.get("httpx2") or namespace["httpx"]
    content = json.dumps({"error": {"message": "x" * BIG, "type": "server_error"}}).encode()
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    response = httpx.Response(500, content=content, request=request)
    body = json.loads(content)["error"]
    exc = openai.InternalServerError("Error code: 500", response=response, body=body)
    error = compat.translate(exc)
    assert isinstance(error, compat.ServerError)
    small(error)


def test_a_huge_error_event_without_a_response_is_cut() -> None:
    """A 50 MB error in a parsed body with no raw answer to measure (a stream's error event)
    is measured by a bounded walk and shortened."""
    openai = pytest.importorskip("openai")
    if not hasattr(openai, "OpenAI"):
        pytest.skip("the v1+ SDK is not installed")
    namespace = vars(openai._exceptions)
    httpx = namespace.get("httpx2") or namespace["httpx"]
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    body = {"message": "y" * BIG, "type": "server_error"}
    exc = openai.APIError("stream failed", request, body=body)
    error = compat.translate(exc)
    assert isinstance(error, compat.ServerError)
    small(error)


def test_a_huge_parsed_body_is_cut() -> None:
    """from_response given a parsed body with a 50 MB string keeps a shortened copy."""
    error = compat.from_response(
        500, {}, {"error": {"message": "z" * BIG, "innererror": {"x": "z" * BIG}}}
    )
    assert isinstance(error, compat.ServerError)
    small(error)


def test_a_huge_legacy_error_is_cut() -> None:
    """A legacy openai.error exception with a 50 MB body (raw and parsed) is read from a
    bounded prefix."""
    openai = pytest.importorskip("openai")
    if hasattr(openai, "OpenAI"):
        pytest.skip("the legacy SDK (openai<1) is not installed")
    raw = json.dumps({"error": {"message": "x" * BIG, "type": "server_error"}})
    exc = openai.error.APIError(
        "x" * BIG, http_body=raw, http_status=500, json_body=json.loads(raw), headers={}
    )
    error = compat.translate(exc)
    assert isinstance(error, compat.LLMError)
    small(error)
