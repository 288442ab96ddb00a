"""Exceptions of the ``openai`` SDK from 1.0 on (1.x, 2.x, 3.x share one tree).

The tree, from ``openai._exceptions``::

    OpenAIError
    ├── APIError                      (message, body, code, param, type)
    │   ├── APIConnectionError        -> connection
    │   │   └── APITimeoutError       -> timeout
    │   ├── APIResponseValidationError-> bad_response
    │   └── APIStatusError            (status_code, response, request_id): the answer decides
    │       ├── BadRequestError 400, AuthenticationError 401 (OAuthError),
    │       ├── PermissionDeniedError 403, NotFoundError 404, ConflictError 409,
    │       └── UnprocessableEntityError 422, RateLimitError 429, InternalServerError 5xx
    ├── LengthFinishReasonError       -> output_truncated
    ├── ContentFilterFinishReasonError-> content_filtered
    ├── SubjectTokenProviderError     -> authentication
    ├── WebSocketConnectionClosedError-> connection
    └── WebSocketQueueFullError       -> unknown
    InvalidWebhookSignatureError (a ValueError) -> authentication

An ``APIStatusError`` is read like a raw answer: its status, its response's
headers and its body, so that a 429 is told apart as ``rate_limited``,
``quota_exceeded`` or ``overloaded`` by what the server said.
"""

from __future__ import annotations

from typing import Any

from compat._classify import build, classify
from compat._content_filter import read_content_filter
from compat._errors import LLMError
from compat._kinds import ErrorKind
from compat._parse import signal_headers
from compat.adapters._common import describe, kind_by_class
from compat.adapters.http import HTTPX_KINDS

K = ErrorKind

#: Kind of each class when no answer says more; ``None``: the answer decides.
CLASS_KINDS: dict[str, ErrorKind | None] = {
    "APITimeoutError": K.TIMEOUT,
    "APIConnectionError": K.CONNECTION,
    "APIResponseValidationError": K.BAD_RESPONSE,
    "LengthFinishReasonError": K.OUTPUT_TRUNCATED,
    "ContentFilterFinishReasonError": K.CONTENT_FILTERED,
    "OAuthError": K.AUTHENTICATION,
    "BadRequestError": K.INVALID_REQUEST,
    "AuthenticationError": K.AUTHENTICATION,
    "PermissionDeniedError": K.PERMISSION_DENIED,
    "NotFoundError": K.NOT_FOUND,
    "ConflictError": K.CONFLICT,
    "UnprocessableEntityError": K.INVALID_REQUEST,
    "RateLimitError": K.RATE_LIMITED,
    "InternalServerError": K.SERVER_ERROR,
    "APIStatusError": None,
    "SubjectTokenProviderError": K.AUTHENTICATION,
    "InvalidWebhookSignatureError": K.AUTHENTICATION,
    "WebSocketConnectionClosedError": K.CONNECTION,
    "WebSocketQueueFullError": K.UNKNOWN,
    "APIError": None,
    "OpenAIError": None,
}

_AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


def provider_of(exc: BaseException) -> str:
    """``"azure"`` when the request went to an Azure OpenAI endpoint, else ``"openai"``."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
        if url.host.endswith(_AZURE_HOSTS) or url.path.startswith("/openai/deployments/"):
            return "azure"
    except Exception:  # noqa: BLE001 - no request, or not an httpx URL
        pass
    return "openai"


def _dump(model: Any) -> Any:
    dump = getattr(model, "model_dump", None) or getattr(model, "dict", None)
    if dump is None:
        return None
    try:
        return dump()
    except Exception:  # noqa: BLE001 - keep the error even when the model cannot dump
        return None


def _azure_not_found_hint(exc: BaseException, body: dict[str, Any]) -> str | None:
    """Azure's bare "Resource not found" means a wrong api-version or path: name both."""
    text = body.get("message")
    if not isinstance(text, str) or "resource not found" not in text.lower():
        return None
    try:
        url = exc.request.url  # type: ignore[attr-defined]
        version = url.params.get("api-version")
        path = url.path
    except Exception:  # noqa: BLE001 - no request to read: no hint
        return None
    return f"{text} (check the api-version {version!r} and the path {path}: one of them is not served here)"


def translate(exc: BaseException) -> LLMError | None:
    """Translate an exception of the v1+ SDK; other exceptions give ``None``."""
    cls = type(exc)
    found, hint = kind_by_class(cls, CLASS_KINDS)
    if not found:
        return None
    provider = provider_of(exc)
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    message = getattr(exc, "message", None) or str(exc)

    raw_headers = getattr(response, "headers", None)
    if hint is K.BAD_RESPONSE:
        return build(K.BAD_RESPONSE, message, status, raw_headers, body, provider)
    if hint in (K.OUTPUT_TRUNCATED, K.CONTENT_FILTERED):
        completion = _dump(getattr(exc, "completion", None))
        if read_content_filter(completion):
            provider = "azure"  # only Azure reports per-category verdicts
        return build(
            hint,
            message,
            body=completion,
            provider=provider,
            code="length" if hint is K.OUTPUT_TRUNCATED else "content_filter",
        )
    if hint in (K.TIMEOUT, K.CONNECTION) and response is None:
        cause = exc.__cause__ or exc.__context__
        if hint is K.CONNECTION and cause is not None:
            # The SDK wraps every transport failure as "Connection error.";
            # its cause tells a timeout from a refused connection.
            found_cause, cause_kind = kind_by_class(type(cause), HTTPX_KINDS)
            if found_cause and cause_kind is K.TIMEOUT:
                hint = K.TIMEOUT
        text = message if cause is None else f"{message} ({describe(cause)})"
        return build(hint, text, provider=provider)

    if response is not None and status is not None:
        if provider == "azure" and status == 404 and isinstance(body, dict):
            explained = _azure_not_found_hint(exc, body)
            if explained is not None:
                body = {**body, "message": explained}
        headers = signal_headers(raw_headers)
        if isinstance(body, dict):
            document = body if isinstance(body.get("error"), dict) else {"error": body}
            return classify(
                status,
                headers,
                None,
                provider=None,
                fallback_provider=provider,
                message=message,
                hint=hint,
                document=document,
                parsed=True,
                keep_headers=raw_headers,
            )
        # The SDK keeps only the body's "error" member; when that was not an
        # object (a gateway envelope, an HTML page) read the whole answer again.
        try:
            content: Any = response.content
        except Exception:  # noqa: BLE001 - an unread stream has no content to give
            content = body
        return classify(
            status,
            headers,
            content,
            fallback_provider=provider,
            hint=hint,
            keep_headers=raw_headers,
        )

    # An APIError with no response: an error event in a stream, or a client-side failure.
    if isinstance(body, dict):
        document = body if "error" in body else {"error": body}
        return classify(
            None,
            {},
            None,
            fallback_provider=provider,
            message=message,
            hint=hint,
            document=document,
            parsed=True,
        )
    return (
        build(hint or K.UNKNOWN, message, provider=provider)
        if hint is not None
        else classify(
            None,
            {},
            None,
            fallback_provider=provider,
            message=message,
            hint=None,
            document={"error": {"message": message}},
            parsed=True,
        )
    )
