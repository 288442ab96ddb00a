"""Reading an answer into a kind: the tables, and the one function that applies them.

The order is *specific before generic*:

1. a specific code in the body (``error.innererror.code``, ``error.code``,
   ``error.type``) found in :data:`CODE_KINDS`;
2. a message that names the failure outright (:data:`STRONG_MESSAGES`), because
   real servers send contradictory statuses (a 429 whose text says the server
   failed, a 503 that says the engine is overloaded);
3. the HTTP status (:data:`STATUS_KINDS`, then the 4xx / 5xx ranges);
4. a generic ``type`` (:data:`TYPE_KINDS`) and weaker message hints, for answers
   with no status (stream events, SDK errors without a response);
5. what the caller knew (the SDK exception class), else ``unknown``, or
   ``bad_response`` for a success status whose body cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from compat._errors import ERROR_CLASSES, LLMError
from compat._kinds import RETRYABLE_KINDS, ErrorKind
from compat._parse import (
    MAX_KEPT_TEXT,
    MAX_PARSED_BODY,
    decode_body,
    headers_retry_after,
    ratelimit_reset,
    request_id,
    retry_after_from_message,
    signal_headers,
)
from compat.adapters import gateway as _envelopes

K = ErrorKind

#: Provider codes (and specific ``type`` values) that decide the kind on their own.
CODE_KINDS: dict[str, ErrorKind] = {
    # quota and billing
    "insufficient_quota": K.QUOTA_EXCEEDED,
    "insufficient_user_quota": K.QUOTA_EXCEEDED,
    "billing_hard_limit_reached": K.QUOTA_EXCEEDED,
    "billing_not_active": K.QUOTA_EXCEEDED,
    "quota_exceeded": K.QUOTA_EXCEEDED,
    "insufficientquota": K.QUOTA_EXCEEDED,
    # rate limits
    "rate_limit_exceeded": K.RATE_LIMITED,
    "ratelimitexceeded": K.RATE_LIMITED,
    "too_many_requests": K.RATE_LIMITED,
    "rate_limit_error": K.RATE_LIMITED,
    # request shape
    "context_length_exceeded": K.CONTEXT_LENGTH_EXCEEDED,
    "string_above_max_length": K.INVALID_REQUEST,
    "invalid_prompt": K.INVALID_REQUEST,
    "operationnotsupported": K.INVALID_REQUEST,
    "unsupported_parameter": K.INVALID_REQUEST,
    "unsupported_value": K.INVALID_REQUEST,
    "invalid_value": K.INVALID_REQUEST,
    "invalidpayload": K.INVALID_REQUEST,
    "request_too_large": K.INVALID_REQUEST,
    # content filters
    "content_filter": K.CONTENT_FILTERED,
    "content_policy_violation": K.CONTENT_FILTERED,
    "responsibleaipolicyviolation": K.CONTENT_FILTERED,
    "content_filtered": K.CONTENT_FILTERED,
    # existence
    "model_not_found": K.NOT_FOUND,
    "deploymentnotfound": K.NOT_FOUND,
    "resourcenotfound": K.NOT_FOUND,
    "not_found_error": K.NOT_FOUND,
    # credentials and permission
    "invalid_api_key": K.AUTHENTICATION,
    "invalid_authentication": K.AUTHENTICATION,
    "invalid_issuer": K.AUTHENTICATION,
    "expired_token": K.AUTHENTICATION,
    "invalidauthenticationtoken": K.AUTHENTICATION,
    "invalidauthenticationtokenaudience": K.AUTHENTICATION,
    "expiredauthenticationtoken": K.AUTHENTICATION,
    "no_organization": K.AUTHENTICATION,
    "invalid_organization": K.AUTHENTICATION,
    "authentication_error": K.AUTHENTICATION,
    "unsupported_country_region_territory": K.PERMISSION_DENIED,
    "country_not_supported": K.PERMISSION_DENIED,
    "account_deactivated": K.PERMISSION_DENIED,
    "access_terminated": K.PERMISSION_DENIED,
    "model_access_denied": K.PERMISSION_DENIED,
    "permission_error": K.PERMISSION_DENIED,
    "permissiondenied": K.PERMISSION_DENIED,
    "authorizationfailure": K.PERMISSION_DENIED,
    # the service
    "engine_overloaded": K.OVERLOADED,
    "model_overloaded": K.OVERLOADED,
    "overloaded_error": K.OVERLOADED,
    "serviceunavailable": K.OVERLOADED,
    "server_error": K.SERVER_ERROR,
    "internal_error": K.SERVER_ERROR,
    "timeout": K.TIMEOUT,
    "request_timeout": K.TIMEOUT,
}

#: What a status means when nothing more specific was said.
STATUS_KINDS: dict[int, ErrorKind] = {
    400: K.INVALID_REQUEST,
    401: K.AUTHENTICATION,
    402: K.QUOTA_EXCEEDED,
    403: K.PERMISSION_DENIED,
    404: K.NOT_FOUND,
    405: K.INVALID_REQUEST,
    407: K.CONNECTION,
    408: K.TIMEOUT,
    409: K.CONFLICT,
    410: K.NOT_FOUND,
    413: K.INVALID_REQUEST,
    414: K.INVALID_REQUEST,
    415: K.INVALID_REQUEST,
    422: K.INVALID_REQUEST,
    425: K.CONFLICT,
    429: K.RATE_LIMITED,
    499: K.TIMEOUT,
    500: K.SERVER_ERROR,
    501: K.INVALID_REQUEST,
    502: K.SERVER_ERROR,
    503: K.OVERLOADED,
    504: K.TIMEOUT,
    520: K.SERVER_ERROR,
    521: K.CONNECTION,
    522: K.TIMEOUT,
    523: K.CONNECTION,
    524: K.TIMEOUT,
    525: K.CONNECTION,
    526: K.CONNECTION,
    529: K.OVERLOADED,
    598: K.TIMEOUT,
    599: K.TIMEOUT,
}

#: Generic ``type`` values: they refine an answer that has no status.
TYPE_KINDS: dict[str, ErrorKind] = {
    "tokens": K.RATE_LIMITED,
    "requests": K.RATE_LIMITED,
    "tokens_usage_based": K.RATE_LIMITED,
    "server_error": K.SERVER_ERROR,
    "api_error": K.SERVER_ERROR,
    "invalid_request_error": K.INVALID_REQUEST,
    "request_forbidden": K.PERMISSION_DENIED,
    "access_denied": K.PERMISSION_DENIED,
}

# Message texts that name the failure outright. Each entry is
# (substrings of the lower-cased message, any of which matches; kind; retryable override).
STRONG_MESSAGES: tuple[tuple[tuple[str, ...], ErrorKind, bool | None], ...] = (
    (
        (
            "maximum context length",
            "context_length_exceeded",
            "context length exceeded",
            "reduce the length of the messages",
            "prompt is too long",
            "exceeds the context window",
            "input is too long for requested model",
        ),
        K.CONTEXT_LENGTH_EXCEEDED,
        None,
    ),
    (
        (
            "exceeded your current quota",
            "check your plan and billing",
            "billing hard limit",
            "insufficient_quota",
            "credit balance is too low",
            "insufficient balance",
            "out of credits",
            "out of call volume quota",
            "quota will be replenished",
        ),
        K.QUOTA_EXCEEDED,
        None,
    ),
    (("request too large for",), K.RATE_LIMITED, False),
    (("overloaded",), K.OVERLOADED, None),
    (("the server had an error", "internal server error"), K.SERVER_ERROR, None),
    (
        ("safety system", "content management policy", "content filter", "content_filter"),
        K.CONTENT_FILTERED,
        None,
    ),
)

# Hints that only speak when nothing else did (no code, no status).
WEAK_MESSAGES: tuple[tuple[tuple[str, ...], ErrorKind], ...] = (
    (("rate limit", "too many requests"), K.RATE_LIMITED),
    (("timed out", "timeout"), K.TIMEOUT),
    (
        (
            "api key",
            "api_key",
            "incorrect api key",
            "authentication",
            "unauthorized",
            "access denied due to invalid subscription key",
        ),
        K.AUTHENTICATION,
    ),
    (("does not exist", "not found"), K.NOT_FOUND),
    (("temporarily unavailable", "service unavailable", "maintenance"), K.OVERLOADED),
    (("connection", "network"), K.CONNECTION),
)

_SCANNED = 2000
# The message tables flattened to (needle, kind[, override]) for one plain loop.
_STRONG_FLAT = tuple(
    (needle, kind, override) for needles, kind, override in STRONG_MESSAGES for needle in needles
)
_WEAK_FLAT = tuple((needle, kind) for needles, kind in WEAK_MESSAGES for needle in needles)
_AZURE_CODES = frozenset(
    {
        "DeploymentNotFound",
        "OperationNotSupported",
        "ResponsibleAIPolicyViolation",
        "InvalidPayload",
    }
)
_AZURE_HEADERS = (
    "apim-request-id",
    "x-ms-region",
    "x-ms-client-request-id",
    "azureml-model-session",
)
_REQUEST_ID_AT = re.compile(r"[A-Za-z0-9_\-]{6,}")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def _code_kind(value: Any) -> ErrorKind | None:
    if value is None:
        return None
    if type(value) is str:
        return CODE_KINDS.get(value.lower())
    if isinstance(value, (dict, list)):
        return None
    return CODE_KINDS.get(str(value).lower())


def find_error(document: Any, status: int | None) -> dict[str, Any] | None:
    """The error object inside a parsed body, or ``None`` when it carries none.

    Only the top level is searched (plus a failed Responses-API object): an
    ``error`` nested inside a normal result, such as a streamed chunk's content
    filter result, is not a failure.
    """
    if isinstance(document, list):
        document = next((item for item in document if isinstance(item, dict)), None)
    if not isinstance(document, dict):
        return None
    error = document.get("error")
    if isinstance(error, dict):
        return error
    if isinstance(error, list):
        return next((item for item in error if isinstance(item, dict)), None)
    if isinstance(error, str) and error:
        found = {"message": error}
        for key in ("code", "type", "param"):
            if key in document:
                found[key] = document[key]
        description = document.get("error_description")
        if isinstance(description, str):
            found["message"] = f"{error}: {description}"
            found.setdefault("code", error)
        return found
    response = document.get("response")
    if isinstance(response, dict) and response.get("status") == "failed":
        inner = response.get("error")
        if isinstance(inner, dict):
            return inner
    if status is not None and status >= 400 and not error:
        # Non-OpenAI shapes from proxies and frameworks: {"message": ...},
        # {"detail": ...}, Azure API Management's {"statusCode": 401, "message": ...}.
        for key in ("message", "detail", "title", "msg"):
            text = document.get(key)
            if isinstance(text, str) and text:
                return {"message": text, "code": document.get("code")}
    return None


def _text_message(text: str, status: int | None, truncated: bool = False) -> str:
    """A one-line message for a body that was not JSON (HTML page, plain text), or that
    was too long to be read as JSON."""
    where = f"HTTP {status}" if status is not None else "An answer"
    if truncated and text.lstrip()[:1] in ("{", "["):
        snippet = _SPACES.sub(" ", text).strip()[:200]
        return f"{where} with a body over {MAX_PARSED_BODY // 1024} KB, not read as JSON: {snippet}"
    snippet = ""
    if "<" in text:
        for pattern in (_HTML_TITLE, _HTML_H1):
            match = pattern.search(text)
            if match:
                snippet = _SPACES.sub(" ", _TAGS.sub("", match.group(1))).strip()
                if snippet:
                    break
        what = "an HTML page"
    else:
        what = "a text body"
    if not snippet:
        snippet = _SPACES.sub(" ", _TAGS.sub(" ", text)).strip()[:200]
    return f"{where} with {what} instead of JSON: {snippet}" if snippet else f"{where}: {what}"


def is_azure(headers: Mapping[str, str], error: Mapping[str, Any] | None) -> bool:
    """Whether the answer bears Azure OpenAI's marks: its headers, ``innererror``, its codes."""
    for name in _AZURE_HEADERS:
        if name in headers:
            return True
    if error is None:
        return False
    if "innererror" in error or "inner_error" in error:
        return True
    code = error.get("code")
    return isinstance(code, str) and code in _AZURE_CODES


def _all_filtered(document: Any) -> bool:
    """Whether a completion's every choice stopped at the content filter."""
    if type(document) is not dict:
        return False
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(isinstance(c, dict) and c.get("finish_reason") == "content_filter" for c in choices)


def _filtered_completion(
    status: int | None,
    headers: Mapping[str, str],
    document: dict[str, Any],
    keep_headers: Any,
    provider: str | None,
    fallback_provider: str | None,
) -> LLMError:
    from compat._content_filter import read_content_filter

    names = sorted({name for r in read_content_filter(document) for name in r.filtered})
    detail = f" (filtered: {', '.join(names)})" if names else ""
    if provider is None:
        provider = (
            "azure"
            if (headers and is_azure(headers, None)) or names
            else fallback_provider or "openai"
        )
    return ERROR_CLASSES[ErrorKind.CONTENT_FILTERED]._make(
        {
            "kind": ErrorKind.CONTENT_FILTERED,
            "_message": f"The completion was stopped by the content filter{detail}",
            "retryable": False,
            "status": status,
            "code": "content_filter",
            "request_id": request_id(headers) if headers else None,
            "provider": provider,
            "_raw_headers": headers if keep_headers is None else keep_headers,
            "_raw_body": document,
        }
    )


def classify(
    status: int | None,
    headers: Mapping[str, str],
    body: Any,
    *,
    provider: str | None = None,
    fallback_provider: str | None = None,
    message: str | None = None,
    hint: ErrorKind | None = None,
    document: Any = None,
    parsed: bool = False,
    keep_headers: Any = None,
    kind_override: ErrorKind | None = None,
    envelope: dict[str, Any] | None = None,
    billed: bool | None = None,
    request_id_field: str = "request_id",
) -> LLMError | None:
    """Build the common error for one answer; ``None`` when the answer is a success.

    *headers* holds the decision headers with lower-case names (see
    :func:`compat._parse.signal_headers`); *keep_headers*, all of them as received,
    is what the error shows (default: *headers*). *body* is the raw body (bytes,
    str or parsed JSON) unless *parsed* is true, in which case *document* is its
    parsed form. *message* and *hint* are what an SDK exception already said;
    *fallback_provider* names the sender when the answer's shape does not.
    *kind_override*, *envelope* and *billed* are set when a gateway envelope was
    read: the envelope's code decides the kind, the whole envelope is the body.
    """
    text: str | None = None
    truncated = False
    if not parsed:
        document, text, truncated = decode_body(body)
        if text is not None and not text.strip():
            text = None
    if status is not None and not isinstance(status, int):
        try:
            status = int(status)
        except (TypeError, ValueError):
            status = None
    if envelope is None and type(document) is dict:
        wrapped = _envelopes.match(document, provider)
        if wrapped is not None:
            table, gateway_code = wrapped
            return _read_envelope(
                table, gateway_code, status, headers, document, keep_headers, hint
            )
    error = find_error(document, status)
    failed_status = status is not None and status >= 400
    if error is None and not failed_status and hint is None and _all_filtered(document):
        return _filtered_completion(
            status, headers, document, keep_headers, provider, fallback_provider
        )
    if error is None and not failed_status and hint is None:
        if text is None and not truncated:
            return None
        if status is not None and 200 <= status < 300 and document is None:
            if text is None:
                return None
            return build(
                K.BAD_RESPONSE,
                _text_message(text, status, truncated),
                status,
                headers if keep_headers is None else keep_headers,
                text,
                provider or fallback_provider or "unknown",
            )
    code = type_ = param = inner_code = None
    text_message: str | None = None
    if error is not None:
        code = error.get("code")
        type_ = error.get("type")
        param = error.get("param")
        inner = error.get("innererror") or error.get("inner_error")
        if isinstance(inner, dict):
            inner_code = inner.get("code")
        raw_message = error.get("message")
        if isinstance(raw_message, str) and raw_message:
            text_message = raw_message
        elif raw_message is not None:
            text_message = str(raw_message)
        if isinstance(code, int) and status is None and 400 <= code < 600:
            status = code
        elif isinstance(code, str) and status is None and code.isdigit() and len(code) == 3:
            status = int(code)
    if text_message is None:
        if message:
            text_message = message
        elif text is not None:
            text_message = _text_message(text, status, truncated)
        elif status is not None:
            empty = body is None or body == b"" or body == ""
            text_message = f"HTTP {status} with {'an empty body' if empty else 'no error message'}"
        else:
            text_message = "The service answered with an error and no message"
    # What names a failure is said early; a message of 50 KB is not searched whole.
    lower = text_message[:_SCANNED].lower()

    kind = kind_override or _code_kind(inner_code) or _code_kind(code)
    if kind is None and type_ is not None and str(type_).lower() not in TYPE_KINDS:
        kind = _code_kind(type_)
    retryable: bool | None = None
    if kind is None:
        for needle, candidate, override in _STRONG_FLAT:
            if needle in lower:
                kind, retryable = candidate, override
                break
    elif kind is K.RATE_LIMITED and "request too large for" in lower:
        retryable = False
    if kind is None and status is not None and status >= 400:
        kind = STATUS_KINDS.get(status)
        if kind is None:
            kind = K.INVALID_REQUEST if status < 500 else K.SERVER_ERROR
    if kind is None and type_ is not None:
        kind = TYPE_KINDS.get(str(type_).lower())
    if kind is None:
        kind = hint
    if kind is None:
        for needle, candidate in _WEAK_FLAT:
            if needle in lower:
                kind = candidate
                break
    if kind is None:
        kind = K.BAD_RESPONSE if error is None and (status is None or status < 400) else K.UNKNOWN

    retry_after: float | None = None
    rid: str | None = None
    if headers:
        should_retry = headers.get("x-should-retry")
        if should_retry == "true":
            retryable = True
        elif should_retry == "false":
            retryable = False
        retry_after = headers_retry_after(headers)
        rid = request_id(headers)
    if retryable is None:
        retryable = kind in RETRYABLE_KINDS
    if retry_after is None and "try" in lower:
        retry_after = retry_after_from_message(text_message, lower)
    if retry_after is None and kind is K.RATE_LIMITED and headers:
        retry_after = ratelimit_reset(headers)

    if rid is None and type(envelope or document) is dict:
        value = (envelope or document).get(request_id_field)
        if isinstance(value, (str, int)) and value != "":
            rid = str(value)
    if rid is None:
        at = lower.find("request id ")
        if at >= 0:
            found = _REQUEST_ID_AT.match(text_message, at + 11)
            if found:
                rid = found.group(0)

    if provider is None:
        if is_azure(headers, error):
            provider = "azure"
        else:
            provider = fallback_provider or ("openai" if error is not None else "unknown")
    kept_body = envelope if envelope is not None else document if document is not None else text
    if truncated and text is not None:
        text_message += f" [body cut: only the first {MAX_KEPT_TEXT} characters were kept]"
    return ERROR_CLASSES[kind]._make(
        {
            "kind": kind,
            "_message": text_message,
            "retryable": retryable,
            "retry_after": retry_after,
            "status": status,
            "code": str(code)
            if code is not None
            else (None if inner_code is None else str(inner_code)),
            "request_id": rid,
            "provider": provider,
            "type": None if type_ is None else str(type_),
            "param": None if param is None else str(param),
            "billed": billed,
            "_raw_headers": headers if keep_headers is None else keep_headers,
            "_raw_body": kept_body,
        }
    )


def _read_envelope(
    table: _envelopes.GatewayTable,
    code: str,
    status: int | None,
    headers: Mapping[str, str],
    document: dict[str, Any],
    keep_headers: Any,
    hint: ErrorKind | None,
) -> LLMError | None:
    """Read a gateway envelope: an upstream error inside it decides, else the code."""
    upstream = document.get(table.result_field)
    upstream_error = find_error(upstream, None) if isinstance(upstream, (dict, list)) else None
    billed = code in table.billed
    if upstream_error is not None:
        # The gateway's own docs deliver an upstream 429 under code "2000": the
        # upstream error is the more specific one.
        return classify(
            status,
            headers,
            None,
            provider=table.name,
            hint=table.kinds.get(code) if code not in table.success_codes else hint,
            document={"error": {**upstream_error, "code": upstream_error.get("code") or code}},
            parsed=True,
            keep_headers=keep_headers,
            envelope=document,
            billed=billed,
            request_id_field=table.request_id_field,
        )
    if code in table.success_codes:
        return None
    return classify(
        status,
        headers,
        None,
        provider=table.name,
        document={
            "error": {"message": _envelopes.envelope_message(table, document, code), "code": code}
        },
        parsed=True,
        keep_headers=keep_headers,
        kind_override=table.kinds.get(code, ErrorKind.UNKNOWN),
        envelope=document,
        billed=billed,
        request_id_field=table.request_id_field,
    )


def build(
    kind: ErrorKind,
    message: str,
    status: int | None = None,
    headers: Any = None,
    body: Any = None,
    provider: str = "unknown",
    *,
    code: str | None = None,
    retryable: bool | None = None,
) -> LLMError:
    """Make the error of *kind* directly, for failures that carry no answer to read."""
    return ERROR_CLASSES[kind]._make(
        {
            "kind": kind,
            "_message": message,
            "retryable": retryable,
            "status": status,
            "code": code,
            "request_id": request_id(signal_headers(headers)) if headers else None,
            "provider": provider,
            "_raw_headers": headers if headers is not None else {},
            "_raw_body": body,
        }
    )
