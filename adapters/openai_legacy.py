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
errors are Azure's.
"""

from __future__ import annotations

import sys

from compat._classify import classify
from compat._errors import LLMError
from compat._kinds import ErrorKind
from compat._parse import signal_headers
from compat.adapters._common import kind_by_class

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
    api_type = str(getattr(openai, "api_type", "") or "").lower()
    return "azure" if api_type.startswith("azure") else "openai"


def translate(exc: BaseException) -> LLMError | None:
    """Translate an exception of ``openai.error``; other exceptions give ``None``."""
    found, hint = kind_by_class(type(exc), CLASS_KINDS)
    if not found:
        return None
    status = getattr(exc, "http_status", None)
    raw_headers = getattr(exc, "headers", None)
    headers = signal_headers(raw_headers)
    document = getattr(exc, "json_body", None)
    message = getattr(exc, "user_message", None) or str(exc)
    provider = _provider()
    if hint in _CLASS_FIRST and status is None:
        document = {"error": {"message": message}}
    if document is not None:
        return classify(
            status,
            headers,
            None,
            fallback_provider=provider,
            message=message,
            hint=hint,
            document=document,
            parsed=True,
            keep_headers=raw_headers,
        )
    if status is not None:
        raw = getattr(exc, "http_body", None)
        return classify(
            status, headers, raw, fallback_provider=provider, hint=hint, keep_headers=raw_headers
        )
    return classify(
        None,
        headers,
        None,
        fallback_provider=provider,
        message=message,
        hint=hint,
        document={"error": {"message": message, "code": getattr(exc, "code", None)}},
        parsed=True,
        keep_headers=raw_headers,
    )
