"""Secrets known by value, and the exceptions compat raises from, redacted in place.

Patterns (:mod:`compat._redact`) find secrets by their shape; a proxy's own opaque
token echoed in a message has none. So compat also redacts by value: ``compat.wrap``
registers the wrapped client's API key, Azure AD token and gateway key and secret, and
a user can register others with :func:`register_secret`; every occurrence of those
values (8 characters or longer) is replaced wherever compat shows text.

An error compat raises keeps the original exception as its ``__cause__``, and
``traceback.format_exception`` or ``logger.exception`` print that exception too. So,
before compat raises from an exception, :func:`scrub` redacts in place the printable
forms of it and of the exceptions behind it: their ``args``, their message and body
attributes, the request URL they name. The ``compat`` loggers do the same to the
records they emit (:func:`logger`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

#: Values shorter than this are not registered: they would redact ordinary words.
MIN_LENGTH = 8
REDACTED = "[REDACTED]"

_values: tuple[str, ...] = ()  # longest first, so that a value inside another goes with it
_lock = threading.Lock()


def register_secret(value: object) -> None:
    """Redact *value* wherever compat shows text from now on (keys, tokens, passwords).

    Values shorter than 8 characters, and ``None``, are ignored.
    """
    global _values
    text = _text(value)
    if text is None or text in _values:
        return
    with _lock:
        if text not in _values:
            _values = tuple(sorted({*_values, text}, key=len, reverse=True))


def unregister_secret(value: object) -> None:
    """Stop redacting *value* by value (its shape may still be redacted)."""
    global _values
    text = _text(value)
    with _lock:
        _values = tuple(v for v in _values if v != text)


def _text(value: object) -> str | None:
    if value is None or callable(value):
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    return text if len(text) >= MIN_LENGTH else None


def hide(text: str) -> str:
    """*text* with every registered secret value replaced."""
    for value in _values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


# ------------------------------------------------------------------------ exceptions

#: Attributes of SDK and HTTP-library exceptions that hold text they print or show:
#: the v1 SDK's message and body, the legacy SDK's _message, http_body and json_body,
#: urllib3's url.
_SHOWN = ("message", "_message", "body", "http_body", "json_body", "url", "doc")
_DEPTH = 16


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """*exc* and the exceptions behind it (causes, contexts, exceptions in args)."""
    seen: set[int] = set()
    stack = [exc]
    while stack and len(seen) < _DEPTH:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for link in (
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *_args(current),
        ):
            if isinstance(link, BaseException):
                stack.append(link)


def _args(exc: BaseException) -> tuple[Any, ...]:
    try:
        args = exc.args
    except Exception:  # noqa: BLE001 - a hostile exception: nothing to follow
        return ()
    return args if isinstance(args, tuple) else ()


def scrub(exc: BaseException | None) -> None:
    """Redact, in place, what *exc* and the exceptions behind it would print.

    compat's own errors redact themselves and are left as they are; anything that
    cannot be changed (a read-only attribute) is left too.
    """
    if exc is None:
        return
    from compat._errors import LLMError

    for current in _chain(exc):
        if isinstance(current, LLMError):
            continue
        try:
            _scrub_one(current)
        except Exception:  # noqa: BLE001 - redaction must never be what fails
            continue


def _scrub_one(exc: BaseException) -> None:
    from compat._redact import redact_data, redact_text

    args = _args(exc)
    cleaned = tuple(_clean(arg, redact_text) for arg in args)
    if any(a is not b for a, b in zip(args, cleaned)):
        exc.args = cleaned
    attributes = getattr(exc, "__dict__", {})
    for name in _SHOWN:
        value = attributes.get(name)
        if isinstance(value, str):
            shown = redact_text(value)
            if shown != value:
                setattr(exc, name, shown)
        elif isinstance(value, (dict, list)):
            shown_data = redact_data(value)
            if shown_data != value:
                setattr(exc, name, shown_data)
    for name in ("request", "_request"):
        request = attributes.get(name)
        if request is not None:
            _scrub_url(request)


def _clean(arg: Any, redact_text: Any) -> Any:
    if isinstance(arg, BaseException):
        return arg  # followed on its own
    if isinstance(arg, str):
        shown = redact_text(arg)
        return arg if shown == arg else shown
    if isinstance(arg, (int, float, bool)) or arg is None:
        return arg
    try:
        text = str(arg)
    except Exception:  # noqa: BLE001 - unprintable: leave it
        return arg
    shown = redact_text(text)
    return arg if shown == text else shown


def _scrub_url(request: Any) -> None:
    """Redact the URL an ``httpx.Request`` or a ``requests`` request names."""
    from compat._redact import redact_url

    try:
        url = request.url
    except Exception:  # noqa: BLE001 - no URL to read
        return
    text = str(url)
    shown = redact_url(text)
    if shown == text:
        return
    if isinstance(url, str):
        request.url = shown
    else:
        request.url = type(url)(shown)


# ------------------------------------------------------------------------ logging


class RedactingFilter(logging.Filter):
    """Redacts a record's message, its arguments and the exception it carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        from compat._redact import redact_text

        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(arg, redact_text) for arg in record.args)
        if record.exc_info and record.exc_info[1] is not None:
            scrub(record.exc_info[1])
        return True


_FILTER = RedactingFilter()


def logger(name: str) -> logging.Logger:
    """The ``compat`` logger *name*, with the redacting filter on it."""
    log = logging.getLogger(name)
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
    return log
