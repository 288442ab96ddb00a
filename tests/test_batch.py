"""``compat.from_batch_line``: a line of a Batch API output or error file as the common error.

The lines follow the Batch API's request output object (id, custom_id, response with
status_code, request_id and body, error): https://platform.openai.com/docs/guides/batch
and, for an error file's line whose ``error`` is null and whose ``response.body`` holds
the error with its type and param, https://github.com/openai/openai-openapi/issues/302.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import compat
from compat import ErrorKind as K

COMPLETION = {
    "id": "chatcmpl-AB1",
    "object": "chat.completion",
    "created": 1711652795,
    "model": "gpt-4o-2024-05-13",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 22, "completion_tokens": 2, "total_tokens": 24},
}


def line(
    status: int | None, body: Any = None, error: Any = None, request_id: str = "req_c187b3"
) -> dict[str, Any]:
    """One line of an output or error file."""
    response = None
    if status is not None:
        response = {"status_code": status, "request_id": request_id, "body": body}
    return {"id": "batch_req_123", "custom_id": "request-5", "response": response, "error": error}


def test_a_successful_line_is_no_error() -> None:
    """A line whose response is a 200 completion is a success: ``None``."""
    assert compat.from_batch_line(line(200, COMPLETION)) is None
    assert compat.from_batch_line(json.dumps(line(200, COMPLETION))) is None


def test_an_answered_request_is_read_as_its_answer() -> None:
    """A line whose response is a 400 with OpenAI's error object: the answer decides, with
    the line's request id."""
    body = {
        "error": {
            "message": "max_tokens is too large: 1000000. This model supports at most 4096 completion tokens, whereas you provided 1000000.",
            "type": "invalid_request_error",
            "param": "max_tokens",
            "code": None,
        }
    }
    error = compat.from_batch_line(json.dumps(line(400, body)).encode())
    assert error is not None
    assert (K.INVALID_REQUEST, 400, "req_c187b3", "openai") == (
        error.kind,
        error.status,
        error.request_id,
        error.provider,
    )
    assert "max_tokens is too large" in error.message


def test_a_rate_limited_request_keeps_its_wait() -> None:
    """A 429 line: rate_limited and retryable (in a later batch), with the message's wait."""
    body = {
        "error": {
            "message": "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s.",
            "type": "tokens",
            "code": "rate_limit_exceeded",
        }
    }
    error = compat.from_batch_line(line(429, body))
    assert error is not None
    assert (K.RATE_LIMITED, True, 2.0) == (error.kind, error.retryable, error.retry_after)


def test_an_expired_request_is_a_timeout() -> None:
    """An error file's line for a request the completion window closed on (no response):
    ``batch_expired`` is a timeout, retryable in another batch."""
    expired = {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    error = compat.from_batch_line(line(None, error=expired))
    assert error is not None
    assert (K.TIMEOUT, True, "batch_expired", None) == (
        error.kind,
        error.retryable,
        error.code,
        error.status,
    )


def test_an_sdk_model_of_a_line_is_read() -> None:
    """The SDK's own model of a line (``BatchRequestOutput``-like: a ``model_dump``) is
    read as its JSON."""

    class Output:
        def model_dump(self) -> dict[str, Any]:
            return line(None, error={"code": "batch_expired", "message": "expired"})

    error = compat.from_batch_line(Output())
    assert error is not None
    assert K.TIMEOUT is error.kind


@pytest.mark.parametrize(
    "bad",
    ["{not json", "[1, 2]", json.dumps({"id": "batch_req_1", "custom_id": "x"})],
)
def test_an_unreadable_line_is_a_bad_response(bad: str) -> None:
    """Text that is not JSON, JSON that is not an object, or an object with neither a
    response nor an error is ``bad_response``: never an exception."""
    error = compat.from_batch_line(bad)
    assert error is not None
    assert K.BAD_RESPONSE is error.kind


def test_a_gateway_answer_inside_a_line_is_read_as_the_gateway_says() -> None:
    """An answer under 200 that is itself a failure (the seed gateway's envelope with a
    failing code) is a failure, as ``from_response`` would read it."""
    envelope = {"response": [], "error": "", "reason": "rate limit", "error_code": "4008"}
    error = compat.from_batch_line(line(200, envelope))
    assert error is not None
    assert (K.RATE_LIMITED, "4008") == (error.kind, error.code)


def test_from_batch_line_is_exported() -> None:
    """The reader is part of compat's public names."""
    assert "from_batch_line" in compat.__all__
    assert callable(compat.from_batch_line)
