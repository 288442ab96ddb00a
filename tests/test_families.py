"""The families of OpenAI-compatible servers, and the reading mechanisms they use.

Each family is a source module under ``adapters/`` (rows, marks, readers); these tests
check the mechanisms on answers shaped as the families send them (the real answers are
in tests/data/compatible/, driven by tests/test_compatible_corpus.py), and that each
mechanism is the source's data, not a case inside the shared classifier: a source
registered at run time gets the same treatment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import compat
from compat import ErrorKind as K
from compat.extend import Row, Source, register_source, unregister_source


def read(
    status: int | None, body: Any, headers: Mapping[str, str] | None = None
) -> compat.LLMError:
    error = compat.from_response(status, headers or {}, body)
    assert error is not None
    return error


@pytest.fixture
def acme() -> Iterator[None]:
    """A family registered for the test: a shape of its own, marks at the top of the body
    and on the outer error, and a retryability told by the words."""

    def shape(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
        problem = document.get("acme_problem")
        return {"message": problem} if type(problem) is str else None

    def refine(lower: str) -> bool | None:
        return False if "forever" in lower else None

    register_source(
        Source(
            name="acme",
            phrases={"acme is out of gas": Row(K.OVERLOADED)},
            mark_top_keys={"acme_trace"},
            mark_top_values={"flavour": {"acme"}},
            shapes=(shape,),
            refine={K.RATE_LIMITED: (refine,)},
        )
    )
    try:
        yield
    finally:
        unregister_source("acme")


# -- Mechanisms, through a family registered at run time ---------------------------


def test_a_registered_shape_reads_a_body_without_an_error_object(acme: None) -> None:
    """A source's shape reader finds the error in a body that has no ``error`` member; the
    answer is a failure even under 200, and its words decide the kind."""
    error = read(200, {"acme_problem": "Acme is out of gas", "acme_trace": "t1"})
    assert (K.OVERLOADED, True, "acme") == (error.kind, error.retryable, error.provider)
    assert compat.from_response(200, {}, {"acme_result": "fine"}) is None


def test_a_mark_at_the_top_of_the_body_names_the_family(acme: None) -> None:
    """A key (any value) or a key holding one of the listed values beside the error names
    the family; a value not listed does not."""
    body = {"error": {"message": "bad", "type": "invalid_request_error"}}
    assert "acme" == read(400, {**body, "acme_trace": "x"}).provider
    assert "acme" == read(400, {**body, "flavour": "acme"}).provider
    assert "openai" == read(400, {**body, "flavour": "vanilla"}).provider


def test_a_refine_reader_decides_retryability_the_rows_leave_open(acme: None) -> None:
    """A source's refine reader says from the words that a rate limit cannot pass; without
    those words the kind's default holds."""
    over = read(429, {"error": {"message": "Slow down, forever", "code": "rate_limit_exceeded"}})
    assert (K.RATE_LIMITED, False) == (over.kind, over.retryable)
    later = read(429, {"error": {"message": "Slow down", "code": "rate_limit_exceeded"}})
    assert (K.RATE_LIMITED, True) == (later.kind, later.retryable)


def test_unregistering_a_family_removes_its_readers(acme: None) -> None:
    """After the family is gone, its shape no longer makes a 200 a failure."""
    unregister_source("acme")
    try:
        assert compat.from_response(200, {}, {"acme_problem": "Acme is out of gas"}) is None
    finally:
        register_source(Source(name="acme"))


# -- Meaning over status ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "kind", "retryable"),
    [
        # LiteLLM's spend caps: under 429 with its type, and under 400 as an auth_error
        (
            429,
            {
                "message": "Budget has been exceeded! Current cost: 0.51, Max budget: 0.5",
                "type": "budget_exceeded",
            },
            K.QUOTA_EXCEEDED,
            False,
        ),
        (
            400,
            {
                "message": "Authentication Error - Budget has been exceeded!",
                "type": "auth_error",
                "code": "400",
            },
            K.QUOTA_EXCEEDED,
            False,
        ),
        # a model id the server does not know, under 400
        (400, {"message": "gpt-5x is not a valid model ID", "code": 400}, K.NOT_FOUND, False),
        # a parameter no provider behind the router supports, under 404: the model exists
        (
            404,
            {"message": "No endpoints found that support tool use.", "code": 404},
            K.INVALID_REQUEST,
            False,
        ),
        # a project without access to a model, under a not-found code
        (
            403,
            {
                "message": "Project `proj_x` does not have access to model `o3`",
                "code": "model_not_found",
            },
            K.PERMISSION_DENIED,
            False,
        ),
        # a deactivated account
        (
            401,
            {
                "message": "The OpenAI account associated with this API key has been deactivated.",
                "code": "account_deactivated",
            },
            K.PERMISSION_DENIED,
            False,
        ),
        # a relay that could not reach its upstream
        (
            500,
            {
                "message": "do request failed: EOF",
                "type": "new_api_error",
                "code": "do_request_failed",
            },
            K.CONNECTION,
            True,
        ),
        # Azure's peak-load rejection under 429, with a code that only restates the status
        (
            429,
            {
                "message": "The system is currently experiencing high demand and cannot process your request. Please retry after 20 seconds.",
                "code": "RATE_LIMITED",
            },
            K.OVERLOADED,
            True,
        ),
    ],
)
def test_unambiguous_words_outrank_the_status(
    status: int, error: dict[str, Any], kind: K, retryable: bool
) -> None:
    """DESIGN's step 2: a phrase that names the failure decides over the status and over a
    code that only restates it (or that the status contradicts)."""
    found = read(status, {"error": error})
    assert (kind, retryable) == (found.kind, found.retryable)


def test_the_words_that_agree_with_the_status_break_a_tie_with_a_code() -> None:
    """A code whose row the status contradicts keeps its kind when no words side with the
    status: ``model_not_found`` under 403 with no access wording stays not_found."""
    found = read(
        403, {"error": {"message": "The model `o9` does not exist", "code": "model_not_found"}}
    )
    assert K.NOT_FOUND is found.kind


def test_azure_peak_load_keeps_its_wait() -> None:
    """The peak-load rejection is overloaded, and its "retry after N seconds" is the wait."""
    found = read(
        429,
        {
            "error": {
                "message": "Your request exceeds the maximum usage size allowed during peak load. Please retry after 20 seconds.",
                "code": "429",
            }
        },
    )
    assert (K.OVERLOADED, 20.0) == (found.kind, found.retry_after)


def test_a_request_over_the_whole_tpm_limit_cannot_be_retried() -> None:
    """OpenAI's tokens-per-minute wording: Requested over Limit is not retryable, Requested
    under it is an ordinary rate limit."""
    template = "Rate limit reached for model `llama3-70b` on tokens per minute (TPM): Limit 6000, Used 0, Requested {n}."
    over = read(
        429, {"error": {"message": template.format(n=12903), "code": "rate_limit_exceeded"}}
    )
    under = read(429, {"error": {"message": template.format(n=500), "code": "rate_limit_exceeded"}})
    assert (K.RATE_LIMITED, False) == (over.kind, over.retryable)
    assert (K.RATE_LIMITED, True) == (under.kind, under.retryable)


# -- Errors nested in strings ---------------------------------------------------------


def test_an_error_string_holding_json_is_read_inward() -> None:
    """``"error"`` as a string holding another server's JSON: the innermost error decides."""
    inner = {
        "error": {
            "code": 400,
            "message": "The input token count (1066750) exceeds the maximum number of tokens allowed (1048575).",
            "status": "INVALID_ARGUMENT",
        }
    }
    found = read(
        None, {"error": f"litellm.BadRequestError: VertexAIException - {json.dumps(inner)}"}
    )
    assert (K.CONTEXT_LENGTH_EXCEEDED, "400", "litellm") == (found.kind, found.code, found.provider)


def test_error_from_provider_quoting_json_is_read_inward() -> None:
    """A message ``Error from provider: {...}``: the quoted error decides, with its code."""
    quoted = json.dumps(
        {
            "error": {
                "message": "You exceeded your current quota",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        }
    )
    found = read(500, {"error": {"message": f"Error from provider: {quoted}"}})
    assert (K.QUOTA_EXCEEDED, False, "insufficient_quota") == (
        found.kind,
        found.retryable,
        found.code,
    )


def test_an_applications_500_carrying_an_upstream_429_keeps_its_wait() -> None:
    """A framework's 500 whose message carries the upstream's rate limit and its wait: the
    message decides, with the wait it states."""
    body = {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "429 Rate limit is exceeded. Try again in 11 seconds.",
    }
    found = read(500, body)
    assert (K.RATE_LIMITED, True, 11.0, "unknown") == (
        found.kind,
        found.retryable,
        found.retry_after,
        found.provider,
    )


def test_openrouter_raw_upstream_decides_and_the_router_is_named() -> None:
    """OpenRouter's "Provider returned error" with the upstream's JSON in ``metadata.raw``:
    the upstream's words decide, the router's code stays, OpenRouter is the provider."""
    raw = json.dumps(
        {
            "error": {
                "code": 400,
                "message": "User location is not supported for the API use.",
                "status": "FAILED_PRECONDITION",
            }
        }
    )
    body = {
        "error": {
            "message": "Provider returned error",
            "code": 400,
            "metadata": {"raw": raw, "provider_name": "Google AI Studio"},
        },
        "user_id": "",
    }
    found = read(400, body)
    assert (K.PERMISSION_DENIED, "400", "openrouter") == (found.kind, found.code, found.provider)


def test_a_message_that_only_mentions_a_brace_is_read_as_it_is() -> None:
    """A brace that opens no JSON costs one failed parse and changes nothing."""
    found = read(
        429, {"error": {"message": "Rate limit {per user} reached", "code": "rate_limit_exceeded"}}
    )
    assert (K.RATE_LIMITED, "rate_limit_exceeded") == (found.kind, found.code)


# -- Other shapes ---------------------------------------------------------------------


def test_vllm_top_level_error_is_a_failure_even_under_200() -> None:
    """vLLM's early ``{"object": "error", ...}`` with no envelope is an error, vLLM's."""
    body = {
        "object": "error",
        "message": "The model `m` does not exist.",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }
    found = read(200, body)
    assert ("vllm", "404") == (found.provider, found.code)
    assert K.NOT_FOUND is read(404, body).kind


def test_an_sse_data_line_holding_an_error_is_a_failure() -> None:
    """A body that is an SSE ``data:`` line holding TGI's error is that error."""
    body = 'data:{"error":"Request failed during generation: Server error: boom","error_type":"generation"}\n\n'
    found = read(200, body)
    assert (K.SERVER_ERROR, True, "tgi") == (found.kind, found.retryable, found.provider)


def test_a_gateways_html_message_is_a_failure() -> None:
    """Portkey's ``{"html-message": ...}`` under 200 is its connection failure."""
    found = read(200, {"html-message": "Network connection lost."})
    assert (K.CONNECTION, True, "portkey") == (found.kind, found.retryable, found.provider)


def test_cloudflares_envelope_keeps_its_code() -> None:
    """Cloudflare's API envelope: the first error's numeric code is kept, the status and
    the words decide the kind, Cloudflare is the provider."""
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": 10000, "message": "Authentication error"}],
        "messages": [],
    }
    found = read(401, body)
    assert (K.AUTHENTICATION, "10000", "cloudflare") == (found.kind, found.code, found.provider)


# -- Wordings of other servers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (
            "This model's maximum context limit of 8192 tokens was exceeded",
            K.CONTEXT_LENGTH_EXCEEDED,
        ),
        ("The prompt is longer than the model's context length", K.CONTEXT_LENGTH_EXCEEDED),
        ("prompt is too long: 205351 tokens > 200000 maximum", K.CONTEXT_LENGTH_EXCEEDED),
        (
            "`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens",
            K.CONTEXT_LENGTH_EXCEEDED,
        ),
        ("Your request was rejected: content_policy_violation", K.CONTENT_FILTERED),
        ("Invalid model name passed in model=gpt-9", K.NOT_FOUND),
    ],
)
def test_other_servers_wordings(message: str, kind: K) -> None:
    """Context-length wordings of other servers and a content policy named only in the
    message decide under a plain 400 with no code."""
    assert kind is read(400, {"error": {"message": message}}).kind


@pytest.mark.parametrize(
    ("headers", "body", "provider"),
    [
        (
            {},
            {
                "type": "error",
                "error": {"type": "rate_limit_error", "message": "slow"},
                "request_id": "req_1",
            },
            "anthropic",
        ),
        ({}, {"id": "abc", "error": {"message": "slow", "type": "credit_limit"}}, "together"),
        (
            {"x-litellm-version": "1.60.0"},
            {"error": {"message": "slow", "type": "None"}},
            "litellm",
        ),
        ({}, {"error": {"message": "slow", "status": "RESOURCE_EXHAUSTED", "code": 429}}, "gemini"),
        (
            {},
            {"error": {"message": "slow (request id: 20250101)", "type": "new_api_error"}},
            "oneapi",
        ),
        (
            {},
            {
                "object": "error",
                "message": "slow",
                "type": "rate_limited",
                "code": "1300",
                "raw_status_code": 429,
            },
            "mistral",
        ),
        ({"helicone-error": "true"}, {"helicone-message": "slow"}, "helicone"),
        ({}, {"error": {"message": "slow", "type": "rate_limit_error"}}, "openai"),
    ],
)
def test_each_familys_marks_name_it(headers: dict[str, str], body: Any, provider: str) -> None:
    """A family's marks (a header, a key or value at the top, on the error, a wording)
    name it as the provider; OpenAI's plain shape names OpenAI."""
    assert provider == read(429, body, headers).provider


def test_a_non_openai_answer_with_no_marks_is_unknown() -> None:
    """An HTML page from a proxy names no one: ``unknown``."""
    assert "unknown" == read(502, "<html><body>Bad gateway</body></html>").provider


def test_a_long_message_finds_the_same_first_phrase() -> None:
    """Phrases are looked for in a long message through their anchor words: the first
    phrase found is the one the plain search over the table finds, whatever the text."""
    import random

    from compat._classify import _first_phrase
    from compat._sources import tables

    compat.from_response(400, {}, {})
    table = tables()
    needles = [needle for needle, _ in table.phrases]
    words = [
        "the",
        "a",
        "of",
        "rate",
        "limit",
        "quota",
        "has",
        "been",
        "budget",
        "model",
        "is",
        "not",
        "your",
        ",",
        ".",
        "(",
        ")",
        ":",
        ";",
    ]
    draw = random.Random(7)
    found = 0
    for _ in range(3000):
        parts = [
            draw.choice(needles) if draw.random() < 0.02 else draw.choice(words)
            for _ in range(draw.randint(60, 200))
        ]
        text = draw.choice([" ", "\n", "  ", ", "]).join(parts)[:2000]
        plain = next((row for needle, row in table.phrases if needle in text), None)
        assert plain is _first_phrase(table, text)
        found += plain is not None
    assert found > 1000  # the draw does put phrases in most texts


def test_a_percent_encoded_message_is_read_as_its_words() -> None:
    """xAI sends its message percent-encoded ("Incorrect%20API%20key..."): the words are
    read (a wrong key, whatever the 400 says) and shown decoded; a message with spaces
    keeps a URL's %20 as written."""
    encoded = "Incorrect%20API%20key%20provided:%20ba***na.%20You%20can%20obtain%20one."
    found = read(400, {"code": "Client specified an invalid argument", "error": encoded})
    assert K.AUTHENTICATION == found.kind
    assert found.message.startswith("Incorrect API key provided: ba***na.")
    plain = "Model not found: see https://example.com/a%20b for the list"
    assert plain == read(404, {"error": {"message": plain}}).message
