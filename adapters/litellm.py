"""LiteLLM's proxy: its error types, headers and wording, as rows and marks.

The proxy answers in OpenAI's shape with marks of its own: ``error.type`` is one
of its ``ProxyErrorTypes`` (``budget_exceeded``, ``token_not_found_in_db``,
``key_model_access_denied``, ``auth_error``, ...), older releases write the
strings ``"None"`` for an absent ``type`` and ``param``, messages open with the
name of LiteLLM's exception (``litellm.BadRequestError: ...``) and close with
``Received Model Group=...``, and answers carry ``x-litellm-*`` headers. A
message often quotes the upstream's own answer (``AnthropicException -
b'{...}'``): the innermost error decides (compat.adapters.openai_v1 reads it).

Spend caps are quota, not rate limits: "Budget has been exceeded!" comes under
429 with type ``budget_exceeded`` or under 400, and retrying it costs money
(tests/data/compatible/litellm.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

#: LiteLLM's ``ProxyErrorTypes`` (litellm/proxy/_types.py) as ``error.type`` writes them;
#: those generic enough for other servers to send (``not_found_error``,
#: ``internal_server_error``) are left out.
PROXY_ERROR_TYPES = frozenset(
    {
        "budget_exceeded",
        "no_db_connection",
        "token_not_found_in_db",
        "key_model_access_denied",
        "team_model_access_denied",
        "user_model_access_denied",
        "customer_model_access_denied",
        "org_model_access_denied",
        "project_model_access_denied",
        "agent_model_access_denied",
        "expired_key",
        "auth_error",
        "auth_provider_unavailable",
        "bad_request_error",
        "team_member_permission_error",
        "tool_access_denied",
        "throttling_error",
    }
)

SOURCE = Source(
    name="litellm",
    # Proxy error types that name the failure whatever the status (the others,
    # auth_error above all, come with the status that decides: a budget refusal
    # has come as an auth_error under 400).
    codes={
        "budget_exceeded": Row(K.QUOTA_EXCEEDED),
        "token_not_found_in_db": Row(K.AUTHENTICATION),
        "expired_key": Row(K.AUTHENTICATION),
        "key_model_access_denied": Row(K.PERMISSION_DENIED),
        "team_model_access_denied": Row(K.PERMISSION_DENIED),
        "user_model_access_denied": Row(K.PERMISSION_DENIED),
        "customer_model_access_denied": Row(K.PERMISSION_DENIED),
        "org_model_access_denied": Row(K.PERMISSION_DENIED),
        "project_model_access_denied": Row(K.PERMISSION_DENIED),
        "agent_model_access_denied": Row(K.PERMISSION_DENIED),
        "team_member_permission_error": Row(K.PERMISSION_DENIED),
        "tool_access_denied": Row(K.PERMISSION_DENIED),
    },
    phrases={
        "budget has been exceeded": Row(K.QUOTA_EXCEEDED),
        # "LiteLLM User: x, exceeded budget for model=y"; "ExceededBudget: End User=x over budget"
        "exceeded budget for": Row(K.QUOTA_EXCEEDED),
        "exceededbudget": Row(K.QUOTA_EXCEEDED),
        "exceededtokenbudget": Row(K.QUOTA_EXCEEDED),
        "contextwindowexceedederror": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "contentpolicyviolationerror": Row(K.CONTENT_FILTERED),
        "violated guardrail policy": Row(K.CONTENT_FILTERED),
        "invalid model name passed in model=": Row(K.NOT_FOUND),
    },
    mark_headers={"x-litellm-call-id", "x-litellm-version"},
    mark_values={"type": PROXY_ERROR_TYPES | {"None"}, "param": {"None"}},
    mark_phrases=("litellm.", "received model group="),
)
