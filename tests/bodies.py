"""Real error answers, as OpenAI, proxies and users' issue reports show them.

Each case is ``(id, status, headers, body, expected)`` where *expected* holds the
attributes the translated error must have. Bodies are the ones the OpenAI error
guide documents or users pasted in public issues (the id says which).
"""

from __future__ import annotations

from typing import Any

import compat

Case = tuple[str, int, dict[str, str], Any, dict[str, Any]]


def openai_error(
    message: str, type_: str | None, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


CLOUDFLARE_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NGINX_504 = (
    "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    "<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NGINX_503 = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)
NGINX_413 = (
    "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>413 Request Entity Too Large</h1></center>\r\n</body>\r\n</html>\r\n"
)

RL = "rate_limited"

CASES: list[Case] = [
    (
        "401 incorrect key (error guide)",
        401,
        {"x-request-id": "req_401"},
        openai_error(
            "Incorrect API key provided: sk-abc12***************************wxyz. You can find "
            "your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
        {
            "kind": "authentication",
            "retryable": False,
            "code": "invalid_api_key",
            "request_id": "req_401",
        },
    ),
    (
        "401 no organization (error guide)",
        401,
        {},
        openai_error(
            "You must be a member of an organization to use the API. Please contact us through "
            "our help center at help.openai.com.",
            "invalid_request_error",
            "no_organization",
        ),
        {"kind": "authentication", "retryable": False, "code": "no_organization"},
    ),
    (
        "403 unsupported region",
        403,
        {},
        {
            "error": {
                "code": "unsupported_country_region_territory",
                "message": "Country, region, or territory not supported",
                "param": None,
                "type": "request_forbidden",
            }
        },
        {"kind": "permission_denied", "retryable": False},
    ),
    (
        "403 whose code says quota (one-api style)",
        403,
        {},
        openai_error("用户额度不足", "new_api_error", "insufficient_user_quota"),
        {"kind": "quota_exceeded", "retryable": False, "code": "insufficient_user_quota"},
    ),
    (
        "404 model_not_found",
        404,
        {},
        openai_error(
            "The model `gpt-5-turbo` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
            None,
        ),
        {"kind": "not_found", "retryable": False, "code": "model_not_found"},
    ),
    (
        "429 requests per minute (error guide)",
        429,
        {
            "x-request-id": "req_rpm",
            "x-ratelimit-limit-requests": "3",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "20s",
            "x-ratelimit-limit-tokens": "40000",
            "x-ratelimit-remaining-tokens": "39000",
            "x-ratelimit-reset-tokens": "1.5s",
        },
        openai_error(
            "Rate limit reached for default-gpt-3.5-turbo in organization org-abc on requests per "
            "min. Limit: 3 / min. Please try again in 20s. Contact us through our help center at "
            "help.openai.com if you continue to have issues.",
            "requests",
            "rate_limit_exceeded",
        ),
        {"kind": RL, "retryable": True, "retry_after": 20.0, "request_id": "req_rpm"},
    ),
    (
        "429 tokens per minute, wait in message (MetaGPT#523)",
        429,
        {},
        openai_error(
            "Rate limit reached for gpt-4 in organization org-uVqpjtJiKqvVJMVfvpaounIh on tokens "
            "per min (TPM): Limit 10000, Used 8554, Requested 3082. Please try again in 9.816s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            "tokens",
            "rate_limit_exceeded",
        ),
        {"kind": RL, "retryable": True, "retry_after": 9.816},
    ),
    (
        "429 tokens per minute, wait in ms (continue#11471)",
        429,
        {},
        openai_error(
            "Rate limit reached for gpt-4.1 in organization org-66tr5xhH5yhaqZAy6PAIy1Xi on tokens "
            "per min (TPM): Limit 30000, Used 18928, Requested 11159. Please try again in 174ms.",
            "tokens",
            "rate_limit_exceeded",
        ),
        {"kind": RL, "retryable": True, "retry_after": 0.174},
    ),
    (
        "429 rate limit, only reset headers",
        429,
        {
            "x-ratelimit-remaining-requests": "120",
            "x-ratelimit-reset-requests": "100ms",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": "6m0s",
        },
        openai_error(
            "Rate limit reached for gpt-4o on tokens per min.", "tokens", "rate_limit_exceeded"
        ),
        {"kind": RL, "retryable": True, "retry_after": 360.0},
    ),
    (
        "429 request too large for TPM (shell_gpt#653): never passes",
        429,
        {},
        openai_error(
            "Request too large for gpt-4o in organization org-78asdf87asdf9aaa8976 on tokens per "
            "min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced "
            "in order to run successfully. Visit https://platform.openai.com/account/rate-limits "
            "to learn more.",
            "tokens",
            "rate_limit_exceeded",
        ),
        {"kind": RL, "retryable": False, "code": "rate_limit_exceeded"},
    ),
    (
        "429 insufficient_quota (GPT_API_free#229)",
        429,
        {"retry-after": "20"},
        openai_error(
            "You exceeded your current quota, please check your plan and billing details. For "
            "more information on this error, read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            "insufficient_quota",
        ),
        {"kind": "quota_exceeded", "retryable": False, "code": "insufficient_quota"},
    ),
    (
        "429 quota with code null (ChatGPTAPIFree#16)",
        429,
        {},
        openai_error(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            None,
        ),
        {"kind": "quota_exceeded", "retryable": False, "code": None},
    ),
    (
        "429 billing hard limit",
        429,
        {},
        openai_error(
            "Billing hard limit has been reached",
            "invalid_request_error",
            "billing_hard_limit_reached",
        ),
        {"kind": "quota_exceeded", "retryable": False},
    ),
    (
        "429 engine overloaded (error guide)",
        429,
        {},
        openai_error(
            "The engine is currently overloaded, please try again later", "server_error", None
        ),
        {"kind": "overloaded", "retryable": True},
    ),
    (
        "429 whose type and text say the server failed",
        429,
        {},
        openai_error(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        {"kind": "server_error", "retryable": True},
    ),
    (
        "503 model overloaded",
        503,
        {"x-request-id": "req_503"},
        openai_error(
            "That model is currently overloaded with other requests. You can retry your request, "
            "or contact us through our help center at help.openai.com if the error persists. "
            "(Please include the request ID req_503 in your message.)",
            "server_error",
            None,
        ),
        {"kind": "overloaded", "retryable": True, "request_id": "req_503"},
    ),
    (
        "500 server error, request id only in the text",
        500,
        {},
        openai_error(
            "The server had an error processing your request. Sorry about that! You can retry "
            "your request, or contact us through our help center at help.openai.com if you keep "
            "seeing this error. (Please include the request ID 0c3fb2d6e1c8a7b5 in your email.)",
            "server_error",
            None,
        ),
        {"kind": "server_error", "retryable": True, "request_id": "0c3fb2d6e1c8a7b5"},
    ),
    (
        "400 context length (error guide)",
        400,
        {},
        openai_error(
            "This model's maximum context length is 8192 tokens. However, your messages resulted "
            "in 9013 tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            "context_length_exceeded",
            "messages",
        ),
        {"kind": "context_length_exceeded", "retryable": False, "param": "messages"},
    ),
    (
        "400 context length told only by the text (code null)",
        400,
        {},
        openai_error(
            "This model's maximum context length is 4097 tokens, however you requested 4225 tokens "
            "(3201 in your prompt; 1024 for the completion). Please reduce your prompt; or "
            "completion length.",
            "invalid_request_error",
            None,
        ),
        {"kind": "context_length_exceeded", "retryable": False},
    ),
    (
        "400 content policy (images)",
        400,
        {},
        openai_error(
            "Your request was rejected as a result of our safety system. Your prompt may contain "
            "text that is not allowed by our safety system.",
            "invalid_request_error",
            "content_policy_violation",
        ),
        {"kind": "content_filtered", "retryable": False},
    ),
    (
        "400 plain invalid parameter",
        400,
        {},
        openai_error(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
            "'json_object'.",
            "invalid_request_error",
            None,
            "messages",
        ),
        {"kind": "invalid_request", "retryable": False},
    ),
    (
        "402 payment required",
        402,
        {},
        {"error": {"message": "Insufficient credits", "code": 402}},
        {"kind": "quota_exceeded", "retryable": False, "code": "402"},
    ),
    (
        "409 conflict",
        409,
        {},
        openai_error(
            "Another request with this idempotency key is in progress.",
            "invalid_request_error",
            None,
        ),
        {"kind": "conflict", "retryable": True},
    ),
    (
        "502 HTML page from Cloudflare",
        502,
        {"content-type": "text/html"},
        CLOUDFLARE_502,
        {"kind": "server_error", "retryable": True, "message_contains": "502 Bad Gateway"},
    ),
    (
        "503 HTML page from nginx",
        503,
        {"content-type": "text/html"},
        NGINX_503,
        {"kind": "overloaded", "retryable": True, "message_contains": "Temporarily Unavailable"},
    ),
    (
        "504 HTML page from nginx",
        504,
        {"content-type": "text/html"},
        NGINX_504,
        {"kind": "timeout", "retryable": True, "message_contains": "504 Gateway Time-out"},
    ),
    (
        "413 HTML page from nginx",
        413,
        {"content-type": "text/html"},
        NGINX_413,
        {"kind": "invalid_request", "retryable": False},
    ),
    (
        "408 with an empty body",
        408,
        {},
        b"",
        {"kind": "timeout", "retryable": True, "message_contains": "HTTP 408"},
    ),
    (
        "529 overloaded",
        529,
        {},
        {"error": {"message": "Overloaded", "type": "overloaded_error"}},
        {"kind": "overloaded", "retryable": True},
    ),
    (
        "500 plain text",
        500,
        {"content-type": "text/plain"},
        "Internal Server Error",
        {"kind": "server_error", "retryable": True, "message_contains": "Internal Server Error"},
    ),
    (
        "503 with x-should-retry false",
        503,
        {"x-should-retry": "false"},
        openai_error("Service unavailable", "server_error", None),
        {"kind": "overloaded", "retryable": False},
    ),
    (
        "400 with x-should-retry true",
        400,
        {"x-should-retry": "true"},
        openai_error("Try this again", "invalid_request_error", None),
        {"kind": "invalid_request", "retryable": True},
    ),
    (
        "429 with retry-after-ms beating retry-after",
        429,
        {"retry-after-ms": "1500", "retry-after": "9"},
        openai_error(
            "Rate limit reached. Please try again in 7s.", "requests", "rate_limit_exceeded"
        ),
        {"kind": RL, "retry_after": 1.5},
    ),
    (
        "429 with retry-after beating the text",
        429,
        {"Retry-After": "2"},
        openai_error(
            "Rate limit reached. Please try again in 7s.", "requests", "rate_limit_exceeded"
        ),
        {"kind": RL, "retry_after": 2.0},
    ),
    (
        "429 with an HTTP-date retry-after in the past",
        429,
        {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
        openai_error("Too many requests", "requests", "rate_limit_exceeded"),
        {"kind": RL, "retry_after": 0.0},
    ),
]


def check(error: compat.LLMError | None, expected: dict[str, Any]) -> None:
    """*error* has every attribute *expected* names (``message_contains``: a part of its
    message; ``retry_after``: within a microsecond)."""
    import pytest  # here, so that the benchmarks can read the cases without pytest

    assert error is not None
    for name, value in expected.items():
        if name == "message_contains":
            assert value in error.message
        elif name == "retry_after" and value is not None:
            assert error.retry_after == pytest.approx(value, abs=1e-6)
        else:
            actual = getattr(error, name)
            assert value == (actual.value if name == "kind" else actual), name
    assert isinstance(error, compat.LLMError)
    assert compat.ErrorKind(expected["kind"]) is error.kind
