"""The two entry points, ``translate`` and ``from_response``, and the adapter registry.

An adapter is a function ``(exception) -> LLMError | None`` that knows one
library's exceptions. Adapters are found by the module that defines the
exception's class (or one of its bases), so that no SDK is imported to find out
whether an exception is one of its own: ``openai.error`` and ``openai._exceptions``
are told apart by name alone. Built-in adapters live in the ``compat.adapters`` package
and are imported the first time an exception of theirs is translated.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from typing import Any, Union

from compat._answer import read_answer
from compat._classify import classify, make_error
from compat._errors import LLMError
from compat._kinds import ErrorKind
from compat._secrets import logger

log = logger("compat")

Adapter = Callable[[BaseException], Union[LLMError, None]]

# Module name (or its first part) -> adapter, or "module:function" until first use.
_BUILTIN: dict[str, str] = {
    "openai.error": "compat.adapters.openai_legacy:translate",
    "openai": "compat.adapters.openai_v1:translate",
    "requests": "compat.adapters.http:translate_requests",
    "httpx": "compat.adapters.http:translate_httpx",
    "httpx2": "compat.adapters.http:translate_httpx",
    "httpcore": "compat.adapters.http:translate_httpcore",
    "compat": "compat._translate:_own",
    # openai<1 fails inside its own error handling on an ``error`` that is not an object
    # (AttributeError, TypeError): the adapter reads the answer it was handling, or says None.
    "builtins": "compat.adapters.openai_legacy:translate_crash",
}
_registry: dict[str, Adapter | str] = dict(_BUILTIN)
_by_class: dict[type, Adapter | None] = {}
_UNKNOWN: Any = object()
_set_cause = BaseException.__dict__["__cause__"].__set__
_lock = threading.Lock()


def register_adapter(module: str, adapter: Adapter) -> None:
    """Translate exceptions whose class (or a base) is defined in *module* with *adapter*.

    *module* is a full module name (``"mygateway.errors"``) or its top-level
    package (``"mygateway"``); the full name is preferred when both are registered.
    The adapter returns the common error, or ``None`` for exceptions it does not
    know; it may raise, in which case the caller gets an ``unknown`` error.
    """
    with _lock:
        _registry[module] = adapter
        _by_class.clear()


def unregister_adapter(module: str) -> None:
    """Forget the adapter registered for *module* (built-in ones come back)."""
    with _lock:
        if module in _BUILTIN:
            _registry[module] = _BUILTIN[module]
        else:
            _registry.pop(module, None)
        _by_class.clear()


def _own(exc: BaseException) -> LLMError | None:
    return exc if isinstance(exc, LLMError) else None


def _resolve(key: str) -> Adapter | None:
    entry = _registry.get(key)
    if entry is None or callable(entry):
        return entry
    module_name, _, attribute = entry.partition(":")
    adapter: Adapter = getattr(importlib.import_module(module_name), attribute)
    with _lock:
        if _registry.get(key) == entry:
            _registry[key] = adapter
    return adapter


def adapter_for(cls: type) -> Adapter | None:
    """The adapter for exceptions of class *cls*, found along its MRO."""
    try:
        return _by_class[cls]
    except KeyError:
        pass
    found: Adapter | None = None
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", None) or ""
        found = _resolve(module) or _resolve(module.partition(".")[0])
        if found is not None:
            break
    _by_class[cls] = found
    return found


def translate(exc: BaseException) -> LLMError | None:
    """The common error for *exc*, or ``None`` when *exc* is not a service failure.

    Exceptions of the legacy and v1+ ``openai`` SDKs, ``requests``, ``httpx`` and
    of registered adapters are translated; anything else (a bug in the caller's
    code, ``KeyboardInterrupt``, ``asyncio.CancelledError``) gives ``None``. A
    compat error is returned as it is. This function never raises: if an adapter
    fails, the result is an ``unknown`` error and the failure is logged.
    """
    if isinstance(exc, LLMError):
        return exc
    if not isinstance(exc, Exception):
        return None
    try:
        cls = type(exc)
        adapter: Adapter | None = _by_class.get(cls, _UNKNOWN)
        if adapter is _UNKNOWN:
            adapter = adapter_for(cls)
        if adapter is None:
            return None
        error = adapter(exc)
        if error is not None and error is not exc and error.__cause__ is None:
            # BaseException's own setter: the frozen class's __setattr__ is slower.
            _set_cause(error, exc)
        return error
    except Exception as bug:
        log.error("compat could not translate %s", type(exc).__qualname__, exc_info=bug)
        error = make_error(
            ErrorKind.UNKNOWN,
            f"{type(exc).__qualname__} could not be translated ({type(bug).__qualname__})",
        )
        error.__cause__ = exc
        return error


def from_response(
    status: int | None,
    headers: Mapping[str, Any] | Any,
    body: Any,
    *,
    provider: str | None = None,
) -> LLMError | None:
    """The common error for a raw HTTP answer, or ``None`` when the answer is a success.

    *status* is the HTTP status (``None`` when unknown), *headers* a mapping with
    any capitalisation (or a list of pairs), *body* bytes, str or parsed JSON.
    With ``provider=None`` the shape of the answer decides who sent it. This
    function never raises.
    """
    try:
        return classify(read_answer(status, headers, body, provider=provider))
    except Exception as bug:
        log.error("compat could not read an answer with status %r", status, exc_info=bug)
        error = make_error(
            ErrorKind.UNKNOWN,
            f"The answer could not be read ({type(bug).__qualname__}: {bug})",
            status if isinstance(status, int) else None,
        )
        error.__cause__ = bug
        return error
