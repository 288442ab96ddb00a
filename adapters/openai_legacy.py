"""Exceptions of the legacy ``openai`` SDK (``openai<1``, module ``openai.error``).

The tree of openai 0.28.1::

    OpenAIError                 (http_status, json_body, headers, code, request_id)
    ├── APIError                -> the answer decides, else server_error
    ├── TryAgain                -> conflict
    ├── Timeout                 -> timeout
    ├── APIConnectionError      -> connection
    ├── InvalidRequestError     -> invalid_request (the answer may say more)
    ├── AuthenticationError     -> authentication
    ├── PermissionError         -> permission_denied
    ├── RateLimitError          -> rate_limited, or quota_exceeded by its code
    ├── ServiceUnavailableError -> overloaded
    ├── InvalidAPIType          -> invalid_request
    └── SignatureVerificationError -> authentication

The SDK is configured globally: when ``openai.api_type`` is an Azure type, the
errors are Azure's. The answers themselves are OpenAI's (or Azure's) wire format,
whose rows live in :mod:`compat.adapters.openai_v1` (and :mod:`compat.adapters.azure`);
this module owns the legacy SDK's classes.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from compat.adapters import azure
from compat.adapters._common import kind_by_class
from compat.adapters.openai_v1 import OPENAI_HOSTS
from compat.extend import MAX_PARSED_BODY, ErrorKind, LLMError, classify, read_answer

K = ErrorKind

CLASS_KINDS: dict[str, ErrorKind | None] = {
    "TryAgain": K.CONFLICT,
    "Timeout": K.TIMEOUT,
    "APIConnectionError": K.CONNECTION,
    "InvalidRequestError": K.INVALID_REQUEST,
    "AuthenticationError": K.AUTHENTICATION,
    "PermissionError": K.PERMISSION_DENIED,
    "RateLimitError": K.RATE_LIMITED,
    "ServiceUnavailableError": K.OVERLOADED,
    "InvalidAPIType": K.INVALID_REQUEST,
    "SignatureVerificationError": K.AUTHENTICATION,
    "APIError": K.SERVER_ERROR,
    "OpenAIError": None,
}

# Classes whose own meaning outranks a generic status: the SDK raised them
# on purpose, without an HTTP answer or regardless of it.
_CLASS_FIRST = frozenset({K.TIMEOUT, K.CONNECTION, K.CONFLICT})


def _provider() -> str | None:
    """``"azure"`` for the SDK configured for Azure, ``"openai"`` when it sends to OpenAI's
    own host, else ``None``: the answer tells (``openai.api_base`` set to another server)."""
    openai = sys.modules.get("openai")
    if azure.is_azure_api_type(getattr(openai, "api_type", "")):
        return "azure"
    try:
        host = urlsplit(str(getattr(openai, "api_base", "") or "")).hostname
    except ValueError:
        return None
    return "openai" if host in OPENAI_HOSTS else None


def translate(exc: BaseException) -> LLMError | None:
    """Translate an exception of ``openai.error``; other exceptions give ``None``."""
    found, hint = kind_by_class(type(exc), CLASS_KINDS)
    if not found:
        return None
    status = getattr(exc, "http_status", None)
    headers = getattr(exc, "headers", None)
    document = getattr(exc, "json_body", None)
    message = getattr(exc, "user_message", None) or str(exc)
    provider = _provider()
    raw: Any = getattr(exc, "http_body", None)
    size = len(raw) if isinstance(raw, (str, bytes)) else None
    if hint in _CLASS_FIRST and status is None:
        document = {"error": {"message": message}}
    elif size is not None and size > MAX_PARSED_BODY:
        document = None  # too large to keep whole: the raw body is read from its prefix
    if document is not None:
        answer = read_answer(
            status, headers, document, sender=provider, message=message, hint=hint, size=size
        )
    elif status is not None:
        answer = read_answer(status, headers, raw, sender=provider, hint=hint)
    else:
        error = {"error": {"message": message, "code": getattr(exc, "code", None)}}
        answer = read_answer(
            None, headers, error, sender=provider or "openai", message=message, hint=hint
        )
    return classify(answer)


#: Where openai 0.28.1 reads an error answer: an ``error`` that is not an object (a
#: string, a list, null) makes it fail there with an AttributeError or TypeError of its own.
_READER = ("handle_error_response", ("openai", "api_requestor.py"))


def translate_crash(exc: BaseException) -> LLMError | None:
    """The answer the legacy SDK failed to read, when *exc* (any built-in exception) was
    raised inside its error handling; ``None`` for every other exception.

    openai 0.28.1 calls ``error_data.get(...)`` on the body's ``error`` whatever it is,
    so an answer such as ``{"error": "model not found"}`` escapes as ``AttributeError``:
    the answer it was reading is still in that frame, and is read here.
    """
    if not isinstance(exc, (AttributeError, TypeError)):
        return None
    tb: TracebackType | None = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    name, (package, module) = _READER
    filename = frame.f_code.co_filename.replace("\\", "/")
    if frame.f_code.co_name != name or not filename.endswith(f"{package}/{module}"):
        return None
    found = frame.f_locals
    status, headers = found.get("rcode"), found.get("rheaders")
    body = found.get("resp")
    if not isinstance(body, (dict, list)):
        body = found.get("rbody")
    return classify(read_answer(status, headers, body, sender=_provider()))
