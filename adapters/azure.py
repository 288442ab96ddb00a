"""Azure OpenAI: its codes, headers, hosts, wording and content-filter verdicts, in one place.

Azure answers in OpenAI's shape with marks of its own: CamelCase codes
(``DeploymentNotFound``, ``ResponsibleAIPolicyViolation`` in ``innererror``),
API Management's and Azure's headers (``apim-request-id``, ``x-ms-region``), its
own wording ("Requests to the ... Operation under Azure OpenAI API version ...
Please retry after 6 seconds"), and per-category content-filter verdicts. Any of
these on an answer says ``provider="azure"``, with or without the caller saying
so; a client sent to an Azure host (:func:`is_azure_url`) or the legacy SDK with
``api_type="azure"`` (:func:`is_azure_api_type`) says it too.

Each code in :data:`SOURCE`'s table is written as Azure writes it and is looked
up without regard to case; written exactly so, it is also the mark of Azure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.extend import ContentFilterResult, ErrorKind, FilterCategory, Row, Source

K = ErrorKind

#: Host names of Azure OpenAI and Azure AI endpoints.
HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


def is_azure_url(host: str, path: str) -> bool:
    """Whether a request to *host* and *path* went to an Azure OpenAI endpoint."""
    return host.endswith(HOSTS) or path.startswith("/openai/deployments/")


def is_azure_api_type(api_type: Any) -> bool:
    """Whether the legacy SDK's ``openai.api_type`` sends to Azure (``azure``, ``azure_ad``)."""
    return str(api_type or "").lower().startswith("azure")


def not_found_hint(message: Any, version: Any, path: str) -> str | None:
    """Azure's bare "Resource not found" means a wrong api-version or path: name both."""
    if not isinstance(message, str) or "resource not found" not in message.lower():
        return None
    return f"{message} (check the api-version {version!r} and the path {path}: one of them is not served here)"


def _categories(results: Mapping[str, Any]) -> tuple[FilterCategory, ...]:
    found = []
    for name, verdict in results.items():
        if not isinstance(verdict, Mapping):
            continue
        severity = verdict.get("severity")
        detected = verdict.get("detected")
        found.append(
            FilterCategory(
                name=str(name),
                filtered=bool(verdict.get("filtered", False)),
                severity=None if severity is None else str(severity),
                detected=None if detected is None else bool(detected),
            )
        )
    return tuple(found)


def _results(holder: Any) -> Mapping[str, Any] | None:
    if not isinstance(holder, Mapping):
        return None
    for key in ("content_filter_result", "content_filter_results"):
        value = holder.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def _each(items: Any, source: str, index_key: str) -> list[ContentFilterResult]:
    """The results of each item (a prompt or a choice) that carries any."""
    found = []
    for item in items if isinstance(items, list) else ():
        results = _results(item)
        if results is not None:
            index = item.get(index_key)
            found.append(
                ContentFilterResult(
                    source, _categories(results), index if isinstance(index, int) else None
                )
            )
    return found


def read_content_filter(body: Any) -> tuple[ContentFilterResult, ...]:
    """Every content-filter verdict in an error or completion body, prompt first.

    Azure reports them in three places: a 400 whose ``error.innererror`` (or
    ``inner_error``) carries ``content_filter_result(s)`` (the prompt was
    filtered); a completion's ``prompt_filter_results[].content_filter_results``
    (the prompt); and its ``choices[].content_filter_results`` (the completion).
    """
    if not isinstance(body, Mapping):
        return ()
    found: list[ContentFilterResult] = []
    nested = body.get("error")
    error: Mapping[str, Any] = nested if isinstance(nested, Mapping) else body
    inner = error.get("innererror") or error.get("inner_error")
    results = _results(inner)
    if results is not None:
        found.append(ContentFilterResult("prompt", _categories(results)))
    prompts = body.get("prompt_filter_results") or body.get("prompt_annotations") or ()
    found.extend(_each(prompts, "prompt", "prompt_index"))
    found.extend(_each(body.get("choices") or (), "completion", "index"))
    return tuple(found)


SOURCE = Source(
    name="azure",
    # Azure's own codes, as Azure writes them (learn.microsoft.com, Azure OpenAI and
    # Azure AI services error references).
    codes={
        "DeploymentNotFound": Row(K.NOT_FOUND),
        "ResourceNotFound": Row(K.NOT_FOUND),
        "OperationNotSupported": Row(K.INVALID_REQUEST),
        "InvalidPayload": Row(K.INVALID_REQUEST),
        "ResponsibleAIPolicyViolation": Row(K.CONTENT_FILTERED),
        "InsufficientQuota": Row(K.QUOTA_EXCEEDED),
        "RateLimitExceeded": Row(K.RATE_LIMITED),
        "InvalidAuthenticationToken": Row(K.AUTHENTICATION),
        "InvalidAuthenticationTokenAudience": Row(K.AUTHENTICATION),
        "ExpiredAuthenticationToken": Row(K.AUTHENTICATION),
        "PermissionDenied": Row(K.PERMISSION_DENIED),
        "AuthorizationFailure": Row(K.PERMISSION_DENIED),
        "ServiceUnavailable": Row(K.OVERLOADED),
    },
    marked_codes=True,
    phrases={
        "out of call volume quota": Row(K.QUOTA_EXCEEDED),
        "quota will be replenished": Row(K.QUOTA_EXCEEDED),
        "content management policy": Row(K.CONTENT_FILTERED),
        "filtered due to the prompt triggering": Row(K.CONTENT_FILTERED),
        # Peak-load rejections: the service, not the caller, is short, even under a 429
        # whose code only restates it ("The system is currently experiencing high demand
        # ... Your request exceeds the maximum usage size allowed during peak load").
        "experiencing high demand": Row(K.OVERLOADED),
        "maximum usage size allowed during peak load": Row(K.OVERLOADED),
        # API Management's rate-limit policy: "Rate limit is exceeded. Try again in 11 seconds."
        "rate limit is exceeded": Row(K.RATE_LIMITED),
    },
    hints={
        "access denied due to invalid subscription key": Row(K.AUTHENTICATION),
    },
    mark_headers={
        "apim-request-id",
        "x-ms-region",
        "x-ms-client-request-id",
        "azureml-model-session",
    },
    mark_keys={"innererror", "inner_error"},
    mark_phrases=(
        "operation under azure openai api version",  # Azure's 429s
        "azure openai's content management policy",  # its content filter
        "call volume quota for azureopenai",  # its 403 quota
        "invalid subscription key or wrong api endpoint",  # API Management in front of it
    ),
    content_filter=read_content_filter,
)
