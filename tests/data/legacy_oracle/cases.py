"""The answers the legacy-attribute oracle is recorded for, and how a record is made.

Shared by ``record.py`` (run with openai==0.28.1, it writes what 0.28.1's
exceptions say) and ``tests/test_legacy_oracle.py`` (run with the current SDK, it
compares what the same answers give through ``compat.legacy``).

Each case is an answer of compat's fault server to one chat completion (or a
transport failure: a timeout, a reset, a refused connection). Bodies come from
the fault server's faults (``compat.testing.faults``) or are written here to
exercise one rule of 0.28.1's reading (header case, ``request-id``, a body
without an error object, ``internal_message``, a key in a message, ...).
"""

from __future__ import annotations

import platform
import re
from typing import Any

from compat.testing import faults

RATE_LIMIT_BODY = {
    "error": {
        "message": "Rate limit reached for gpt-4o in organization org-compat on requests per min "
        "(RPM): Limit 60, Used 60, Requested 1. Please try again in 7s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
MESSAGES = [{"role": "user", "content": "hi"}]
#: Seconds a request may take; the timeout case answers later than this.
TIMEOUT = 1

#: name -> (fault to answer with, how to call: "chat", "stream" or "refused").
CASES: dict[str, tuple[Any, str]] = {
    "429 rate limit": (faults.rate_limited(7.0), "chat"),
    "429 Retry-After written in capitals": (
        faults.answer(
            429,
            {"Content-Type": "application/json", "Retry-After": "7", "X-Request-Id": "req_7"},
            RATE_LIMIT_BODY,
        ),
        "chat",
    ),
    "429 with request-id and openai-organization": (
        faults.answer(
            429,
            {
                "content-type": "application/json",
                "request-id": "req_0281",
                "openai-organization": "org-compat",
            },
            RATE_LIMIT_BODY,
        ),
        "chat",
    ),
    "429 quota": (faults.quota_exceeded(), "chat"),
    "429 as text/plain": (
        faults.answer(429, {"content-type": "text/plain"}, "Too Many Requests"),
        "chat",
    ),
    "503 overloaded": (faults.overloaded(), "chat"),
    "503 HTML page": (faults.html_page(503), "chat"),
    "500 server error": (faults.server_error(), "chat"),
    "500 with internal_message": (
        faults.answer(
            500,
            {},
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "internal_message": "upstream worker exited",
                }
            },
        ),
        "chat",
    ),
    "500 JSON without an error object": (
        faults.answer(500, {}, {"detail": "Internal Server Error"}),
        "chat",
    ),
    "502 HTML page": (faults.html_page(502), "chat"),
    "502 empty body": (faults.answer(502, {}, None), "chat"),
    "504 HTML page": (faults.html_page(504), "chat"),
    "400 context length": (faults.context_length(), "chat"),
    "400 HTML page": (faults.html_page(400), "chat"),
    "401 wrong key": (faults.unauthorized(), "chat"),
    "401 key in the message": (
        faults.answer(
            401,
            {},
            {
                "error": {
                    "message": "Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwx0123. "
                    "You can find your API key at https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        ),
        "chat",
    ),
    "403 not allowed": (
        faults.answer(
            403,
            {},
            {"error": {"message": "You are not allowed to sample from this model", "type": None}},
        ),
        "chat",
    ),
    "404 model": (faults.not_found(), "chat"),
    "409 warming up": (
        faults.answer(409, {}, {"error": {"message": "warming up", "type": None}}),
        "chat",
    ),
    "422 unprocessable": (
        faults.answer(422, {}, {"error": {"message": "no", "code": "unprocessable"}}),
        "chat",
    ),
    "stream error event": (faults.stream_error(after=2), "stream"),
    "timeout": (faults.slow(3.0), "chat"),
    "connection reset": (faults.reset(), "chat"),
    "connection refused": (None, "refused"),
}

#: The legacy attributes a record holds (besides the class, str and repr).
FIELDS = (
    "http_status",
    "http_body",
    "json_body",
    "headers",
    "headers_get",
    "error",
    "user_message",
    "code",
    "param",
    "request_id",
    "organization",
    "should_retry",
)
_ABSENT = "<absent>"


def _error_record(value: Any) -> Any:
    if value is None:
        return None
    return {
        "type": type(value).__name__,
        "is_dict": isinstance(value, dict),
        "items": dict(value),
        "attributes": {
            name: getattr(value, name, _ABSENT) for name in ("message", "type", "code", "param")
        },
        "missing_attribute": getattr(value, "no_such_field", _ABSENT),
        "str": str(value),
    }


def record(exc: BaseException, legacy_names: Any) -> dict[str, Any]:
    """What *exc* answers to a handler written for 0.28.1; *legacy_names* is the module of
    the legacy classes (``openai.error`` or ``compat.legacy``)."""
    names = [
        name
        for name in (
            "RateLimitError",
            "ServiceUnavailableError",
            "InvalidRequestError",
            "AuthenticationError",
            "PermissionError",
            "TryAgain",
            "Timeout",
            "APIConnectionError",
            "APIError",
            "OpenAIError",
        )
        if isinstance(exc, getattr(legacy_names, name))
    ]
    headers = getattr(exc, "headers", _ABSENT)
    out: dict[str, Any] = {
        "class": names[0] if names else type(exc).__name__,
        "str": str(exc),
        "repr": repr(exc),
        "headers": [[str(k), str(v)] for k, v in headers.items()]
        if headers is not _ABSENT
        else _ABSENT,
        "headers_get": {
            name: headers.get(name) for name in ("Retry-After", "retry-after", "CONTENT-TYPE")
        }
        if headers is not _ABSENT
        else _ABSENT,
        "error": _error_record(getattr(exc, "error", None)),
    }
    for name in FIELDS:
        if name not in out:
            out[name] = getattr(exc, name, _ABSENT)
    return out


def normaliser(port: int | None, dates: list[str]) -> Any:
    """A function that makes a record's strings stable between runs: the server's
    ``Date`` and Python version, the port it listened on, object addresses."""
    server = f"Python/{platform.python_version()}"

    def normalise(value: Any) -> Any:
        if isinstance(value, str):
            for date in dates:
                value = value.replace(date, "<date>")
            value = value.replace(server, "Python/<version>")
            if port is not None:
                value = value.replace(f"port={port}", "port=<port>").replace(
                    f":{port}", ":<port>"
                )
            return re.sub(r"0x[0-9a-f]+", "0x<address>", value)
        if isinstance(value, dict):
            return {normalise(k): normalise(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [normalise(v) for v in value]
        return value

    return normalise


def dates_in(exc: BaseException) -> list[str]:
    """The ``Date`` header values an exception carries, to be normalised away."""
    headers = getattr(exc, "headers", None) or {}
    return [str(v) for k, v in headers.items() if str(k).lower() == "date"]
