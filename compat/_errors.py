"""The common error model: ``LLMError`` and one subclass per kind."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from compat import _legacy_errors as legacy
from compat._kinds import ErrorKind

if TYPE_CHECKING:
    from compat._content_filter import ContentFilterResult
from compat._parse import parse_duration
from compat._redact import redact_data, redact_text


def _to_kind(value: ErrorKind | str) -> ErrorKind:
    return value if isinstance(value, ErrorKind) else ErrorKind(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class RateLimitInfo:
    """The ``x-ratelimit-*`` headers of an answer, read as numbers and seconds."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Read the headers; ``None`` when the answer carried none of them."""
        values: dict[str, Any] = {}
        for which in ("requests", "tokens"):
            for part in ("limit", "remaining"):
                raw = headers.get(f"x-ratelimit-{part}-{which}")
                if raw is not None:
                    with contextlib.suppress(ValueError, OverflowError):
                        values[f"{part}_{which}"] = int(float(raw))
            raw = headers.get(f"x-ratelimit-reset-{which}")
            if raw is not None:
                values[f"reset_{which}"] = parse_duration(raw)
        return cls(**values) if values else None


@attrs.frozen(eq=False, repr=False, str=False, slots=False)
class LLMError(legacy.OpenAIError):
    """Raised when a call to an OpenAI-style service failed, whatever the source.

    ``kind`` says what failed, ``retryable`` whether trying the same request again
    can succeed and ``retry_after`` how long the server asked to wait. ``message``
    is redacted when the error is made; ``headers`` and ``body`` are redacted the
    first time they are read. The original exception, if any, is ``__cause__``.
    """

    kind: ErrorKind = attrs.field(converter=_to_kind)
    _message: str = attrs.field(converter=str, alias="message")
    retryable: bool = None  # type: ignore[assignment]  # None: the kind's default
    retry_after: float | None = None
    status: int | None = None
    code: str | None = attrs.field(default=None, converter=_opt_str)
    request_id: str | None = None
    provider: str = "unknown"
    type: str | None = None
    param: str | None = None
    billed: bool | None = None
    _raw_headers: Any = attrs.field(factory=dict, alias="headers")
    _raw_body: Any = attrs.field(default=None, alias="body")
    _shown: dict[str, Any] = attrs.field(factory=dict, init=False)

    #: The kind every instance of this class has, for the per-kind subclasses.
    default_kind: ClassVar[ErrorKind | None] = None

    def __attrs_post_init__(self) -> None:
        if self.retryable is None:
            object.__setattr__(self, "retryable", self.kind.retryable)

    @classmethod
    def _make(
        cls,
        kind: ErrorKind,
        message: str,
        retryable: bool,
        retry_after: float | None,
        status: int | None,
        code: str | None,
        request_id: str | None,
        provider: str,
        type: str | None,
        param: str | None,
        billed: bool | None,
        headers: Any,
        body: Any,
    ) -> LLMError:
        """Make an error from values already of the right types.

        The translation path's constructor: it skips the converters that the
        public constructor runs, because every value it is given is already
        converted, and fills the instance's ``__dict__`` in one step. Its keys
        are the attrs fields (see :data:`_FIELDS`, checked by the tests).
        """
        self = BaseException.__new__(cls)
        self.__dict__.update(
            {
                "kind": kind,
                "_message": message,
                "retryable": retryable,
                "retry_after": retry_after,
                "status": status,
                "code": code,
                "request_id": request_id,
                "provider": provider,
                "type": type,
                "param": param,
                "billed": billed,
                "_raw_headers": headers,
                "_raw_body": body,
                "_shown": {},
            }
        )
        return self

    @property
    def message(self) -> str:
        """The human message, with secrets replaced."""
        shown = self._shown.get("message")
        if shown is None:
            shown = self._shown["message"] = redact_text(self._message)
        return shown

    @property
    def args(self) -> tuple[str]:  # type: ignore[override]
        """``(message,)``, as for any exception, redacted."""
        return (self.message,)

    @property
    def headers(self) -> Mapping[str, str]:
        """The answer's headers, names lower-cased, credentials replaced; read-only, and
        any capitalisation finds a header (``headers.get("Retry-After")``)."""
        return legacy.error_headers(self)

    @property
    def body(self) -> Any:
        """The answer's body (parsed JSON, or text when it was not JSON), redacted."""
        if "body" not in self._shown:
            self._shown["body"] = redact_data(self._raw_body)
        return self._shown["body"]

    @property
    def content_filter(self) -> tuple[ContentFilterResult, ...]:
        """Azure's content-filter verdicts in the answer, per category; empty when none."""
        from compat._content_filter import read_content_filter

        return read_content_filter(self.body)

    # ------------------------------------------------------------ legacy names
    # What handlers written for openai<1 read; headers, code, request_id and param
    # are fields of their own.

    @property
    def http_status(self) -> int | None:
        """The legacy name of :attr:`status`."""
        return self.status

    @property
    def user_message(self) -> str:
        """The legacy name of :attr:`message`: the text openai 0.28.1 gave the same answer."""
        return legacy.error_user_message(self)

    @property
    def json_body(self) -> Any:
        """The parsed body (redacted), as the legacy SDK kept it."""
        return legacy.error_json_body(self)

    @property
    def http_body(self) -> str | None:
        """The body as text (redacted), as the legacy SDK kept it."""
        return legacy.error_http_body(self)

    @property
    def error(self) -> Any:
        """The body's ``error`` object (the legacy ``error``: keys read as attributes too)."""
        return legacy.error_object(self)

    @property
    def organization(self) -> str | None:
        """The ``openai-organization`` header, as the legacy SDK kept it."""
        return legacy.error_organization(self)

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The ``x-ratelimit-*`` header values, when the answer carried them."""
        return RateLimitInfo.from_headers(self.headers)

    def fields(self) -> dict[str, Any]:
        """Every field as the constructor takes it, redacted: what pickling keeps."""
        return {
            "kind": self.kind,
            "message": self.message,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "status": self.status,
            "code": self.code,
            "request_id": self.request_id,
            "provider": self.provider,
            "type": self.type,
            "param": self.param,
            "billed": self.billed,
            "headers": self.headers,
            "body": self.body,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.fields()))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return (
            self.kind,
            self.message,
            self.retryable,
            self.retry_after,
            self.status,
            self.code,
            self.request_id,
            self.provider,
            self.type,
            self.param,
            self.billed,
        )

    def __str__(self) -> str:
        details = [f"status {self.status}"] if self.status is not None else []
        if self.code is not None:
            details.append(f"code {self.code}")
        if self.request_id is not None:
            details.append(f"request {self.request_id}")
        if self.retry_after is not None:
            details.append(f"retry after {self.retry_after:g}s")
        suffix = f" ({', '.join(details)})" if details else ""
        return f"[{self.kind.value}] {self.message}{suffix}"

    def __repr__(self) -> str:
        parts = [f"kind={self.kind.value!r}"]
        for name in ("status", "code", "request_id", "retry_after"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        parts.append(f"provider={self.provider!r}")
        parts.append(f"message={self.message!r}")
        return f"{type(self).__qualname__}({', '.join(parts)})"


_FIELDS = (
    "kind",
    "_message",
    "retryable",
    "retry_after",
    "status",
    "code",
    "request_id",
    "provider",
    "type",
    "param",
    "billed",
    "_raw_headers",
    "_raw_body",
)


def _rebuild(cls: type[LLMError], fields: dict[str, Any]) -> LLMError:
    return cls(**fields)


class AuthenticationError(LLMError, legacy.AuthenticationError):
    """Raised when credentials are missing, invalid, expired or revoked."""

    default_kind = ErrorKind.AUTHENTICATION


class PermissionDeniedError(LLMError, legacy.PermissionError):
    """Raised when the caller is authenticated but not allowed to do this."""

    default_kind = ErrorKind.PERMISSION_DENIED


class InvalidRequestError(LLMError, legacy.InvalidRequestError):
    """Raised when the request is malformed or a parameter is bad or missing."""

    default_kind = ErrorKind.INVALID_REQUEST


class ContextLengthExceededError(InvalidRequestError):
    """Raised when the prompt plus the requested output exceed the model's context window."""

    default_kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED


class OutputTruncatedError(LLMError):
    """Raised when the model stopped at its output limit where a complete answer was due."""

    default_kind = ErrorKind.OUTPUT_TRUNCATED


class ContentFilteredError(LLMError, legacy.InvalidRequestError):
    """Raised when a safety or content filter rejected the prompt or the completion."""

    default_kind = ErrorKind.CONTENT_FILTERED


class NotFoundError(LLMError, legacy.InvalidRequestError):
    """Raised when the model, deployment, resource or route does not exist."""

    default_kind = ErrorKind.NOT_FOUND


class ConflictError(LLMError, legacy.TryAgain):
    """Raised when the request conflicts with the state of the resource (409)."""

    default_kind = ErrorKind.CONFLICT


class RateLimitError(LLMError, legacy.RateLimitError):
    """Raised when too many requests or tokens were sent per unit of time."""

    default_kind = ErrorKind.RATE_LIMITED


class QuotaExceededError(LLMError, legacy.RateLimitError):
    """Raised when a billing quota, credit, balance or call allowance is used up."""

    default_kind = ErrorKind.QUOTA_EXCEEDED


class ServerError(LLMError, legacy.APIError):
    """Raised when the provider or the gateway failed while handling the request."""

    default_kind = ErrorKind.SERVER_ERROR


class OverloadedError(ServerError, legacy.ServiceUnavailableError):
    """Raised when the service is unavailable, overloaded or under maintenance."""

    default_kind = ErrorKind.OVERLOADED


class APITimeoutError(LLMError, legacy.Timeout):
    """Raised when the request timed out, on the client or on the way."""

    default_kind = ErrorKind.TIMEOUT


class APIConnectionError(LLMError, legacy.APIConnectionError):
    """Raised when the service could not be reached or the connection broke."""

    default_kind = ErrorKind.CONNECTION


class BadResponseError(LLMError, legacy.APIError):
    """Raised when an answer cannot be read: not JSON, off-schema, or an empty success."""

    default_kind = ErrorKind.BAD_RESPONSE


class UnknownError(LLMError, legacy.APIError):
    """Raised when a failure cannot be told apart any further."""

    default_kind = ErrorKind.UNKNOWN


#: The class each kind is raised as.
ERROR_CLASSES: dict[ErrorKind, type[LLMError]] = {
    cls.default_kind: cls
    for cls in (
        AuthenticationError,
        PermissionDeniedError,
        InvalidRequestError,
        ContextLengthExceededError,
        OutputTruncatedError,
        ContentFilteredError,
        NotFoundError,
        ConflictError,
        RateLimitError,
        QuotaExceededError,
        ServerError,
        OverloadedError,
        APITimeoutError,
        APIConnectionError,
        BadResponseError,
        UnknownError,
    )
    if cls.default_kind is not None
}

# Tracebacks and reprs read ``compat.RateLimitError``, not a private module path.
for _cls in (LLMError, RateLimitInfo, *ERROR_CLASSES.values()):
    _cls.__module__ = "compat"
del _cls
