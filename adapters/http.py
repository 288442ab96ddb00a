"""Exceptions of the HTTP libraries: ``requests``, ``httpx`` (and ``httpx2``), ``httpcore``.

Transport failures become ``timeout`` or ``connection``; an exception that holds
an HTTP response (``requests.HTTPError``, ``httpx.HTTPStatusError``) is read as
that answer. Usage errors of the library (reading a stream twice, a cookie
conflict) are the caller's bugs and give ``None``.

This module also owns what HTTP itself says (:data:`SOURCE`): what each status
means when nothing more specific was said, and the reason phrases and common
words that hint at a failure when nothing else did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.adapters._common import describe, kind_by_class
from compat.extend import (
    ErrorKind,
    LLMError,
    Row,
    Source,
    classify,
    make_error,
    read_answer,
    redact_url,
)

K = ErrorKind


def framework_error(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A web framework's error (Fastify's and hapi's ``{"statusCode": 500, "error":
    "Internal Server Error", "message": "..."}``): the message says what failed, the
    ``error`` only names the status."""
    message, title = document.get("message"), document.get("error")
    if "statusCode" in document and type(message) is str and message and type(title) is str:
        return {"message": message}
    return None


SOURCE = Source(
    name="http",
    # What a status means when nothing more specific was said (RFC 9110, and the
    # 52x statuses of Cloudflare and other proxies). Other 4xx are invalid_request,
    # other 5xx server_error, a 3xx where an answer was due bad_response.
    statuses={
        400: Row(K.INVALID_REQUEST),
        401: Row(K.AUTHENTICATION),
        402: Row(K.QUOTA_EXCEEDED),
        403: Row(K.PERMISSION_DENIED),
        404: Row(K.NOT_FOUND),
        405: Row(K.INVALID_REQUEST),
        407: Row(K.CONNECTION),
        408: Row(K.TIMEOUT),
        409: Row(K.CONFLICT),
        410: Row(K.NOT_FOUND),
        413: Row(K.INVALID_REQUEST),
        414: Row(K.INVALID_REQUEST),
        415: Row(K.INVALID_REQUEST),
        422: Row(K.INVALID_REQUEST),
        425: Row(K.CONFLICT),
        429: Row(K.RATE_LIMITED),
        499: Row(K.TIMEOUT),
        500: Row(K.SERVER_ERROR),
        501: Row(K.INVALID_REQUEST),
        502: Row(K.SERVER_ERROR),
        503: Row(K.OVERLOADED),
        504: Row(K.TIMEOUT),
        520: Row(K.SERVER_ERROR),
        521: Row(K.CONNECTION),
        522: Row(K.TIMEOUT),
        523: Row(K.CONNECTION),
        524: Row(K.TIMEOUT),
        525: Row(K.CONNECTION),
        526: Row(K.CONNECTION),
        529: Row(K.OVERLOADED),
        598: Row(K.TIMEOUT),
        599: Row(K.TIMEOUT),
    },
    phrases={
        "internal server error": Row(K.SERVER_ERROR),
        "rate limit exceeded": Row(K.RATE_LIMITED),
    },
    # Weak hints: read only when no code, phrase, status or type spoke.
    hints={
        "rate limit": Row(K.RATE_LIMITED),
        "too many requests": Row(K.RATE_LIMITED),
        "timed out": Row(K.TIMEOUT),
        "timeout": Row(K.TIMEOUT),
        "api key": Row(K.AUTHENTICATION),
        "api_key": Row(K.AUTHENTICATION),
        "authentication": Row(K.AUTHENTICATION),
        "unauthorized": Row(K.AUTHENTICATION),
        "does not exist": Row(K.NOT_FOUND),
        "not found": Row(K.NOT_FOUND),
        "temporarily unavailable": Row(K.OVERLOADED),
        "service unavailable": Row(K.OVERLOADED),
        "maintenance": Row(K.OVERLOADED),
        "connection": Row(K.CONNECTION),
        "network": Row(K.CONNECTION),
    },
    shapes=(framework_error,),
)

#: ``requests.exceptions``, most specific names first along any MRO.
REQUESTS_KINDS: dict[str, ErrorKind | None] = {
    "ConnectTimeout": K.TIMEOUT,
    "ReadTimeout": K.TIMEOUT,
    "Timeout": K.TIMEOUT,
    "SSLError": K.CONNECTION,
    "ProxyError": K.CONNECTION,
    "ConnectionError": K.CONNECTION,
    "ChunkedEncodingError": K.CONNECTION,
    "RetryError": K.CONNECTION,
    "ContentDecodingError": K.BAD_RESPONSE,
    "JSONDecodeError": K.BAD_RESPONSE,
    "TooManyRedirects": K.BAD_RESPONSE,
    "InvalidJSONError": K.INVALID_REQUEST,
    "MissingSchema": K.INVALID_REQUEST,
    "InvalidSchema": K.INVALID_REQUEST,
    "InvalidURL": K.INVALID_REQUEST,
    "InvalidHeader": K.INVALID_REQUEST,
    "InvalidProxyURL": K.INVALID_REQUEST,
    "URLRequired": K.INVALID_REQUEST,
    "UnrewindableBodyError": K.INVALID_REQUEST,
    "HTTPError": None,
    "RequestException": K.UNKNOWN,
}

#: Usage errors of ``requests``: bugs in the calling code, not service failures.
REQUESTS_CALLER_BUGS = frozenset({"StreamConsumedError", "RequestsWarning"})

#: ``httpx`` / ``httpx2`` exceptions.
HTTPX_KINDS: dict[str, ErrorKind | None] = {
    "TimeoutException": K.TIMEOUT,
    "ProxyError": K.CONNECTION,
    "NetworkError": K.CONNECTION,
    "RemoteProtocolError": K.CONNECTION,
    "LocalProtocolError": K.INVALID_REQUEST,
    "ProtocolError": K.CONNECTION,
    "UnsupportedProtocol": K.INVALID_REQUEST,
    "TransportError": K.CONNECTION,
    "DecodingError": K.BAD_RESPONSE,
    "TooManyRedirects": K.BAD_RESPONSE,
    "InvalidURL": K.INVALID_REQUEST,
    "HTTPStatusError": None,
    "RequestError": K.CONNECTION,
    "HTTPError": K.UNKNOWN,
}

#: Usage errors of ``httpx``: bugs in the calling code, not service failures.
HTTPX_CALLER_BUGS = frozenset(
    {
        "StreamError",
        "StreamConsumed",
        "StreamClosed",
        "ResponseNotRead",
        "RequestNotRead",
        "CookieConflict",
    }
)

#: ``httpcore`` exceptions, which can escape from code that drives it directly.
HTTPCORE_KINDS: dict[str, ErrorKind | None] = {
    "TimeoutException": K.TIMEOUT,
    "ProxyError": K.CONNECTION,
    "NetworkError": K.CONNECTION,
    "RemoteProtocolError": K.CONNECTION,
    "LocalProtocolError": K.INVALID_REQUEST,
    "ProtocolError": K.CONNECTION,
    "UnsupportedProtocol": K.INVALID_REQUEST,
    "ConnectionNotAvailable": K.CONNECTION,
    "PoolTimeout": K.TIMEOUT,
}


def _is_bug(cls: type, bugs: frozenset[str]) -> bool:
    return any(klass.__name__ in bugs for klass in cls.__mro__)


def _url_of(exc: BaseException) -> str | None:
    try:
        url = getattr(getattr(exc, "request", None), "url", None)
    except Exception:  # noqa: BLE001 - httpx raises when an exception has no request
        return None
    return redact_url(str(url)) if url is not None else None


def _message(exc: BaseException) -> str:
    url = _url_of(exc)
    text = describe(exc)
    return f"{text} (calling {url})" if url and url not in text else text


def read_response(
    response: Any, *, provider: str | None = None, fallback: str | None = None
) -> LLMError | None:
    """Read a ``requests`` or ``httpx`` response object as an answer."""
    status = getattr(response, "status_code", None)
    try:
        content = response.content
    except Exception:  # noqa: BLE001 - an unread stream has no content to give
        content = None
    headers = getattr(response, "headers", None)
    return classify(read_answer(status, headers, content, provider=provider, sender=fallback))


def _translate(
    exc: BaseException, table: dict[str, ErrorKind | None], bugs: frozenset[str]
) -> LLMError | None:
    cls = type(exc)
    if _is_bug(cls, bugs):
        return None
    found, kind = kind_by_class(cls, table)
    if not found:
        return None
    if kind is None:
        response = getattr(exc, "response", None)
        if response is not None:
            error = read_response(response)
            if error is not None:
                return error
        kind = K.UNKNOWN
    return make_error(kind, _message(exc))


def translate_requests(exc: BaseException) -> LLMError | None:
    """Translate an exception of ``requests``."""
    return _translate(exc, REQUESTS_KINDS, REQUESTS_CALLER_BUGS)


def translate_httpx(exc: BaseException) -> LLMError | None:
    """Translate an exception of ``httpx`` or ``httpx2``."""
    return _translate(exc, HTTPX_KINDS, HTTPX_CALLER_BUGS)


def translate_httpcore(exc: BaseException) -> LLMError | None:
    """Translate an exception of ``httpcore``."""
    return _translate(exc, HTTPCORE_KINDS, frozenset())
