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
from typing import Any

from compat.adapters import azure
from compat.adapters._common import kind_by_class
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


def _provider() -> str:
    openai = sys.modules.get("openai")
    return "azure" if azure.is_azure_api_type(getattr(openai, "api_type", "")) else "openai"


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
        answer = read_answer(None, headers, error, sender=provider, message=message, hint=hint)
    return classify(answer)
