"""The legacy ``openai.error`` names (openai<1), catching errors from every source.

``except compat.legacy.RateLimitError`` catches, by the legacy SDK's own meaning:

* compat's errors (``compat.RateLimitError`` and ``compat.QuotaExceededError``
  are ``compat.legacy.RateLimitError``s: compat's classes have these as bases);
* the installed SDK's exceptions, v1+ or legacy: importing this module makes
  each exception the SDK raises also an instance of the legacy class openai
  0.28.1 raised for the same answer (a v1 ``RateLimitError`` stays an
  ``openai.RateLimitError`` and becomes a ``compat.legacy.RateLimitError``; a v1
  ``InternalServerError`` is an ``APIError`` for a 500 and a
  ``ServiceUnavailableError`` for a 503; an HTML page is an ``APIError`` whatever
  its status, as the legacy SDK had it).

Every instance answers the legacy attribute names (``http_status``,
``json_body``, ``http_body``, ``headers``, ``user_message``, ``code``,
``request_id``, ``param``, ``error``, ``organization``) as 0.28.1 did:
``e.error`` is an :class:`ErrorObject` (``e.error.type`` and
``e.error["type"]``), ``e.headers`` a :class:`CaseInsensitiveHeaders`
(``e.headers.get("Retry-After")`` finds ``retry-after``), ``e.user_message``
0.28.1's text; secrets are replaced. Where the v1+ SDK has an attribute of the
same name (``code``, ``request_id``, ``param``) and ``str(e)``, the SDK's own
stays, since the exception is still the SDK's: ``code`` is the body's code on
every status (0.28.1 kept it only for 400, 404 and 415), ``request_id`` is
``x-request-id`` (0.28.1 read ``request-id``).

:func:`install` goes one step further on openai>=1: ``import openai.error`` and
``openai.error.RateLimitError`` work again, with these names, so legacy code runs
unchanged. :func:`uninstall` undoes it.

The meaning, as the legacy SDK raised it:

============================  ==========================================================
legacy name                   what it caught
============================  ==========================================================
``OpenAIError``               every failure
``InvalidRequestError``       400, 404, 415 (compat: invalid request, context length,
                              content filtered, not found)
``AuthenticationError``       401
``PermissionError``           403
``TryAgain``                  409
``RateLimitError``            429, an exhausted quota included
``ServiceUnavailableError``   503 (compat: overloaded), whatever the body
``APIError``                  any other status (500, 502, 422, ...), a stream's error
                              event, an answer that could not be read (an HTML page
                              or a body without an error object, whatever the status)
``Timeout``                   the request timed out
``APIConnectionError``        the connection failed
``InvalidAPIType``            an unknown ``api_type`` (client side)
============================  ==========================================================

compat's own errors are matched by kind, as the parenthesised names above say;
``compat.OverloadedError`` is both ``ServiceUnavailableError`` and (as a
``compat.ServerError``) ``APIError``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import threading
import types
import warnings
from typing import Any

from compat._kinds import ErrorKind
from compat._legacy_errors import (
    BY_STATUS,
    LEGACY_ATTRIBUTES,
    NAMES,
    APIConnectionError,
    APIError,
    AuthenticationError,
    CaseInsensitiveHeaders,
    ErrorObject,
    InvalidAPIType,
    InvalidRequestError,
    OpenAIError,
    OpenAIObject,
    PermissionError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    TryAgain,
    sdk_class_name,
)

__all__ = [
    "LEGACY_ATTRIBUTES",
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "CaseInsensitiveHeaders",
    "ErrorObject",
    "InvalidAPIType",
    "InvalidRequestError",
    "OpenAIError",
    "OpenAIObject",
    "PermissionError",
    "RateLimitError",
    "ServiceUnavailableError",
    "Timeout",
    "TryAgain",
    "adopt",
    "install",
    "installed",
    "legacy_class",
    "uninstall",
]

_lock = threading.RLock()
#: (SDK class, legacy class) -> the class mixing both.
_mixed: dict[tuple[type, type], type] = {}
#: mixed class -> the SDK class it was made from.
_origin: dict[type, type] = {}
#: SDK classes whose __init__ was wrapped, with what to put back (None: delete ours).
_patched: list[tuple[type, Any]] = []
_shim: types.ModuleType | None = None
_BY_NAME: dict[str, type[OpenAIError]] = {name: globals()[name] for name in NAMES}
K = ErrorKind
#: compat's kinds and the legacy class each is (compat's classes have it as a base).
_BY_KIND: dict[ErrorKind, type[OpenAIError]] = {
    K.AUTHENTICATION: AuthenticationError,
    K.PERMISSION_DENIED: PermissionError,
    K.INVALID_REQUEST: InvalidRequestError,
    K.CONTEXT_LENGTH_EXCEEDED: InvalidRequestError,
    K.CONTENT_FILTERED: InvalidRequestError,
    K.NOT_FOUND: InvalidRequestError,
    K.OUTPUT_TRUNCATED: OpenAIError,
    K.CONFLICT: TryAgain,
    K.RATE_LIMITED: RateLimitError,
    K.QUOTA_EXCEEDED: RateLimitError,
    K.SERVER_ERROR: APIError,
    K.OVERLOADED: ServiceUnavailableError,
    K.TIMEOUT: Timeout,
    K.CONNECTION: APIConnectionError,
    K.BAD_RESPONSE: APIError,
    K.UNKNOWN: APIError,
}


def legacy_class(exc: BaseException) -> type[OpenAIError] | None:
    """The legacy class *exc* meant, or ``None`` when it is not a service failure."""
    kind = getattr(exc, "kind", None)
    if isinstance(exc, OpenAIError) and type(exc) not in _origin:
        if kind in _BY_KIND:  # compat's own errors
            return _BY_KIND[kind]
        for klass in type(exc).__mro__:  # the legacy classes themselves
            if klass.__module__ == "compat.legacy":
                return klass
    cls = _origin.get(type(exc), type(exc))
    module = cls.__module__ or ""
    if module != "openai" and not module.startswith("openai."):
        return None
    if module.startswith("openai.error"):  # the legacy SDK's own classes
        for klass in cls.__mro__:
            if klass.__name__ in _BY_NAME:
                return _BY_NAME[klass.__name__]
        return OpenAIError
    names = {klass.__name__ for klass in cls.__mro__}
    if "APITimeoutError" in names:
        return Timeout
    if "APIConnectionError" in names:
        return APIConnectionError
    status = getattr(exc, "__dict__", {}).get("status_code")
    if isinstance(status, int) and "APIStatusError" in names:
        # As 0.28.1 read the answer: an HTML page or a body without an error object
        # was APIError whatever the status (503 excepted).
        return _BY_NAME.get(sdk_class_name(exc) or "", BY_STATUS.get(status, APIError))
    if "APIError" in names:
        return APIError
    return OpenAIError


def adopt(exc: BaseException) -> BaseException:
    """Make *exc* (an SDK exception) also an instance of its legacy class; return it.

    Its class becomes a subclass of both, with the same name and module, so
    ``except openai.RateLimitError`` still catches it. Exceptions that are not the
    SDK's, and compat's own, are returned unchanged.
    """
    target = legacy_class(exc)
    if target is None or (isinstance(exc, OpenAIError) and type(exc) not in _origin):
        return exc
    base = _origin.get(type(exc), type(exc))
    if issubclass(base, target):
        return exc
    key = (base, target)
    mixed = _mixed.get(key)
    if mixed is None:
        with _lock:
            mixed = _mixed.get(key)
            if mixed is None:
                namespace = {"__module__": base.__module__, "__qualname__": base.__qualname__}
                mixed = type(base.__name__, (base, target), namespace)
                _origin[mixed] = base
                _mixed[key] = mixed
    if type(exc) is not mixed:
        with contextlib.suppress(TypeError):  # an SDK class of another layout stays as it is
            exc.__class__ = mixed
    return exc


def _wrap_init(original: Any) -> Any:
    @functools.wraps(original)
    def __init__(self: BaseException, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        adopt(self)

    __init__.__compat_original__ = original  # type: ignore[attr-defined]
    return __init__


def _sdk_classes() -> list[type]:
    """The installed SDK's exception classes, base first; empty without openai."""
    try:
        openai = importlib.import_module("openai")
    except ImportError:
        return []
    if hasattr(openai, "OpenAI"):
        module = importlib.import_module("openai._exceptions")
    else:
        module = importlib.import_module("openai.error")
    base = module.OpenAIError
    found = [base]
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, base) and value is not base:
            found.append(value)
    return found


def _teach_sdk() -> None:
    """Wrap the SDK exceptions' ``__init__`` so that each one made is adopted."""
    with _lock:
        if _patched:
            return
        for cls in _sdk_classes():
            own = cls.__dict__.get("__init__")
            if own is not None and hasattr(own, "__compat_original__"):
                continue
            if own is None and _patched:  # inherits a wrapped __init__ from a base
                continue
            _patched.append((cls, own))
            cls.__init__ = _wrap_init(own if own is not None else cls.__init__)  # type: ignore[misc]


def _untaught() -> None:
    with _lock:
        while _patched:
            cls, own = _patched.pop()
            if own is None:
                del cls.__init__  # type: ignore[misc]
            else:
                cls.__init__ = own  # type: ignore[misc]


def installed() -> bool:
    """Whether :func:`install` put ``openai.error`` in place."""
    return _shim is not None and sys.modules.get("openai.error") is _shim


def install() -> bool:
    """On openai>=1, make ``import openai.error`` and ``openai.error.X`` work again.

    The names are this module's, so unchanged legacy ``except`` clauses catch the
    v1+ SDK's errors (and compat's) by their legacy meaning, and handlers can
    read the legacy attributes. Idempotent; :func:`uninstall` reverses it.
    Returns whether the shim is in place. With openai<1 installed (it has its own
    ``openai.error``) it does nothing and warns; without openai it raises
    ``ImportError``.
    """
    global _shim
    import openai

    _teach_sdk()
    if not hasattr(openai, "OpenAI"):
        warnings.warn(
            "compat.legacy.install() does nothing: openai<1 is installed and has its own "
            "openai.error (compat.legacy's names catch its errors already)",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    with _lock:
        if installed():
            return True
        shim = types.ModuleType(
            "openai.error",
            "openai.error's names, provided by compat.legacy (compat.legacy.install()).",
        )
        for name in NAMES:
            setattr(shim, name, _BY_NAME[name])
        shim.__all__ = list(NAMES)  # type: ignore[attr-defined]
        sys.modules["openai.error"] = shim
        setattr(openai, "error", shim)  # noqa: B010 - openai>=1 declares no such attribute
        _shim = shim
    return True


def uninstall() -> None:
    """Undo :func:`install`: ``openai.error`` is gone again (idempotent).

    The SDK's exceptions stay adopted: ``compat.legacy``'s names keep catching them.
    """
    global _shim
    with _lock:
        if _shim is not None:
            if sys.modules.get("openai.error") is _shim:
                del sys.modules["openai.error"]
            openai = sys.modules.get("openai")
            if openai is not None and getattr(openai, "error", None) is _shim:
                del openai.error
            _shim = None


_teach_sdk()
