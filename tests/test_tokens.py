"""Token limits: a request's estimated cost, learning a limit from headers and from a 429's
words, pacing on it, and refusing a request that can never pass."""

from __future__ import annotations

import random

import pytest

import compat
from compat.retry import pacing
from compat.retry.pacing import GO, LIMITED, OK, REFUSE, Limits, Observation, TargetState
from compat.retry.tokens import DEFAULT_OUTPUT, Estimator, tpm_limit
from tests.conftest import fake_tiktoken

INF = float("inf")
# OpenAI's own words, as users paste them.
TPM_429 = (
    "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): "
    "Limit 30000, Used 29800, Requested 1200. Please try again in 2.4s. Visit "
    "https://platform.openai.com/account/rate-limits to learn more."
)
TOO_LARGE = (
    "Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit "
    "30000, Requested 45000. The input or output tokens must be reduced in order to run "
    "successfully. Visit https://platform.openai.com/account/rate-limits to learn more."
)


def test_a_tpm_429_names_its_limit() -> None:
    """The limit, what was used and what was asked, from OpenAI's message; none elsewhere."""
    assert (30000, 29800, 1200) == tpm_limit(TPM_429)
    assert (30000, 0, 45000) == tpm_limit(TOO_LARGE)
    assert tpm_limit("Rate limit reached for requests") is None
    assert tpm_limit("(TPM) " + "9" * 100_000) is None


def test_the_estimate_counts_prompt_output_and_n() -> None:
    """Four characters a token (the role's too), a few tokens per message and per reply,
    and the output limit times n."""
    estimator = Estimator()
    kwargs = {
        "model": "no-such-model",
        "messages": [{"role": "user", "content": "x" * 400}],
        "max_tokens": 50,
        "n": 2,
    }
    assert 100 + 1 + 4 + 3 + 100 == pytest.approx(estimator.estimate(kwargs))
    unbounded = {"model": "m", "messages": [{"role": "user", "content": "y" * 40}]}
    assert 10 + 4 + 1 + 3 + DEFAULT_OUTPUT == pytest.approx(estimator.estimate(unbounded))
    assert 25 == pytest.approx(estimator.estimate({"model": "m", "input": "z" * 100}))
    assert 0 == estimator.estimate({"model": "m"})


def test_the_estimate_learns_from_usage_and_its_error_stays_bounded() -> None:
    """Prompts whose real token count is 1.3 times the character estimate, and outputs of
    of 60 to 100 tokens where no limit was set: after a few answers the estimate is within
    5 % of the truth on average and 20 % at worst (the output's own spread), over a long
    run."""
    estimator = Estimator()
    rng = random.Random(3)
    errors = []
    for i in range(300):
        text = "w" * rng.randint(200, 8000)
        kwargs = {"model": "m", "messages": [{"role": "user", "content": text}]}
        prompt_true = estimator.prompt(kwargs) * 1.3
        output_true = rng.randint(60, 100)
        estimate = estimator.estimate(kwargs)
        if i >= 20:
            errors.append(abs(estimate - (prompt_true + output_true)) / (prompt_true + output_true))
        estimator.learn(kwargs, {"prompt_tokens": prompt_true, "completion_tokens": output_true})
    assert sum(errors) / len(errors) < 0.05
    assert max(errors) < 0.20


def test_token_headers_pace_requests_by_their_cost() -> None:
    """A token limit of 6,000 a minute with 1,000 left: a request of 800 goes now, the next
    of 800 waits until 600 more have come back (at 100 tokens a second, used at 98 %)."""
    t = TargetState()
    limits = Limits(2, 0.0)
    seen = Observation(OK, limit_tokens=6000, remaining_tokens=1000, reset_tokens=50.0, tokens=0.0)
    pacing.report(t, 0.0, limits, seen, 0)
    assert 100 * 0.98 == pytest.approx(t.token_rate)
    assert (GO, 0.0) == pacing.acquire(t, 0.0, limits, INF, 800)[:2]
    verdict, wait, why, _ = pacing.acquire(t, 0.0, limits, INF, 800)
    assert (GO, "tokens") == (verdict, why)
    assert 600 / 98 == pytest.approx(wait)


def test_a_tpm_429_without_headers_teaches_the_limit() -> None:
    """A server that sends no headers: its TPM 429 says the limit and the use."""
    t = TargetState()
    limits = Limits(2, 0.0)
    pacing.report(t, 0.0, limits, Observation(LIMITED, tpm=(30000, 29800)), 0)
    assert 500 * 0.98 == pytest.approx(t.token_rate)
    verdict, wait, why, _ = pacing.acquire(t, 0.0, limits, INF, 1200)
    assert (GO, "tokens") == (verdict, why)
    assert (1200 - 200) / 490 == pytest.approx(wait, rel=0.01)


def test_a_request_larger_than_the_whole_limit_is_refused() -> None:
    """Once the limit is known, a request larger than all of it never goes out."""
    t = TargetState()
    limits = Limits(2, 0.0)
    pacing.report(t, 0.0, limits, Observation(LIMITED, tpm=(30000, 0)), 0)
    assert (REFUSE, INF, "too large") == pacing.acquire(t, 0.0, limits, INF, 45000)[:3]


def test_a_request_too_large_fails_at_once_and_is_not_retried() -> None:
    """Through the engine: the server's "Request too large" is not retried, and a second
    such request is refused without being sent."""
    sent = [0]

    def too_large() -> str:
        sent[0] += 1
        raise compat.RateLimitError(kind="rate_limited", message=TOO_LARGE, retryable=False)

    policy = compat.RetryPolicy()

    def call() -> None:
        for attempt in policy.attempts(target="t", tokens=45000):
            with attempt:
                too_large()

    with pytest.raises(compat.RateLimitError):
        call()
    with pytest.raises(compat.RateLimitError) as info:
        call()
    assert 1 == sent[0]
    assert not info.value.retryable
    assert "client" == info.value.origin


def test_loading_tiktoken_never_blocks_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken downloads an encoding on first use, with no timeout: that load runs once
    per model for the whole process, in the background, and requests are estimated by
    characters until it is done."""
    import threading

    release, loaded = threading.Event(), threading.Event()
    loads: list[str] = []

    class Encoding:
        def encode(self, text: str) -> list[int]:
            return [0] * len(text)  # one token a character: unlike the estimate

    def encoding_for_model(model: str) -> Encoding:
        loads.append(model)
        assert release.wait(60), "the test never released the load"
        loaded.set()
        return Encoding()

    fake_tiktoken(monkeypatch, encoding_for_model)  # and the process's cache, empty
    estimator = Estimator()
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 400}]}
    by_characters = (400 + len("user")) / 4 + 4 + 3  # the role is text too
    # the load is stuck (a download that hangs): the call goes on, by characters
    assert estimator.prompt(request) == by_characters
    assert Estimator().prompt(request) == by_characters  # another client's: the same load
    release.set()
    assert loaded.wait(60)
    for _ in range(1000):  # the thread stores the encoding right after it is returned
        if estimator.prompt(request) != by_characters:
            break
        threading.Event().wait(0.01)
    assert estimator.prompt(request) == 400 + len("user") + 4 + 3
    assert ["gpt-4o"] == loads  # one load for the process, not one per client
