"""Azure OpenAI's error answers, as its documentation and users' reports show them.

Each case is ``(id, status, headers, body, expected)`` like tests/bodies.py.
"""

from __future__ import annotations

from typing import Any

APIM = {"apim-request-id": "a1b2c3d4-0000-4000-8000-000000000001", "x-ms-region": "East US"}
FILTERED_PROMPT = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
        "policy. Please modify your prompt and retry. To learn more about our content filtering policies please "
        "read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "jailbreak": {"filtered": True, "detected": True},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "high"},
            },
        },
    }
}
# The variant browser-use#262 shows: inner_error and content_filter_results.
FILTERED_PROMPT_VARIANT = {
    "error": {
        "inner_error": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_results": {"jailbreak": {"filtered": True, "detected": True}},
        },
        "code": "content_filter",
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "param": "prompt",
        "type": None,
    }
}
TPM_MESSAGE = (
    "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-02-01 have exceeded "
    "token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: "
    "https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
)

CASES: list[tuple[str, int, dict[str, str], Any, dict[str, Any]]] = [
    (
        "429 token rate limit, wait only in the message",
        429,
        dict(APIM),
        {"error": {"code": "429", "message": TPM_MESSAGE}},
        {"kind": "rate_limited", "retryable": True, "retry_after": 6.0, "code": "429"},
    ),
    (
        "429 with retry-after-ms and x-ms-retry-after-ms",
        429,
        {
            **APIM,
            "x-ms-retry-after-ms": "2500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-remaining-tokens": "1200",
        },
        {"error": {"code": "429", "message": TPM_MESSAGE}},
        {"kind": "rate_limited", "retry_after": 2.5},
    ),
    (
        "429 rate limit is exceeded, try again in 3 seconds",
        429,
        {**APIM, "retry-after": "3"},
        {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 3 seconds."}},
        {"kind": "rate_limited", "retry_after": 3.0},
    ),
    (
        "403 out of call volume quota",
        403,
        dict(APIM),
        {
            "error": {
                "code": "403",
                "message": "Out of call volume quota for AzureOpenAI. Quota will be replenished in 2.01:55:44.",
            }
        },
        {"kind": "quota_exceeded", "retryable": False},
    ),
    (
        "429 insufficient quota",
        429,
        dict(APIM),
        {
            "error": {
                "code": "insufficient_quota",
                "message": "You exceeded your current quota, please check your plan and billing details.",
            }
        },
        {"kind": "quota_exceeded", "retryable": False},
    ),
    (
        "400 prompt filtered (content_filter, ResponsibleAIPolicyViolation)",
        400,
        dict(APIM),
        FILTERED_PROMPT,
        {
            "kind": "content_filtered",
            "retryable": False,
            "code": "content_filter",
            "param": "prompt",
        },
    ),
    (
        "400 prompt filtered, inner_error variant",
        400,
        dict(APIM),
        FILTERED_PROMPT_VARIANT,
        {"kind": "content_filtered", "retryable": False},
    ),
    (
        "401 invalid subscription key",
        401,
        dict(APIM),
        {
            "error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
            }
        },
        {"kind": "authentication", "retryable": False},
    ),
    (
        "401 Entra ID token expired or for the wrong audience",
        401,
        dict(APIM),
        {
            "error": {
                "code": "401",
                "message": "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.",
            }
        },
        {"kind": "authentication", "retryable": False},
    ),
    (
        "403 virtual network / firewall rules",
        403,
        dict(APIM),
        {
            "error": {
                "code": "403",
                "message": "Access denied due to Virtual Network/Firewall rules.",
            }
        },
        {"kind": "permission_denied", "retryable": False},
    ),
    (
        "404 DeploymentNotFound",
        404,
        dict(APIM),
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
            }
        },
        {"kind": "not_found", "retryable": False, "code": "DeploymentNotFound"},
    ),
    (
        "400 OperationNotSupported",
        400,
        dict(APIM),
        {
            "error": {
                "code": "OperationNotSupported",
                "message": "The chatCompletion operation does not work with the specified model, text-embedding-ada-002. Please choose different model and try again.",
            }
        },
        {"kind": "invalid_request", "retryable": False, "code": "OperationNotSupported"},
    ),
    (
        "400 unsupported api-version",
        400,
        dict(APIM),
        {"error": {"code": "BadRequest", "message": "API version not supported"}},
        {"kind": "invalid_request", "retryable": False},
    ),
    (
        "408 request timeout",
        408,
        dict(APIM),
        {"error": {"code": "Timeout", "message": "The operation was timeout."}},
        {"kind": "timeout", "retryable": True},
    ),
    (
        "500 internal server error",
        500,
        dict(APIM),
        {
            "error": {
                "code": "InternalServerError",
                "message": "The server had an error while processing your request. Sorry about that!",
            }
        },
        {"kind": "server_error", "retryable": True},
    ),
    (
        "503 service unavailable",
        503,
        dict(APIM),
        {
            "error": {
                "code": "ServiceUnavailable",
                "message": "The service is temporarily unable to process your request. Please try again later.",
            }
        },
        {"kind": "overloaded", "retryable": True},
    ),
    (
        "504 gateway timeout (HTML)",
        504,
        {**APIM, "content-type": "text/html"},
        "<html><head><title>504 Gateway Time-out</title></head><body>504 Gateway Time-out</body></html>",
        {"kind": "timeout", "retryable": True},
    ),
]
