"""The legacy ``openai.error`` names (openai<1) as compat classes, and what they answer.

They are bases of compat's own error classes (``compat.RateLimitError`` is a
``compat.legacy.RateLimitError``), so importing this module costs nothing more
than defining them. :mod:`compat.legacy` makes the installed SDK's exceptions
instances of them too; see there.

Each class takes the legacy constructor's arguments, so code that raises them
(tests, mocks) keeps working; and each answers the legacy attribute names
(``http_status``, ``json_body``, ``http_body``, ``user_message``, ``headers``,
``code``, ``request_id``, ``param``, ``error``, ``organization``) for the SDK
exceptions it is mixed into, read from what those exceptions carry.

The answers are openai 0.28.1's, worked out the way it worked them out
(``openai/api_requestor.py`` and ``openai/error.py`` of that release):

* ``error`` is an :class:`ErrorObject`, a dict whose keys also read as attributes
  (``e.error.type`` and ``e.error["type"]``), with ``message`` and ``type``
  always present;
* ``headers`` is a :class:`CaseInsensitiveHeaders`: ``e.headers["Retry-After"]``
  finds ``retry-after``; it keeps the names as the server wrote them;
* ``user_message`` is the text 0.28.1 made: a 503 always said "The server is
  overloaded or not ready yet.", an answer that was not JSON "HTTP code 502 from
  API (...)", a status without a class of its own the message followed by the
  body, status, parsed body and headers; a timeout "Request timed out: ..." and a
  broken connection "Error communicating with OpenAI: ('Connection aborted.', ...)";
* ``json_body`` is the parsed body, except for a 503 and an answer that was not
  JSON (``None``);
* secrets are replaced by ``[REDACTED]`` in every one of them.

compat's own errors answer the same names through the functions at the end
(:func:`error_headers` and the others), which their properties call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

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
#: Further names the legacy exceptions had, which real handlers read
#: (``e._message`` is the private name of ``user_message``).
PRIVATE_ATTRIBUTES = ("_message", "should_retry")

#: What 0.28.1 said for every 503, whatever the body.
OVERLOADED_MESSAGE = "The server is overloaded or not ready yet."
#: What 0.28.1 appended to the message of an error event in a stream.
STREAM_SUFFIX = "(Error occurred while streaming.)"
TIMEOUT_PREFIX = "Request timed out: "
CONNECTION_PREFIX = "Error communicating with OpenAI: "


# ---------------------------------------------------------------------- values


class OpenAIObject(dict):  # type: ignore[type-arg]
    """openai<1's ``OpenAIObject``: a dict whose keys also read as attributes.

    ``obj.name`` is ``obj["name"]``; a missing key is an ``AttributeError`` (so
    ``getattr(obj, "name", None)`` works), and names starting with ``_`` are never
    keys. The client settings 0.28.1 kept on every object (``api_key``,
    ``api_version``, ``api_type``, ``organization``, ``engine``) read as ``None``,
    as they did there.
    """

    api_key = None
    api_version = None
    api_type = None
    organization = None
    engine = None
    api_base_override = None

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        for key, value in (values or {}).items():
            dict.__setitem__(self, str(key), _convert(value))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(*exc.args) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
        else:
            del self[name]

    def __str__(self) -> str:
        return json.dumps(self.to_dict_recursive(), indent=2)

    def __repr__(self) -> str:
        parts = [type(self).__name__]
        if isinstance(self.get("object"), str):
            parts.append(self["object"])
        if isinstance(self.get("id"), str):
            parts.append(f"id={self['id']}")
        return f"<{' '.join(parts)} at {hex(id(self))}> JSON: {self}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.to_dict_recursive(),))

    def __copy__(self) -> OpenAIObject:
        return type(self)(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> OpenAIObject:
        return type(self)(self.to_dict_recursive())

    def to_dict(self) -> dict[str, Any]:
        return dict(self)

    def to_dict_recursive(self) -> dict[str, Any]:
        return {key: _plain(value) for key, value in self.items()}


class ErrorObject(OpenAIObject):
    """openai<1's ``ErrorObject``: the body's ``error``, with ``message`` and ``type``
    always present (``None`` when the server left them out)."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        super().__init__({"message": None, "type": None, **(values or {})})


def _convert(value: Any) -> Any:
    if isinstance(value, OpenAIObject):
        return value
    if isinstance(value, Mapping):
        return OpenAIObject(value)
    if isinstance(value, list):
        return [_convert(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, OpenAIObject):
        return value.to_dict_recursive()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class CaseInsensitiveHeaders(dict):  # type: ignore[type-arg]
    """An answer's headers as openai<1 kept them (``requests``' ``CaseInsensitiveDict``):
    any capitalisation finds a header, and the names stay as the server wrote them.

    Read-only: it is a ``dict`` (``json.dumps`` and ``dict(...)`` work, and show the
    names as written) whose lookups ignore case; changing it raises ``TypeError``.
    Equality ignores the case of names, as ``requests``' did.
    """

    __slots__ = ("_names",)

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        super().__init__()
        names: dict[str, str] = {}
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            lower = name.lower()
            if lower in names:  # a repeated header: urllib3 joined the values
                written = names[lower]
                dict.__setitem__(self, written, dict.__getitem__(self, written) + ", " + value)
            else:
                names[lower] = name
                dict.__setitem__(self, name, value)
        self._names = names

    def __getitem__(self, name: str) -> str:
        written = self._names.get(name.lower()) if isinstance(name, str) else None
        if written is None:
            raise KeyError(name)
        return dict.__getitem__(self, written)  # type: ignore[no-any-return]

    def get(self, name: str, default: Any = None) -> Any:
        written = self._names.get(name.lower()) if isinstance(name, str) else None
        return default if written is None else dict.__getitem__(self, written)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._names

    def lower_items(self) -> Iterator[tuple[str, str]]:
        """``(lower-case name, value)`` pairs, as ``requests`` offered them."""
        return ((name.lower(), value) for name, value in self.items())

    def copy(self) -> dict[str, str]:
        """A plain, changeable ``dict`` of the headers, names as written."""
        return dict(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        try:
            theirs = {str(k).lower(): v for k, v in other.items()}
        except AttributeError:  # pragma: no cover - a Mapping has items()
            return NotImplemented
        return dict(self.lower_items()) == theirs

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self.items()),))

    def __copy__(self) -> CaseInsensitiveHeaders:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CaseInsensitiveHeaders:
        return self

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("an error's headers are read-only; copy() gives a dict to change")

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only


# ---------------------------------------------------------------------- 0.28.1's reading


def _redacted_items(items: Iterable[tuple[Any, Any]]) -> list[tuple[str, str]]:
    from compat._redact import REDACTED, SECRET_HEADERS, encodable, redact_text

    out: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        name = encodable(str(name))
        text = value if isinstance(value, str) else str(value)
        out.append((name, REDACTED if name.lower() in SECRET_HEADERS else redact_text(text)))
    return out


def _parse_like_028(text: str, headers: Mapping[str, str]) -> tuple[bool, Any]:
    """``(parsed, data)``: 0.28.1 took a ``text/plain`` answer as it was and parsed
    anything else as JSON."""
    if "text/plain" in (headers.get("Content-Type") or ""):
        return True, text
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def class_for_answer(
    status: int | None, content_type: str | None, text: str | None, *, stream: bool = False
) -> str:
    """The name of the class 0.28.1 raised for an error answer."""
    if status == 503 and not stream:
        return "ServiceUnavailableError"
    headers = CaseInsensitiveHeaders([("Content-Type", content_type or "")])
    parsed, data = _parse_like_028(text or "", headers)
    if not parsed or not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return "APIError"
    if stream:
        return "APIError"
    return _STATUS_CLASSES.get(status or 0, "APIError")


_STATUS_CLASSES = {
    429: "RateLimitError",
    400: "InvalidRequestError",
    404: "InvalidRequestError",
    415: "InvalidRequestError",
    401: "AuthenticationError",
    403: "PermissionError",
    409: "TryAgain",
}


def read_answer(
    status: int | None,
    header_items: Iterable[tuple[Any, Any]],
    text: str | None,
    *,
    stream: bool = False,
) -> dict[str, Any]:
    """What openai 0.28.1's exception said about an error answer, secrets replaced.

    The keys are the class name (``class``) and the legacy attributes:
    ``user_message``, ``http_body``, ``http_status``, ``json_body``, ``headers``,
    ``code``, ``param``, ``error``, ``request_id``, ``organization``.
    *stream* is an error event inside a stream (0.28.1 appended a note to its message).
    """
    from compat._redact import redact_data, redact_text

    headers = CaseInsensitiveHeaders(_redacted_items(header_items))
    raw = text or ""
    body = redact_text(raw)
    view: dict[str, Any] = {
        "class": "APIError",
        "http_body": body,
        "http_status": status,
        "json_body": None,
        "headers": headers,
        "code": None,
        "param": None,
    }
    if status == 503 and not stream:
        view.update({"class": "ServiceUnavailableError", "user_message": OVERLOADED_MESSAGE})
        return _finish(view)
    parsed, data = _parse_like_028(raw, headers)
    if not parsed:
        view["user_message"] = f"HTTP code {status} from API ({body})"
        return _finish(view)
    data = redact_data(data)
    view["json_body"] = data
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        # 0.28.1 raised this without the headers; an ``error`` that is not an object
        # made it fail with an AttributeError of its own, which is not kept here.
        view["headers"] = CaseInsensitiveHeaders()
        view["user_message"] = (
            f"Invalid response object from API: {body!r} (HTTP response code was {status})"
        )
        return _finish(view)
    if "internal_message" in error and isinstance(error.get("message"), str):
        error["message"] += "\n\n" + str(error["internal_message"])
    message = error.get("message")
    name = "APIError" if stream else _STATUS_CLASSES.get(status or 0, "APIError")
    view["class"] = name
    if name == "InvalidRequestError":
        view["code"], view["param"] = error.get("code"), error.get("param")
    if stream:
        view["user_message"] = " ".join(p for p in (message, STREAM_SUFFIX) if p is not None)
    elif name == "APIError":
        view["user_message"] = f"{message} {body} {status} {data} {headers}"
    else:
        view["user_message"] = message
    return _finish(view)


def _finish(view: dict[str, Any]) -> dict[str, Any]:
    headers = view["headers"]
    document = view["json_body"]
    error = document.get("error") if isinstance(document, dict) else None
    view["error"] = ErrorObject(error) if isinstance(error, dict) else None
    view["request_id"] = headers.get("request-id")
    view["organization"] = headers.get("openai-organization")
    return view


def legacy_str(view: Mapping[str, Any]) -> str:
    """``str(e)`` of 0.28.1's exception: the message, after ``Request <id>: `` when
    the answer had a ``request-id`` header."""
    message = view.get("user_message") or "<empty message>"
    request_id = view.get("request_id")
    return f"Request {request_id}: {message}" if request_id is not None else message


# ---------------------------------------------------------------------- transport failures


def _innermost(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _pool(request: Any) -> str:
    """``HTTPConnectionPool(host='...', port=N)``, as urllib3 named the connection."""
    url = request.url
    scheme = str(url.scheme)
    port = url.port or (443 if scheme == "https" else 80)
    kind = "HTTPSConnectionPool" if scheme == "https" else "HTTPConnectionPool"
    return f"{kind}(host={url.host!r}, port={port})"


def _seconds(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def transport_message(exc: BaseException, *, timeout: bool) -> str:
    """The message 0.28.1 gave a timeout or a connection failure, for a v1+ SDK exception.

    0.28.1 put ``requests``' own text after its prefix; the v1+ SDK runs on httpx, so
    that text is rebuilt from what httpx says: a connection that broke after it was
    made is ``('Connection aborted.', <the OS error>)``, a read that timed out is
    ``HTTPConnectionPool(host=..., port=...): Read timed out. (read timeout=N)``, a
    connection that could not be made is urllib3's "Max retries exceeded" line (as
    urllib3 2 writes it; urllib3 1 named the connection object by its address).
    """
    chain = _innermost(exc)
    names = {klass.__name__ for cause in chain[1:] for klass in type(cause).__mro__}
    os_error = next(
        (c for c in reversed(chain) if isinstance(c, OSError) and not hasattr(c, "request")),
        None,
    )
    request = getattr(exc, "request", None)
    try:
        pool = _pool(request) if request is not None else None
    except Exception:  # noqa: BLE001 - a request without a URL: no pool to name
        pool = None
    if timeout:
        read = None
        extensions = getattr(request, "extensions", None)
        if isinstance(extensions, Mapping) and isinstance(extensions.get("timeout"), Mapping):
            read = extensions["timeout"].get("read")
        if pool is not None and "ConnectTimeout" not in names:
            return f"{TIMEOUT_PREFIX}{pool}: Read timed out. (read timeout={_seconds(read)})"
        return TIMEOUT_PREFIX + (str(chain[-1]) if len(chain) > 1 else str(exc))
    if names & {"ReadError", "WriteError", "RemoteProtocolError", "CloseError"}:
        inner = (
            repr(os_error)
            if os_error is not None
            else "RemoteDisconnected('Remote end closed connection without response')"
        )
        return f"{CONNECTION_PREFIX}('Connection aborted.', {inner})"
    if "ConnectError" in names and request is not None and pool and os_error is not None:
        path = request.url.raw_path.decode("ascii", "replace")
        errno = f"[Errno {os_error.errno}] " if os_error.errno is not None else ""
        reason = os_error.strerror or str(os_error)
        connection = pool.replace("ConnectionPool", "Connection")
        return (
            f"{CONNECTION_PREFIX}{pool}: Max retries exceeded with url: {path} (Caused by "
            f'NewConnectionError("{connection}: Failed to establish a new connection: '
            f'{errno}{reason}"))'
        )
    tail = str(chain[-1]) if len(chain) > 1 else str(exc)
    return CONNECTION_PREFIX + tail


# ---------------------------------------------------------------------- SDK exceptions


def _sdk_view(exc: Any) -> dict[str, Any]:
    """0.28.1's reading of a v1+ SDK exception, worked out once and kept on it."""
    cached = exc.__dict__.get("_compat_legacy_view")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from compat._redact import redact_text

    names = {klass.__name__ for klass in type(exc).__mro__}
    response = exc.__dict__.get("response")
    status = exc.__dict__.get("status_code")
    if response is not None and isinstance(status, int):
        headers = getattr(response, "headers", None)
        raw = getattr(headers, "raw", None)
        try:
            items = list(raw) if raw is not None else list(headers.items())  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - unreadable headers: none
            items = []
        try:
            text = response.text
        except Exception:  # noqa: BLE001 - a stream not read: no body
            text = ""
        view = read_answer(status, items, text if isinstance(text, str) else "")
    elif "APITimeoutError" in names or "APIConnectionError" in names:
        timeout = "APITimeoutError" in names
        view = {
            "class": "Timeout" if timeout else "APIConnectionError",
            "user_message": redact_text(transport_message(exc, timeout=timeout)),
            "http_body": None,
            "http_status": None,
            "json_body": None,
            "headers": CaseInsensitiveHeaders(),
            "code": None,
            "param": None,
            "error": None,
            "request_id": None,
            "organization": None,
        }
        if not timeout:
            view["should_retry"] = False
    elif "APIError" in names and isinstance(exc.__dict__.get("body"), dict):
        # An error event in a stream: the SDK keeps the event's error (some releases the
        # whole event), not the answer; the event is written back compactly, as servers
        # write events.
        body = exc.__dict__["body"]
        document = body if isinstance(body.get("error"), dict) else {"error": body}
        view = read_answer(None, (), json.dumps(document, separators=(",", ":")), stream=True)
    else:
        message = exc.__dict__.get("message")
        text = message if isinstance(message, str) else str(exc)
        view = {
            "class": "OpenAIError",
            "user_message": redact_text(text),
            "http_body": None,
            "http_status": None,
            "json_body": None,
            "headers": CaseInsensitiveHeaders(),
            "code": None,
            "param": None,
            "error": None,
            "request_id": None,
            "organization": None,
        }
    view["_message"] = view["user_message"]
    exc.__dict__["_compat_legacy_view"] = view
    return view


def _foreign(exc: Any, name: str) -> Any:
    """The legacy attribute *name* of an SDK exception that does not carry it."""
    view = _sdk_view(exc)
    if name not in view:
        raise AttributeError(f"{type(exc).__name__!r} object has no attribute {name!r}")
    return view[name]


def sdk_class_name(exc: Any) -> str | None:
    """The name of the class 0.28.1 would have raised for a v1+ SDK status error,
    or ``None`` when *exc* is not one (its class decides)."""
    response = exc.__dict__.get("response")
    status = exc.__dict__.get("status_code")
    if response is None or not isinstance(status, int):
        return None
    try:
        text = response.text
        content_type = response.headers.get("content-type")
    except Exception:  # noqa: BLE001 - an answer not read: its status decides
        return _STATUS_CLASSES.get(
            status, "ServiceUnavailableError" if status == 503 else "APIError"
        )
    return class_for_answer(status, content_type, text if isinstance(text, str) else "")


# ---------------------------------------------------------------------- the classes


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
            error=ErrorObject(error) if isinstance(error, dict) else None,
            organization=headers.get("openai-organization", None),
            _compat_legacy_init=True,
        )

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup failed: an SDK exception this class was mixed
        # into, asked for a legacy name it does not carry.
        if name == "user_message" and self.__dict__.get("_compat_legacy_init"):
            return self.__dict__.get("_message")
        own = self.__dict__
        if (
            (name in LEGACY_ATTRIBUTES or name in PRIVATE_ATTRIBUTES)
            and not own.get("_compat_legacy_init")
            and "kind" not in own  # compat's errors answer through their properties
        ):
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
        return f"{type(self).__name__}(message={self._message!r}, http_status={self.http_status!r}, request_id={self.request_id!r})"


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

    def __repr__(self) -> str:
        if not self.__dict__.get("_compat_legacy_init"):
            return super().__repr__()
        return (
            f"{type(self).__name__}(message={self._message!r}, param={self.param!r}, "
            f"code={self.code!r}, http_status={self.http_status!r}, request_id={self.request_id!r})"
        )

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
    """429: every 429 answered with an error object, an exhausted quota included."""


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

# The exception classes read as compat.legacy's; the value classes keep this module's
# name, so that unpickling an error's headers does not import compat.legacy (which
# teaches the installed SDK's exceptions their legacy classes).
for _name in NAMES:
    globals()[_name].__module__ = "compat.legacy"

#: The legacy class an HTTP status meant, for an answer with a JSON error object
#: (any other status was ``APIError``; 503 was ``ServiceUnavailableError`` whatever
#: the body; a body that was not such JSON was ``APIError`` whatever the status).
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


# ---------------------------------------------------------------------- compat's errors
# The bodies of LLMError's legacy-name properties. compat's errors keep the answer's
# status, headers (names lower-cased) and body (parsed, or text), redacted when read.


def error_headers(error: Any) -> CaseInsensitiveHeaders:
    """``LLMError.headers``: the answer's headers, names lower-cased, credentials
    replaced; read-only, and any capitalisation finds a header."""
    shown = error._shown.get("headers")
    if shown is None:
        from compat._parse import lower_headers
        from compat._redact import redact_headers

        raw = lower_headers(error._raw_headers)
        shown = error._shown["headers"] = CaseInsensitiveHeaders(redact_headers(raw.items()))
    return shown  # type: ignore[no-any-return]


def _error_view(error: Any) -> dict[str, Any] | None:
    """0.28.1's reading of the answer behind a compat error, or ``None`` when there was
    no error answer (a transport failure, a failure inside a 2xx, no status)."""
    if "legacy" in error._shown:
        return error._shown["legacy"]  # type: ignore[no-any-return]
    view = None
    if _answered(error) and not 200 <= error.status < 300:
        headers = error_headers(error)
        view = read_answer(error.status, headers.items(), error_http_body(error))
    error._shown["legacy"] = view
    return view


def _answered(error: Any) -> bool:
    """Whether a compat error stands for an HTTP answer (not one made from a message)."""
    status = error.status
    return (
        isinstance(status, int)
        and status > 0
        and (error._raw_body is not None or bool(error._raw_headers))
    )


def error_http_body(error: Any) -> str | None:
    """``LLMError.http_body``: the body as text (JSON written back when it was
    parsed; empty for an answer without one), redacted, as the legacy SDK kept it."""
    body = error.body
    if body is None:
        return "" if _answered(error) else None
    if isinstance(body, str):
        return body
    try:
        return json.dumps(body, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(body)


def error_json_body(error: Any) -> Any:
    """``LLMError.json_body``: the parsed body, as 0.28.1 kept it (``None`` for a 503
    and for a body that was not JSON), redacted."""
    view = _error_view(error)
    if view is not None:
        return view["json_body"]
    body = error.body
    return body if isinstance(body, dict) else None


def error_object(error: Any) -> ErrorObject | None:
    """``LLMError.error``: the body's ``error`` as an :class:`ErrorObject` (attribute
    and item access), or ``None``."""
    if "error_object" not in error._shown:
        document = error_json_body(error)
        inner = document.get("error") if isinstance(document, dict) else None
        error._shown["error_object"] = ErrorObject(inner) if isinstance(inner, dict) else None
    return error._shown["error_object"]  # type: ignore[no-any-return]


def error_user_message(error: Any) -> str:
    """``LLMError.user_message``: the message 0.28.1 gave the same answer, redacted;
    for a timeout or a connection failure, the message after 0.28.1's prefix. (Where
    0.28.1 had no message at all, an error object without one, compat's is given.)"""
    view = _error_view(error)
    message: str = error.message
    if view is not None:
        said = view["user_message"]
        return said if isinstance(said, str) else message
    kind = getattr(error.kind, "value", error.kind)
    if kind == "timeout" and not message.startswith(TIMEOUT_PREFIX):
        return TIMEOUT_PREFIX + message
    if kind == "connection" and not message.startswith(CONNECTION_PREFIX):
        return CONNECTION_PREFIX + message
    return message


def error_organization(error: Any) -> str | None:
    """``LLMError.organization``: the ``openai-organization`` header."""
    return error_headers(error).get("openai-organization")  # type: ignore[no-any-return]
