"""The legacy ``openai.error`` names (openai<1) as compat classes.

They are bases of compat's own error classes (``compat.RateLimitError`` is a
``compat.legacy.RateLimitError``), so importing this module costs nothing more
than defining them. :mod:`compat.legacy` makes the installed SDK's exceptions
instances of them too; see there.

Each class takes the legacy constructor's arguments, so code that raises them
(tests, mocks) keeps working; and each answers the legacy attribute names
(``http_status``, ``json_body``, ``http_body``, ``user_message``, ``headers``,
``code``, ``request_id``, ``param``, ``error``, ``organization``) for the SDK
exceptions it is mixed into, read from what those exceptions carry.
"""

from __future__ import annotations

import json
from typing import Any

#: The legacy attribute names a handler may read, and the v1+ SDK attribute each comes from.
LEGACY_ATTRIBUTES = (
    "http_status",
    "http_body",
    "json_body",
    "headers",
    "user_message",
    "code",
    "request_id",
    "param",
    "error",
    "organization",
)


def _response_of(exc: Any) -> Any:
    try:
        return exc.__dict__.get("response")
    except AttributeError:  # pragma: no cover - exceptions have a __dict__
        return None


def _headers_of(exc: Any) -> dict[str, str]:
    response = _response_of(exc)
    headers = getattr(response, "headers", None)
    if headers is None:
        return {}
    try:
        return {str(k): str(v) for k, v in headers.items()}
    except (AttributeError, TypeError):
        return {}


def _text_of(exc: Any) -> str | None:
    response = _response_of(exc)
    if response is None:
        return None
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - a stream not read, or undecodable: no body to show
        return None
    return text if isinstance(text, str) else None


def _json_of(exc: Any) -> Any:
    text = _text_of(exc)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _foreign(exc: Any, name: str) -> Any:
    """The legacy attribute *name* of an SDK exception that does not carry it."""
    if name == "http_status":
        status = exc.__dict__.get("status_code")
        return status if isinstance(status, int) else None
    if name == "headers":
        return _headers_of(exc)
    if name == "http_body":
        return _text_of(exc)
    if name == "json_body":
        document = _json_of(exc)
        return document if isinstance(document, dict) else None
    if name == "user_message":
        body = exc.__dict__.get("body")  # the v1 SDK keeps the error object here
        said = body.get("message") if isinstance(body, dict) else None
        if isinstance(said, str) and said:
            return said
        message = exc.__dict__.get("message")
        return message if isinstance(message, str) else str(exc)
    if name == "error":
        document = _json_of(exc)
        error = document.get("error") if isinstance(document, dict) else None
        return error if isinstance(error, dict) else None
    if name == "organization":
        return _headers_of(exc).get("openai-organization")
    return None  # code, request_id, param: absent means none


class OpenAIError(Exception):
    """Base of every legacy error: catches every failure the legacy SDK reported."""

    def __init__(
        self,
        message: str | None = None,
        http_body: str | bytes | None = None,
        http_status: int | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        if isinstance(http_body, bytes):
            try:
                http_body = http_body.decode("utf-8")
            except UnicodeDecodeError:
                http_body = "<Could not decode body as utf-8. Please report to support@openai.com>"
        headers = headers or {}
        error = json_body.get("error") if isinstance(json_body, dict) else None
        # Filled through __dict__: compat's errors, which inherit these classes, have
        # read-only properties of the same names.
        self.__dict__.update(
            _message=message,
            http_body=http_body,
            http_status=http_status,
            json_body=json_body,
            headers=headers,
            code=code,
            request_id=headers.get("request-id", None),
            error=error if isinstance(error, dict) else None,
            organization=headers.get("openai-organization", None),
            _compat_legacy_init=True,
        )

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup failed: an SDK exception this class was mixed
        # into, asked for a legacy name it does not carry.
        if name == "user_message" and self.__dict__.get("_compat_legacy_init"):
            return self.__dict__.get("_message")
        if name in LEGACY_ATTRIBUTES:
            return _foreign(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __str__(self) -> str:
        if not self.__dict__.get("_compat_legacy_init"):
            return super().__str__()
        message = self._message or "<empty message>"
        if self.request_id is not None:
            return f"Request {self.request_id}: {message}"
        return message

    def __repr__(self) -> str:
        if not self.__dict__.get("_compat_legacy_init"):
            return super().__repr__()
        return f"{type(self).__name__}(message={str(self)!r}, http_status={self.http_status!r}, request_id={self.request_id!r})"


class APIError(OpenAIError):
    """A failure with no more specific legacy class: 500, 502, 422, a stream's error event."""


class TryAgain(OpenAIError):
    """409: the model is still loading."""


class Timeout(OpenAIError):
    """The request timed out."""


class APIConnectionError(OpenAIError):
    """The connection failed (refused, reset, TLS)."""

    def __init__(
        self,
        message: str | None = None,
        http_body: str | bytes | None = None,
        http_status: int | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        should_retry: bool = False,
    ) -> None:
        super().__init__(message, http_body, http_status, json_body, headers, code)
        self.__dict__["should_retry"] = should_retry


class InvalidRequestError(OpenAIError):
    """400, 404 and 415: the request was wrong."""

    def __init__(
        self,
        message: str | None,
        param: str | None,
        code: str | None = None,
        http_body: str | bytes | None = None,
        http_status: int | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, http_body, http_status, json_body, headers, code)
        self.__dict__["param"] = param

    def __reduce__(self) -> tuple[Any, ...]:
        if not self.__dict__.get("_compat_legacy_init"):
            return super().__reduce__()  # type: ignore[return-value]
        return (
            type(self),
            (
                self._message,
                self.param,
                self.code,
                self.http_body,
                self.http_status,
                self.json_body,
                self.headers,
            ),
        )


class AuthenticationError(OpenAIError):
    """401: the key was missing or wrong."""


class PermissionError(OpenAIError):
    """403: the key may not do this."""


class RateLimitError(OpenAIError):
    """429: every 429, an exhausted quota included."""


class ServiceUnavailableError(OpenAIError):
    """503: the service is overloaded or down."""


class InvalidAPIType(OpenAIError):
    """``api_type`` was not one the legacy SDK knows (a client-side error)."""


NAMES = (
    "OpenAIError",
    "APIError",
    "TryAgain",
    "Timeout",
    "APIConnectionError",
    "InvalidRequestError",
    "AuthenticationError",
    "PermissionError",
    "RateLimitError",
    "ServiceUnavailableError",
    "InvalidAPIType",
)

for _name in NAMES:
    globals()[_name].__module__ = "compat.legacy"

#: The legacy class an HTTP status meant (any other status was ``APIError``).
BY_STATUS: dict[int, type[OpenAIError]] = {
    400: InvalidRequestError,
    404: InvalidRequestError,
    415: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionError,
    409: TryAgain,
    429: RateLimitError,
    503: ServiceUnavailableError,
}
