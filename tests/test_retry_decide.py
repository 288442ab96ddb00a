"""RetryPolicy.decide: the one retry decision, table-driven with a fixed random source."""

from __future__ import annotations

import attrs
import pytest

import compat
from compat._errors import ERROR_CLASSES

K = compat.ErrorKind
HALF = lambda: 0.5  # noqa: E731 - a fixed random source: jitter at its midpoint
ONE = lambda: 1.0  # noqa: E731 - jitter at its maximum


def error(
    kind: K,
    *,
    retry_after: float | None = None,
    retryable: bool | None = None,
    billed: bool | None = None,
) -> compat.LLMError:
    return ERROR_CLASSES[kind](
        kind=kind, message="x", retry_after=retry_after, retryable=retryable, billed=billed
    )


RETRIED = {K.CONFLICT, K.RATE_LIMITED, K.OVERLOADED, K.SERVER_ERROR, K.TIMEOUT, K.CONNECTION}


@pytest.mark.parametrize("kind", list(K))
def test_every_kind_by_default(kind: K) -> None:
    """Transient kinds retry on the first failure; the others never do."""
    decision = compat.RetryPolicy().decide(error(kind), 1, 0.0, random=HALF)
    assert (kind in RETRIED) == decision.retry
    if not decision.retry:
        assert kind.value in decision.reason


def test_quota_never_retries_even_with_retry_after() -> None:
    """A quota error with a retry-after header still does not retry."""
    decision = compat.RetryPolicy().decide(error(K.QUOTA_EXCEEDED, retry_after=20.0), 1, 0.0)
    assert not decision.retry


def test_x_should_retry_both_ways() -> None:
    """The server's explicit signal (folded into retryable) wins over the kind's default."""
    policy = compat.RetryPolicy()
    assert policy.decide(error(K.INVALID_REQUEST, retryable=True), 1, 0.0, random=HALF).retry
    refused = policy.decide(error(K.SERVER_ERROR, retryable=False), 1, 0.0, random=HALF)
    assert not refused.retry
    assert "server said" in refused.reason


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0)])
def test_exponential_backoff_with_full_jitter(attempt: int, ceiling: float) -> None:
    """Without a server signal the wait is uniform(0, min(max_wait, 0.5 * 2 ** (n - 1)))."""
    policy = compat.RetryPolicy(max_attempts=10)
    assert ceiling == policy.decide(error(K.SERVER_ERROR), attempt, 0.0, random=ONE).wait
    assert ceiling / 2 == policy.decide(error(K.SERVER_ERROR), attempt, 0.0, random=HALF).wait
    assert 0.0 == policy.decide(error(K.SERVER_ERROR), attempt, 0.0, random=lambda: 0.0).wait


def test_one_wait_is_capped() -> None:
    """A computed wait never exceeds max_wait."""
    policy = compat.RetryPolicy(max_attempts=50, deadline=None)
    assert 20.0 == policy.decide(error(K.TIMEOUT), 30, 0.0, random=ONE).wait


def test_overloaded_waits_longer_than_server_error() -> None:
    """overloaded backs off from 2 s (cap 30 s), server_error from 0.5 s (cap 20 s)."""
    policy = compat.RetryPolicy(max_attempts=50, deadline=None)
    assert 2.0 == policy.decide(error(K.OVERLOADED), 1, 0.0, random=ONE).wait
    assert 0.5 == policy.decide(error(K.SERVER_ERROR), 1, 0.0, random=ONE).wait
    assert 30.0 == policy.decide(error(K.OVERLOADED), 20, 0.0, random=ONE).wait


@pytest.mark.parametrize("jitter", [0.0, 0.5, 1.0])
def test_server_wait_replaces_backoff_and_jitter_only_adds(jitter: float) -> None:
    """retry_after is waited in full, plus at most 10 %: never earlier than the server asked."""
    decision = compat.RetryPolicy().decide(
        error(K.RATE_LIMITED, retry_after=6.0), 1, 0.0, random=lambda: jitter
    )
    assert decision.retry
    assert 6.0 * (1 + 0.1 * jitter) == pytest.approx(decision.wait)
    assert "6" in decision.reason


def test_server_wait_over_the_ceiling_fails_now() -> None:
    """A server that asks for more than max_server_wait is not waited for."""
    decision = compat.RetryPolicy().decide(error(K.RATE_LIMITED, retry_after=3600.0), 1, 0.0)
    assert not decision.retry
    assert "ceiling" in decision.reason
    assert 3600.0 == decision.wait


def test_deadline_is_never_crossed() -> None:
    """A wait that would end past the deadline is not taken, server-directed or computed."""
    policy = compat.RetryPolicy(deadline=10.0)
    assert not policy.decide(error(K.RATE_LIMITED, retry_after=5.0), 1, 6.0, random=HALF).retry
    assert policy.decide(error(K.RATE_LIMITED, retry_after=5.0), 1, 4.0, random=lambda: 0.0).retry
    assert not policy.decide(error(K.SERVER_ERROR), 1, 9.9, random=ONE).retry
    assert "deadline" in policy.decide(error(K.SERVER_ERROR), 1, 9.9, random=ONE).reason


def test_attempts_are_capped() -> None:
    """After max_attempts attempts, no more."""
    policy = compat.RetryPolicy(max_attempts=3)
    assert policy.decide(error(K.TIMEOUT), 2, 0.0, random=HALF).retry
    decision = policy.decide(error(K.TIMEOUT), 3, 0.0, random=HALF)
    assert not decision.retry
    assert "3 attempts" in decision.reason


def test_spent_budget_stops_retries_but_not_server_directed_rate_limits() -> None:
    """With the budget spent, a 503 surfaces at once; a 429 with retry-after still waits."""
    policy = compat.RetryPolicy()
    spent = policy.decide(error(K.OVERLOADED), 1, 0.0, budget_left=False, random=HALF)
    assert not spent.retry
    assert "budget" in spent.reason
    assert policy.decide(error(K.RATE_LIMITED, retry_after=1.0), 1, 0.0, budget_left=False).retry
    assert not policy.decide(error(K.RATE_LIMITED), 1, 0.0, budget_left=False, random=HALF).retry


def test_billed_failures_can_count_against_the_budget() -> None:
    """With count_billed, even a server-directed rate limit draws on the budget if billed."""
    policy = compat.RetryPolicy(count_billed=True)
    billed = error(K.RATE_LIMITED, retry_after=1.0, billed=True)
    assert not policy.decide(billed, 1, 0.0, budget_left=False).retry
    assert policy.draws_budget(billed)
    assert not compat.RetryPolicy().draws_budget(billed)


def test_decide_is_pure() -> None:
    """The same arguments give the same decision, and deciding changes nothing."""
    policy = compat.RetryPolicy()
    budget_before = policy.state.budget_tokens(policy.budget_capacity)
    first = policy.decide(error(K.SERVER_ERROR), 2, 1.0, random=HALF)
    assert first == policy.decide(error(K.SERVER_ERROR), 2, 1.0, random=HALF)
    assert budget_before == policy.state.budget_tokens(policy.budget_capacity)


def test_policy_is_an_immutable_value() -> None:
    """Fields cannot change; evolve() makes a copy that shares the state (the live
    counters) and follows its own fields."""
    policy = compat.RetryPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.max_attempts = 3  # type: ignore[misc]
    changed = attrs.evolve(policy, max_attempts=3)
    assert 3 == changed.max_attempts
    assert policy.state is changed.state
    assert compat.RetryPolicy() == compat.RetryPolicy()


def test_an_evolved_policy_follows_its_fields() -> None:
    """A copy with budget_capacity=0 has no budget, though it shares the original's state:
    the state holds the counters, the fields hold the limits."""
    policy = compat.RetryPolicy(budget_capacity=2, max_attempts=10, hold=False)
    fn_errors = [error(K.SERVER_ERROR) for _ in range(5)]

    def failing() -> str:
        if fn_errors:
            raise fn_errors.pop(0)
        return "ok"

    with compat.retry_testing(), pytest.raises(compat.ServerError) as info:
        policy.call(failing)
    assert "budget" in str(info.value.__notes__)  # two retries spent the budget of 2
    assert 0 == policy.state.budget_tokens(policy.budget_capacity)
    unlimited = attrs.evolve(policy, budget_capacity=0)
    assert unlimited.state is policy.state
    with compat.retry_testing():
        assert "ok" == unlimited.call(failing)  # the two errors left are retried
    smaller = attrs.evolve(policy, budget_capacity=1)
    assert 0 == smaller.state.budget_tokens(smaller.budget_capacity)


def test_invalid_fields_are_refused() -> None:
    """Limits that make no sense fail when the policy is made, with the field named."""
    for field, value in (
        ("max_attempts", 0),
        ("deadline", 0),
        ("multiplier", 0.5),
        ("budget_capacity", 0.5),
        ("max_server_wait", float("nan")),
        ("probe_concurrency", 0),
    ):
        with pytest.raises(ValueError, match=field):
            compat.RetryPolicy(**{field: value})


def test_huge_attempt_numbers_do_not_overflow() -> None:
    """A backoff past any float (attempt 1,103 of 0.5 s doubling) is capped, not an
    OverflowError (openai-python's own table has this case)."""
    policy = compat.RetryPolicy(max_attempts=5000, deadline=None)
    decision = policy.decide(error(K.SERVER_ERROR), 1103, 0.0, random=HALF)
    assert decision.retry
    assert policy.max_wait / 2 == decision.wait
