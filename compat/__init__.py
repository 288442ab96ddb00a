"""compat: one error model and one retry policy for OpenAI-style services.

Every failure of the legacy ``openai`` SDK, the v1+ SDK, Azure OpenAI, API
gateways and the HTTP libraries under them becomes an :class:`LLMError` whose
``kind`` says what failed and whose ``retryable`` / ``retry_after`` say what to
do about it::

    LLMError (kind, retryable, retry_after, status, code, request_id, provider, message)
    ├── AuthenticationError           authentication
    ├── PermissionDeniedError         permission_denied
    ├── InvalidRequestError           invalid_request
    │   └── ContextLengthExceededError    context_length_exceeded
    ├── OutputTruncatedError          output_truncated
    ├── ContentFilteredError          content_filtered
    ├── NotFoundError                 not_found
    ├── ConflictError                 conflict
    ├── RateLimitError                rate_limited
    ├── QuotaExceededError            quota_exceeded   (not a RateLimitError)
    ├── ServerError                   server_error
    │   └── OverloadedError               overloaded
    ├── APITimeoutError               timeout
    ├── APIConnectionError            connection
    ├── BadResponseError              bad_response
    └── UnknownError                  unknown

Entry points: :func:`translate` (an exception in, the common error out),
:func:`from_response` (a raw HTTP answer in), :func:`from_batch_line` (a line of a
Batch API output or error file in), :class:`translating` (a context
manager and decorator that raises the common error ``from`` the original),
:class:`RetryPolicy` (one retry policy: decorator, ``call``, attempts loop) and
:func:`wrap` (a client behind the policy, its interface kept).

``import compat`` is cheap: it imports neither an SDK nor ``httpx`` nor
``requests``, and the error classes (built with ``attrs``) are loaded the first
time one of them is used.
"""

from __future__ import annotations

import importlib

from compat._kinds import ErrorKind

# typing itself costs more to import than the rest of compat together; mypy
# reads a module-level TYPE_CHECKING constant as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from compat._batch import from_batch_line
    from compat._content_filter import ContentFilterResult, FilterCategory
    from compat._errors import (
        APIConnectionError,
        APITimeoutError,
        AuthenticationError,
        BadResponseError,
        ConflictError,
        ContentFilteredError,
        ContextLengthExceededError,
        InvalidRequestError,
        LLMError,
        NotFoundError,
        OutputTruncatedError,
        OverloadedError,
        PermissionDeniedError,
        QuotaExceededError,
        RateLimitError,
        RateLimitInfo,
        ServerError,
        UnknownError,
    )
    from compat._guard import translating
    from compat._secrets import register_secret, unregister_secret
    from compat._sources import CODE_KINDS, STATUS_KINDS
    from compat._translate import (
        from_response,
        register_adapter,
        translate,
        unregister_adapter,
    )
    from compat._wrap import Deployment, wrap
    from compat.adapters.gateway import GatewayTable, register_gateway, unregister_gateway
    from compat.clients.gateway import GatewayClient
    from compat.retry.engine import Attempt, retry_testing
    from compat.retry.events import Event, add_hook, remove_hook
    from compat.retry.policy import Decision, RetryPolicy
    from compat.retry.redis import RedisState
    from compat.retry.state import LocalState
    from compat.retry.target import Target

__all__ = [
    "CODE_KINDS",
    "STATUS_KINDS",
    "APIConnectionError",
    "APITimeoutError",
    "Attempt",
    "AuthenticationError",
    "BadResponseError",
    "ConflictError",
    "ContentFilterResult",
    "ContentFilteredError",
    "ContextLengthExceededError",
    "Decision",
    "Deployment",
    "ErrorKind",
    "Event",
    "FilterCategory",
    "GatewayClient",
    "GatewayTable",
    "InvalidRequestError",
    "LLMError",
    "LocalState",
    "NotFoundError",
    "OutputTruncatedError",
    "OverloadedError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimitInfo",
    "RedisState",
    "RetryPolicy",
    "ServerError",
    "Target",
    "UnknownError",
    "add_hook",
    "from_batch_line",
    "from_response",
    "register_adapter",
    "register_gateway",
    "register_secret",
    "remove_hook",
    "retry_testing",
    "translate",
    "translating",
    "unregister_adapter",
    "unregister_gateway",
    "unregister_secret",
    "wrap",
]

# Where each lazily loaded name lives.
_LAZY = {
    "CODE_KINDS": "compat._sources",
    "STATUS_KINDS": "compat._sources",
    "translating": "compat._guard",
    "register_secret": "compat._secrets",
    "unregister_secret": "compat._secrets",
    "from_batch_line": "compat._batch",
    "from_response": "compat._translate",
    "register_adapter": "compat._translate",
    "translate": "compat._translate",
    "unregister_adapter": "compat._translate",
    "Attempt": "compat.retry.engine",
    "retry_testing": "compat.retry.engine",
    "Decision": "compat.retry.policy",
    "RetryPolicy": "compat.retry.policy",
    "LocalState": "compat.retry.state",
    "RedisState": "compat.retry.redis",
    "Target": "compat.retry.target",
    "Event": "compat.retry.events",
    "add_hook": "compat.retry.events",
    "remove_hook": "compat.retry.events",
    "wrap": "compat._wrap",
    "Deployment": "compat._wrap",
    "GatewayTable": "compat.adapters.gateway",
    "register_gateway": "compat.adapters.gateway",
    "unregister_gateway": "compat.adapters.gateway",
    "GatewayClient": "compat.clients.gateway",
    "ContentFilterResult": "compat._content_filter",
    "FilterCategory": "compat._content_filter",
}
_LAZY.update(
    dict.fromkeys(
        (
            "APIConnectionError",
            "APITimeoutError",
            "AuthenticationError",
            "BadResponseError",
            "ConflictError",
            "ContentFilteredError",
            "ContextLengthExceededError",
            "InvalidRequestError",
            "LLMError",
            "NotFoundError",
            "OutputTruncatedError",
            "OverloadedError",
            "PermissionDeniedError",
            "QuotaExceededError",
            "RateLimitError",
            "RateLimitInfo",
            "ServerError",
            "UnknownError",
        ),
        "compat._errors",
    )
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'compat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
