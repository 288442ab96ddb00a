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

The SDK keeps only the body's ``error`` member; a body with more at its top
level (a request id, a family's mark) or in another shape is read again from the
raw answer. Who sent it is what the request's URL says (an Azure endpoint, or
OpenAI's own host), else what the answer shows.

This module also owns OpenAI's wire format (:data:`SOURCE`): the codes, types
and phrases of OpenAI's error objects, which the legacy SDK and most
OpenAI-compatible servers send too; an error quoted as JSON inside a message
(``Error from provider: {"error": {...}}``, ``AnthropicException - b'{...}'``),
whose innermost error decides; and the tokens-per-minute wording whose
"Requested" over the "Limit" says a retry cannot help. Each family of
OpenAI-compatible servers has its own module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from compat.adapters import azure
from compat.adapters._common import describe, kind_by_class
from compat.adapters.http import HTTPX_KINDS
from compat.extend import (
    MAX_PARSED_BODY,
    ErrorKind,
    LLMError,
    Row,
    Source,
    classify,
    find_error,
    make_error,
    read_answer,
)

K = ErrorKind

#: How far into a message a quoted error's opening brace is looked for.
_QUOTED_WITHIN = 2000
_DECODER = json.JSONDecoder()


def quoted_error(error: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The error an error's message quotes as JSON ("Error from provider: {...}", a proxy's
    "AnthropicException - b'{...}'", an ``error`` string that is JSON), else ``None``.

    The first ``{`` of the message is read as one JSON value, once: time linear in the
    message, and a message that only mentions a brace costs one failed parse.
    """
    message = error.get("message")
    if type(message) is not str:
        return None
    at = message.find("{", 0, _QUOTED_WITHIN)
    if at < 0:
        return None
    try:
        document, _ = _DECODER.raw_decode(message, at)
    except (ValueError, RecursionError):
        return None
    return find_error(document, None) if type(document) is dict else None


# "on tokens per min (TPM): Limit 7000, Used 0, Requested ~12903" (OpenAI's wording,
# which Groq and others copy): read where the phrase was found, in time linear in the text.
_TPM_FIGURES = re.compile(r"limit:? ?(\d{1,12}),(?: used:? ?\d{1,12},)? requested:? ?~?(\d{1,12})")


def request_over_limit(lower: str) -> bool | None:
    """``False`` (no retry can help) for a rate limit whose one request asks for more
    tokens per minute than the whole limit allows; else ``None``."""
    at = lower.find("(tpm)")
    if at < 0:
        return None
    figures = _TPM_FIGURES.search(lower, at, at + 120)
    if figures is None:
        return None
    limit, requested = int(figures.group(1)), int(figures.group(2))
    return False if requested > limit else None


SOURCE = Source(
    name="openai",
    # Codes of OpenAI's error objects (platform.openai.com/docs/guides/error-codes),
    # and specific types that decide on their own.
    codes={
        # quota and billing
        "insufficient_quota": Row(K.QUOTA_EXCEEDED),
        "billing_hard_limit_reached": Row(K.QUOTA_EXCEEDED),
        "billing_not_active": Row(K.QUOTA_EXCEEDED),
        "quota_exceeded": Row(K.QUOTA_EXCEEDED),
        # rate limits
        "rate_limit_exceeded": Row(K.RATE_LIMITED),
        "too_many_requests": Row(K.RATE_LIMITED),
        "rate_limit_error": Row(K.RATE_LIMITED),
        # request shape
        "context_length_exceeded": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "string_above_max_length": Row(K.INVALID_REQUEST),
        "invalid_prompt": Row(K.INVALID_REQUEST),
        "unsupported_parameter": Row(K.INVALID_REQUEST),
        "unsupported_value": Row(K.INVALID_REQUEST),
        "invalid_value": Row(K.INVALID_REQUEST),
        "request_too_large": Row(K.INVALID_REQUEST),
        # content filters
        "content_filter": Row(K.CONTENT_FILTERED),
        "content_policy_violation": Row(K.CONTENT_FILTERED),
        "content_filtered": Row(K.CONTENT_FILTERED),
        # existence
        "model_not_found": Row(K.NOT_FOUND),
        "not_found_error": Row(K.NOT_FOUND),
        # credentials and permission
        "invalid_api_key": Row(K.AUTHENTICATION),
        "invalid_authentication": Row(K.AUTHENTICATION),
        "invalid_issuer": Row(K.AUTHENTICATION),
        "expired_token": Row(K.AUTHENTICATION),
        "no_organization": Row(K.AUTHENTICATION),
        "invalid_organization": Row(K.AUTHENTICATION),
        "authentication_error": Row(K.AUTHENTICATION),
        "unsupported_country_region_territory": Row(K.PERMISSION_DENIED),
        "country_not_supported": Row(K.PERMISSION_DENIED),
        "account_deactivated": Row(K.PERMISSION_DENIED),
        "access_terminated": Row(K.PERMISSION_DENIED),
        "model_access_denied": Row(K.PERMISSION_DENIED),
        "permission_error": Row(K.PERMISSION_DENIED),
        # the service
        "engine_overloaded": Row(K.OVERLOADED),
        "model_overloaded": Row(K.OVERLOADED),
        "server_error": Row(K.SERVER_ERROR),
        "internal_error": Row(K.SERVER_ERROR),
        "timeout": Row(K.TIMEOUT),
        # a Batch API request the batch's completion window closed on before it ran
        "batch_expired": Row(K.TIMEOUT),
        "request_timeout": Row(K.TIMEOUT),
    },
    # Generic `type` values: they refine an answer that has no status.
    types={
        "tokens": Row(K.RATE_LIMITED),
        "requests": Row(K.RATE_LIMITED),
        "tokens_usage_based": Row(K.RATE_LIMITED),
        "server_error": Row(K.SERVER_ERROR),
        "api_error": Row(K.SERVER_ERROR),
        "invalid_request_error": Row(K.INVALID_REQUEST),
        "request_forbidden": Row(K.PERMISSION_DENIED),
        "access_denied": Row(K.PERMISSION_DENIED),
    },
    # Text that names the failure outright (lower case).
    phrases={
        "maximum context length": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "context_length_exceeded": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "context length exceeded": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "reduce the length of the messages": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "exceeds the context window": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "input is too long for requested model": Row(K.CONTEXT_LENGTH_EXCEEDED),
        # other servers' wordings, as clients quote them (LiteLLM's exception mapping)
        "maximum context limit": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "longer than the model's context length": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "exceeded your current quota": Row(K.QUOTA_EXCEEDED),
        "check your plan and billing": Row(K.QUOTA_EXCEEDED),
        "billing hard limit": Row(K.QUOTA_EXCEEDED),
        "insufficient_quota": Row(K.QUOTA_EXCEEDED),
        "out of credits": Row(K.QUOTA_EXCEEDED),
        # a request that on its own exceeds a per-minute limit can never pass
        "request too large for": Row(K.RATE_LIMITED, retryable=False),
        "overloaded": Row(K.OVERLOADED),
        "the server had an error": Row(K.SERVER_ERROR),
        "safety system": Row(K.CONTENT_FILTERED),
        "content filter": Row(K.CONTENT_FILTERED),
        "content_filter": Row(K.CONTENT_FILTERED),
        "content_policy_violation": Row(K.CONTENT_FILTERED),
        # a project or an account that may not use what it asked for, whatever the code says
        "does not have access to model": Row(K.PERMISSION_DENIED),
        "deactivated account": Row(K.PERMISSION_DENIED),
        "account associated with this api key has been deactivated": Row(K.PERMISSION_DENIED),
        # OpenAI's words for a wrong key, which servers that copy them send under 400 (xAI)
        "incorrect api key provided": Row(K.AUTHENTICATION),
    },
    nested=(quoted_error,),
    refine={K.RATE_LIMITED: (request_over_limit,)},
)

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


#: OpenAI's own API hosts: an answer from one of them is OpenAI's whatever it says.
OPENAI_HOSTS = ("api.openai.com",)


def provider_of(exc: BaseException) -> str | None:
    """``"azure"`` when the request went to an Azure OpenAI endpoint, ``"openai"`` when it
    went to OpenAI's own host, else ``None``: the answer tells (a client pointed at
    another server through ``base_url``)."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
        parsed = getattr(url, "_uri_reference", None)  # httpx's parsed form: nothing to decode
        if parsed is not None:
            host, path = parsed.host, parsed.path
        else:
            host, path = url.host, url.path
        if azure.is_azure_url(host, path):
            return "azure"
        return "openai" if host in OPENAI_HOSTS else None
    except Exception:  # noqa: BLE001 - no request, or not an httpx URL
        return None


def _only_error(content: bytes) -> bool:
    """Whether a raw JSON body is ``{"error": {...}}`` and nothing else (read from its two
    ends, without parsing): then the SDK's ``body`` is all of it."""
    head = content[:32].lstrip()
    if head[:1] != b"{" or not head[1:].lstrip().startswith(b'"error"'):
        return False
    tail = content[-32:].rstrip()
    return tail.endswith(b"}") and tail[:-1].rstrip().endswith(b"}")


def _dump(model: Any) -> Any:
    dump = getattr(model, "model_dump", None) or getattr(model, "dict", None)
    if dump is None:
        return None
    try:
        return dump()
    except Exception:  # noqa: BLE001 - keep the error even when the model cannot dump
        return None


def _not_found_hint(exc: BaseException, body: dict[str, Any]) -> str | None:
    """Azure's bare "Resource not found", with the api-version and path it was sent to."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
        version = url.params.get("api-version")
        path = url.path
    except Exception:  # noqa: BLE001 - no request to read: no hint
        return None
    return azure.not_found_hint(body.get("message"), version, path)


def _content(response: Any) -> Any:
    try:
        return response.content
    except Exception:  # noqa: BLE001 - an unread stream has no content to give
        return None


#: kind_by_class's answer for each class met, and the hints whose answer is not read.
_KNOWN: dict[type, tuple[bool, ErrorKind | None]] = {}
_NOT_READ = frozenset({K.BAD_RESPONSE, K.OUTPUT_TRUNCATED, K.CONTENT_FILTERED})


def translate(exc: BaseException) -> LLMError | None:
    """Translate an exception of the v1+ SDK; other exceptions give ``None``."""
    cls = type(exc)
    known = _KNOWN.get(cls)
    if known is None:
        known = _KNOWN[cls] = kind_by_class(cls, CLASS_KINDS)
    found, hint = known
    if not found:
        return None
    provider = provider_of(exc)
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)

    if response is not None and status is not None and hint not in _NOT_READ:
        headers = response.headers
        content = _content(response)
        size = len(content) if type(content) is bytes else None
        if (
            type(body) is dict
            and (size is None or size <= MAX_PARSED_BODY)
            and (not content or _only_error(content))
        ):
            if status == 404 and provider == "azure":
                explained = _not_found_hint(exc, body)
                if explained is not None:
                    body = {**body, "message": explained}
            document = body if type(body.get("error")) is dict else {"error": body}
            message = getattr(exc, "message", None) or str(exc)
            return classify(
                read_answer(
                    status,
                    headers,
                    document,
                    sender=provider,
                    message=message,
                    hint=hint,
                    size=size,
                )
            )
        # The SDK keeps only the body's "error" member; when that was not an
        # object (a gateway envelope, an HTML page), the body holds more than it (a
        # request id, a family's marks) or another shape, or the body is too large to
        # keep whole, the answer is read again from its raw content.
        raw = content if content is not None else body
        return classify(read_answer(status, headers, raw, sender=provider, hint=hint))

    message = getattr(exc, "message", None) or str(exc)
    # No answer to read: the failure is the client's, and the SDK is OpenAI's.
    client = provider or "openai"
    if hint is K.BAD_RESPONSE:
        headers = getattr(response, "headers", None)
        return make_error(K.BAD_RESPONSE, message, status, headers, body, client)
    if hint in (K.OUTPUT_TRUNCATED, K.CONTENT_FILTERED):
        completion = _dump(getattr(exc, "completion", None))
        if azure.read_content_filter(completion):
            client = "azure"  # only Azure reports per-category verdicts
        return make_error(
            hint,
            message,
            body=completion,
            provider=client,
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
        host = _host(getattr(exc, "request", None))
        if host:
            text = f"{text} [host {host}]"
        return make_error(hint, text, provider=client)

    # An APIError with no response: an error event in a stream, or a client-side failure.
    if isinstance(body, dict):
        document = body if "error" in body else {"error": body}
        return classify(
            read_answer(None, None, document, sender=provider, message=message, hint=hint)
        )
    if hint is not None:
        return make_error(hint, message, provider=client)
    return classify(read_answer(None, None, {"error": {"message": message}}, sender=provider))


def _host(request: Any) -> str:
    """The scheme, host and port a failed request went to (never its user-info, path or
    query): which of several servers could not be reached."""
    try:
        url = request.url
        scheme, host, port = str(url.scheme), str(url.host), url.port
    except Exception:  # noqa: BLE001 - no request, or not an httpx one
        return ""
    if not host:
        return ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as a URL writes it
    return f"{scheme}://{host}" + (f":{port}" if port else "")
