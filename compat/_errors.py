"""The common error model: ``LLMError`` and one subclass per kind.

The fields are attrs fields of :class:`LLMError`; that one list is behind the
public constructor, the translation path's :meth:`LLMError._make`, pickling
(:meth:`LLMError.fields`), equality and ``repr``.

Legacy bases: ``LLMError`` is a ``compat.legacy.OpenAIError``, and a per-kind
class has a second base only where a handler written for ``openai<1`` must catch
it with a legacy ``except`` clause (the table in README's "Migrating from
openai<1"): ``except openai.error.RateLimitError`` catches ``RateLimitError`` and
``QuotaExceededError``, ``InvalidRequestError`` catches the invalid request,
context length, content filter and not-found classes, ``APIError`` catches
``ServerError`` (and ``OverloadedError``), ``BadResponseError`` and
``UnknownError``. ``OutputTruncatedError`` has none: no legacy class meant it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from compat import _legacy_errors as legacy
from compat._kinds import ErrorKind
from compat._parse import parse_duration, signal_headers
from compat._redact import redact_data, redact_id, redact_text

if TYPE_CHECKING:
    from compat._content_filter import ContentFilterResult


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


def _fixed_kind(
    cls: type[LLMError], kind: ErrorKind, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """The constructor's positional arguments for a class whose kind is fixed.

    A subclass is made from a message alone (``RateLimitError("slow down")``) or,
    like :class:`LLMError`, from ``(kind, message, ...)``; a kind that is not the
    class's own is refused.
    """
    if args and (isinstance(args[0], ErrorKind) or (len(args) > 1 and isinstance(args[1], str))):
        given: Any = args[0]  # (kind, message, ...): the base class's order
    elif "kind" in kwargs:
        given = kwargs.pop("kind")
        args = (kind, *args)
    else:
        return (kind, *args)
    try:
        agrees = _to_kind(given) is kind
    except ValueError:
        agrees = False
    if not agrees:
        raise ValueError(
            f"{cls.__name__} is the error of kind {kind.value!r}, not {given!r}: raise the class "
            f"of that kind, or LLMError(kind, message)"
        )
    return args


@attrs.frozen(eq=False, repr=False, str=False, slots=False)
class LLMError(legacy.OpenAIError):
    """Raised when a call to an OpenAI-style service failed, whatever the source.

    ``kind`` says what failed, ``retryable`` whether trying the same request again
    can succeed and ``retry_after`` how long the server asked to wait. ``message``,
    ``headers`` and ``body`` are redacted the first time they are read. The
    original exception, if any, is ``__cause__``.

    ``LLMError(kind, message, retryable=None, *, ...)`` takes the fields after
    ``retryable`` by name; each subclass fixes its kind and is made from a message
    alone (``RateLimitError("slow down", retry_after=2.0)``). The field list (``attrs.fields``)
    is the one list behind construction, :meth:`fields` (what pickling keeps),
    equality (fields with ``eq``) and ``repr`` (fields with ``repr``, message last).
    """

    kind: ErrorKind = attrs.field(converter=_to_kind)
    _message: str = attrs.field(converter=str, alias="message")
    retryable: bool = attrs.field(default=None, repr=False)  # None: the kind's default
    status: int | None = attrs.field(default=None, kw_only=True)
    code: str | None = attrs.field(default=None, converter=_opt_str, kw_only=True)
    request_id: str | None = attrs.field(default=None, kw_only=True)
    retry_after: float | None = attrs.field(default=None, kw_only=True)
    provider: str = attrs.field(default="unknown", kw_only=True)
    type: str | None = attrs.field(default=None, kw_only=True, repr=False)
    param: str | None = attrs.field(default=None, kw_only=True, repr=False)
    billed: bool | None = attrs.field(default=None, kw_only=True, repr=False)
    # What the retry engine says of the call this error ended: its attempts, its time,
    # how many attempts resent a request that may have been processed, and whether the
    # error is the service's ("server": whatever answered or failed on the way) or
    # compat's own ("client": no slot was free before the deadline, nothing was sent).
    attempts: int | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)
    elapsed: float | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)
    resent: int = attrs.field(default=0, kw_only=True, eq=False, repr=False)
    origin: str = attrs.field(default="server", kw_only=True, eq=False, repr=False)
    _raw_headers: Any = attrs.field(
        default=None, alias="headers", kw_only=True, eq=False, repr=False
    )
    _raw_body: Any = attrs.field(default=None, alias="body", kw_only=True, eq=False, repr=False)
    # Not fields of the model: the answer this error was read from (its decision
    # headers are read once, there), and the redacted forms already shown.
    _answer: Any = attrs.field(default=None, init=False, eq=False, repr=False)
    _shown: dict[str, Any] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    #: The kind every instance of this class has, for the per-kind subclasses.
    default_kind: ClassVar[ErrorKind | None] = None

    def __attrs_post_init__(self) -> None:
        if self.retryable is None:
            object.__setattr__(self, "retryable", self.kind.retryable)

    @classmethod
    def _make(cls, values: dict[str, Any]) -> LLMError:
        """Make an error from values already of the right types, keyed by attribute name.

        The translation path's constructor: it skips the converters that the
        public constructor runs, because every value it is given is already
        converted, and makes *values* (a dict the caller gives up) the instance's
        ``__dict__``. Attributes left out take their defaults (:data:`_DEFAULTS`,
        from the field list).
        """
        self = BaseException.__new__(cls)
        if len(values) < _FULL:
            values = {**_DEFAULTS, **values}
        if values["retryable"] is None:
            values["retryable"] = values["kind"].retryable
        values["_shown"] = {}
        _set_state(self, values)  # the dict becomes the instance's: nothing is copied
        return self

    @property
    def _signals(self) -> Mapping[str, str]:
        """The decision headers of the answer (``retry-after``, ``x-should-retry``,
        ``x-ratelimit-*``, request ids), names lower-cased, as they were read once.

        Private to compat: the retry engine reads these instead of normalising the
        headers again. Not redacted (they carry no credentials); not for showing.
        """
        answer = self._answer
        if answer is not None:
            headers: Mapping[str, str] = answer.headers
            return headers
        signals = self._shown.get("signals")
        if signals is None:
            signals = self._shown["signals"] = signal_headers(self._raw_headers)
        return signals

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
        from compat._sources import content_filter

        return content_filter(self.body)

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
        return {name: getattr(self, name) for name in _INIT_NAMES}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.fields()))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in _EQ_NAMES])

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
        parts = []
        for name in _REPR_NAMES:
            value = getattr(self, name)
            if value is not None:
                shown = value.value if isinstance(value, ErrorKind) else value
                parts.append(f"{name}={shown!r}")
        parts.append(f"message={self.message!r}")
        return f"{type(self).__qualname__}({', '.join(parts)})"


class _Shown:
    """A field kept as the answer gave it and read redacted: a code, a request id, a type
    or a param may echo a secret as well as a message can. The redacted text is made the
    first time the field is read."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.name)
        if type(value) is not str:
            return value
        shown: dict[str, Any] = instance.__dict__["_shown"]
        found = shown.get(self.name)
        if found is None:
            redact = redact_id if self.name == "request_id" else redact_text
            found = shown[self.name] = redact(value)
        return found

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.name] = value


for _name in ("code", "request_id", "type", "param"):
    setattr(LLMError, _name, _Shown(_name))
del _name

# Derived once from the field list. Each field is read through its constructor
# name (its alias): for the message, headers and body that is the redacted view.
_INIT_NAMES = tuple(str(a.alias) for a in attrs.fields(LLMError) if a.init)
_EQ_NAMES = tuple(str(a.alias) for a in attrs.fields(LLMError) if a.init and a.eq)
_REPR_NAMES = tuple(
    str(a.alias) for a in attrs.fields(LLMError) if a.init and a.repr and a.alias != "message"
)
#: Every attribute at its default, for :meth:`LLMError._make`.
_DEFAULTS = {a.name: a.default for a in attrs.fields(LLMError) if not hasattr(a.default, "factory")}
#: How many attributes :meth:`LLMError._make` fills when given all of them (``_shown`` aside).
_FULL = len(_DEFAULTS)
_set_state = BaseException.__dict__["__dict__"].__set__


def _rebuild(cls: type[LLMError], fields: dict[str, Any]) -> LLMError:
    return cls(**fields)


class _KindFixed(LLMError):
    """Base of the per-kind classes: made from a message alone, the kind fixed by the class.

    ``RateLimitError("slow down")``, ``RateLimitError("slow down", retry_after=2.0)``
    and the base class's ``RateLimitError(kind, message, ...)`` all work; a kind
    that is not the class's own raises ``ValueError``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kind = type(self).default_kind
        if kind is not None:
            args = _fixed_kind(type(self), kind, args, kwargs)
        super().__init__(*args, **kwargs)


class AuthenticationError(_KindFixed, legacy.AuthenticationError):
    """Raised when credentials are missing, invalid, expired or revoked."""

    default_kind = ErrorKind.AUTHENTICATION


class PermissionDeniedError(_KindFixed, legacy.PermissionError):
    """Raised when the caller is authenticated but not allowed to do this."""

    default_kind = ErrorKind.PERMISSION_DENIED


class InvalidRequestError(_KindFixed, legacy.InvalidRequestError):
    """Raised when the request is malformed or a parameter is bad or missing."""

    default_kind = ErrorKind.INVALID_REQUEST


class ContextLengthExceededError(InvalidRequestError):
    """Raised when the prompt plus the requested output exceed the model's context window."""

    default_kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED


class OutputTruncatedError(_KindFixed):
    """Raised when the model stopped at its output limit where a complete answer was due."""

    default_kind = ErrorKind.OUTPUT_TRUNCATED


class ContentFilteredError(_KindFixed, legacy.InvalidRequestError):
    """Raised when a safety or content filter rejected the prompt or the completion."""

    default_kind = ErrorKind.CONTENT_FILTERED


class NotFoundError(_KindFixed, legacy.InvalidRequestError):
    """Raised when the model, deployment, resource or route does not exist."""

    default_kind = ErrorKind.NOT_FOUND


class ConflictError(_KindFixed, legacy.TryAgain):
    """Raised when the request conflicts with the state of the resource (409)."""

    default_kind = ErrorKind.CONFLICT


class RateLimitError(_KindFixed, legacy.RateLimitError):
    """Raised when too many requests or tokens were sent per unit of time."""

    default_kind = ErrorKind.RATE_LIMITED


class QuotaExceededError(_KindFixed, legacy.RateLimitError):
    """Raised when a billing quota, credit, balance or call allowance is used up."""

    default_kind = ErrorKind.QUOTA_EXCEEDED


class ServerError(_KindFixed, legacy.APIError):
    """Raised when the provider or the gateway failed while handling the request."""

    default_kind = ErrorKind.SERVER_ERROR


class OverloadedError(ServerError, legacy.ServiceUnavailableError):
    """Raised when the service is unavailable, overloaded or under maintenance."""

    default_kind = ErrorKind.OVERLOADED


class APITimeoutError(_KindFixed, legacy.Timeout):
    """Raised when the request timed out, on the client or on the way."""

    default_kind = ErrorKind.TIMEOUT


class APIConnectionError(_KindFixed, legacy.APIConnectionError):
    """Raised when the service could not be reached or the connection broke."""

    default_kind = ErrorKind.CONNECTION


class BadResponseError(_KindFixed, legacy.APIError):
    """Raised when an answer cannot be read: not JSON, off-schema, or an empty success."""

    default_kind = ErrorKind.BAD_RESPONSE


class UnknownError(_KindFixed, legacy.APIError):
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
