"""The policy applied: decorator, call, attempts loops, hooks, testing mode, budget, threads."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import pytest

import compat
from compat._errors import ERROR_CLASSES
from compat._pacing import PROBE_POLL, SLICE, Pacer, RetryBudget

K = compat.ErrorKind


def err(kind: K, retry_after: float | None = None) -> compat.LLMError:
    return ERROR_CLASSES[kind](kind=kind, message=f"{kind.value} happened", retry_after=retry_after)


def failing(errors: list[BaseException], result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    """A function that raises each of *errors* in turn, then returns *result*; and its call count."""
    calls = [0]

    def fn() -> str:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return result

    return fn, calls


def test_call_retries_until_success() -> None:
    """call() retries retryable failures and returns the eventual result."""
    fn, calls = failing([err(K.SERVER_ERROR), err(K.TIMEOUT)])
    with compat.retry_testing():
        assert "ok" == compat.RetryPolicy().call(fn)
    assert 3 == calls[0]


def test_call_raises_a_non_retryable_error_at_once() -> None:
    """A quota error is raised after one attempt."""
    fn, calls = failing([err(K.QUOTA_EXCEEDED)])
    with pytest.raises(compat.QuotaExceededError):
        compat.RetryPolicy().call(fn)
    assert 1 == calls[0]


def test_foreign_exceptions_raise_as_themselves() -> None:
    """A bug in the called code is not retried and not wrapped."""
    fn, calls = failing([ZeroDivisionError("bug")])
    with pytest.raises(ZeroDivisionError):
        compat.RetryPolicy().call(fn)
    assert 1 == calls[0]


def test_gives_up_at_max_attempts_with_the_last_error() -> None:
    """After max_attempts the last error is raised, from the original exception."""
    import requests

    originals: list[BaseException] = [requests.ConnectionError(f"refused {i}") for i in range(5)]
    fn, calls = failing(list(originals))
    with compat.retry_testing(), pytest.raises(compat.APIConnectionError) as info:
        compat.RetryPolicy(max_attempts=3).call(fn)
    assert 3 == calls[0]
    assert originals[2] is info.value.__cause__


def test_decorator_sync_and_async() -> None:
    """@policy works on plain and async functions."""
    policy = compat.RetryPolicy()
    fn, calls = failing([err(K.CONNECTION)])

    @policy
    def sync() -> str:
        return fn()

    async_errors = [err(K.OVERLOADED)]
    async_calls = [0]

    @policy
    async def coro() -> str:
        async_calls[0] += 1
        if async_errors:
            raise async_errors.pop()
        return "async ok"

    with compat.retry_testing():
        assert "ok" == sync()
        assert "async ok" == asyncio.run(coro())
    assert (2, 2) == (calls[0], async_calls[0])


def test_attempts_loop_sync() -> None:
    """for attempt in policy.attempts(): with attempt: ... retries the block."""
    fn, _ = failing([err(K.RATE_LIMITED, 0.01), err(K.RATE_LIMITED, 0.01)])
    numbers = []
    with compat.retry_testing():
        for attempt in compat.RetryPolicy().attempts():
            with attempt:
                numbers.append(attempt.number)
                result = fn()
    assert "ok" == result
    assert [1, 2, 3] == numbers


def test_attempts_loop_async() -> None:
    """async for attempt in policy.aattempts(): with attempt: ... retries the block."""
    fn, calls = failing([err(K.TIMEOUT)])

    async def main() -> str:
        async for attempt in compat.RetryPolicy().aattempts():
            with attempt:
                return fn()
        raise AssertionError("loop ended without a result")

    with compat.retry_testing():
        assert "ok" == asyncio.run(main())
    assert 2 == calls[0]


def test_attempts_loop_raises_when_giving_up() -> None:
    """The attempts loop raises the common error when the policy gives up."""
    fn, calls = failing([err(K.AUTHENTICATION)])

    def loop() -> None:
        for attempt in compat.RetryPolicy().attempts():
            with attempt:
                fn()

    with pytest.raises(compat.AuthenticationError):
        loop()
    assert 1 == calls[0]


def test_on_retry_hook_and_log_records(caplog: pytest.LogCaptureFixture) -> None:
    """The hook sees (error, attempt, wait) before each wait; each retry is logged."""
    seen: list[tuple[K, int, float]] = []
    policy = compat.RetryPolicy(on_retry=lambda e, n, w: seen.append((e.kind, n, w)))
    fn, _ = failing([err(K.RATE_LIMITED, 2.0), err(K.SERVER_ERROR)])
    with compat.retry_testing(), caplog.at_level(logging.INFO, logger="compat.retry"):
        policy.call(fn)
    assert [K.RATE_LIMITED, K.SERVER_ERROR] == [kind for kind, _, _ in seen]
    assert [1, 2] == [n for _, n, _ in seen]
    assert 2.0 <= seen[0][2] <= 2.2
    assert 2 == sum("retrying in" in r.getMessage() for r in caplog.records)


def test_testing_mode_skips_sleep_but_not_decisions() -> None:
    """In testing mode nothing sleeps, yet the waits still count toward the deadline."""
    policy = compat.RetryPolicy(deadline=10.0, max_attempts=100)
    fn, calls = failing([err(K.RATE_LIMITED, 4.0) for _ in range(10)])
    started = time.monotonic()
    with compat.retry_testing(), pytest.raises(compat.RateLimitError):
        policy.call(fn)
    assert time.monotonic() - started < 1.0
    assert 3 == calls[0]  # waits of >= 4 s: 0 -> 4 -> 8, and a third would cross 10 s


def test_real_waits_honour_retry_after_and_the_deadline() -> None:
    """Without testing mode the waits are real: no earlier than asked, and never past the deadline."""
    policy = compat.RetryPolicy(deadline=0.5, max_attempts=10, pacing=False)
    fn, calls = failing([err(K.RATE_LIMITED, 0.15) for _ in range(10)])
    started = time.monotonic()
    with pytest.raises(compat.RateLimitError):
        policy.call(fn)
    spent = time.monotonic() - started
    assert 3 <= calls[0] <= 4
    assert 0.15 * (calls[0] - 1) <= spent < 0.5 + 0.1


def test_async_cancellation_during_a_wait_ends_at_once() -> None:
    """Cancelling an async call while it waits ends it now and is never retried."""
    calls = [0]

    async def fn() -> None:
        calls[0] += 1
        raise err(K.RATE_LIMITED, 30.0)

    async def main() -> float:
        task = asyncio.ensure_future(compat.RetryPolicy(pacing=False).acall(fn))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert asyncio.run(main()) < 0.5
    assert 1 == calls[0]


def test_budget_bounds_retries_during_an_outage() -> None:
    """With every call failing, retries stop once the budget is spent: errors surface at once."""
    policy = compat.RetryPolicy(budget_capacity=5, max_attempts=4)
    attempts = 0
    with compat.retry_testing():
        for _ in range(20):
            fn, calls = failing([err(K.OVERLOADED) for _ in range(10)])
            with pytest.raises(compat.OverloadedError):
                policy.call(fn)
            attempts += calls[0]
    assert 20 + 5 == attempts


def test_budget_refills_with_successes() -> None:
    """Each success gives back a fraction of a retry, never beyond the capacity."""
    budget = RetryBudget(capacity=2, refill=0.5)
    assert budget.withdraw()
    assert budget.withdraw()
    assert not budget.withdraw()
    budget.deposit()
    assert not budget.available()
    budget.deposit()
    assert budget.withdraw()
    for _ in range(10):
        budget.deposit()
    assert 2 == budget.tokens


def test_shared_state_under_threads_and_asyncio() -> None:
    """Budget and pacer stay consistent when many threads and tasks use them at once."""
    budget = RetryBudget(capacity=1000, refill=1.0)
    taken = [0]
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(500):
            if budget.withdraw():
                with lock:
                    taken[0] += 1

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()

    async def tasks() -> None:
        async def one() -> None:
            for _ in range(100):
                if budget.withdraw():
                    with lock:
                        taken[0] += 1
                await asyncio.sleep(0)

        await asyncio.gather(*(one() for _ in range(10)))

    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    assert 1000 == taken[0]
    assert 0 == budget.tokens

    pacer = Pacer(probe_concurrency=100, probe_window=0.0)
    pacer.observe(
        0.0,
        {
            "x-ratelimit-limit-requests": "10",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1s",
        },
        None,
        limited=False,
    )
    delays: list[float] = []

    def reserve() -> None:
        for _ in range(50):
            delay, go = pacer.reserve(0.0)
            assert go
            with lock:
                delays.append(delay)

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 400 reservations at 10 per second (used at 98 %), none lost: all distinct, the last
    # one 400 / 9.8 s away.
    assert 400 == len(set(round(d, 6) for d in delays))
    assert 400 / 9.8 == pytest.approx(max(delays))


def test_pacer_learns_rate_from_headers() -> None:
    """limit 20, remaining 15, reset 250ms: 20 requests per second, used at 98 %; 15 left now."""
    pacer = Pacer(probe_concurrency=1, probe_window=1.0)
    headers = {
        "x-ratelimit-limit-requests": "20",
        "x-ratelimit-remaining-requests": "15",
        "x-ratelimit-reset-requests": "250ms",
    }
    pacer.observe(100.0, headers, None, limited=False)
    assert 19.6 == pytest.approx(pacer.rate)
    waits = [pacer.reserve(100.0)[0] for _ in range(17)]
    assert [0.0] * 15 == waits[:15]
    assert [1 / 19.6, 2 / 19.6] == pytest.approx(waits[15:])


def test_pacer_keeps_the_tightest_rate_bound() -> None:
    """The whole-number remaining count lets one answer overstate the rate; the pacer keeps
    the lowest bound seen until an answer proves the rate rose or the limit changes."""
    pacer = Pacer(probe_concurrency=1, probe_window=1.0)

    def answer(limit: int, remaining: int, reset_ms: int) -> None:
        headers = {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": f"{reset_ms}ms",
        }
        pacer.observe(100.0, headers, None, limited=False)

    # A bucket of 5 at 20/s holding 0.9 of a request: remaining 0, full again in 205 ms.
    answer(5, 0, 205)
    assert 5 / 0.205 * 0.98 == pytest.approx(pacer.rate)  # 24.4/s: too fast
    answer(5, 0, 250)  # the same bucket holding 0.0
    assert 20 * 0.98 == pytest.approx(pacer.rate)
    answer(5, 0, 205)  # an overstating answer again: the tighter bound stays
    assert 20 * 0.98 == pytest.approx(pacer.rate)
    answer(5, 0, 100)  # at least 40/s: the rate rose
    assert 50 * 0.98 == pytest.approx(pacer.rate)
    answer(10, 0, 1000)  # a new limit: start again from its bound
    assert 10 * 0.98 == pytest.approx(pacer.rate)


def test_pacer_cooldown_after_a_429() -> None:
    """A 429 asking for 2 s holds every later call of the target until then, and after it
    the calls are paced on the estimated rate (one per 2 s), not released together."""
    pacer = Pacer(probe_concurrency=1, probe_window=1.0)
    pacer.observe(10.0, None, 2.0, limited=True)
    assert (SLICE, False) == pacer.reserve(10.5)  # during the cooldown: ask again later
    assert (0.0, True) == pacer.reserve(12.0)  # the cooldown is over: go
    assert (SLICE, False) == pacer.reserve(12.0)  # the next one is 2 s away on the estimate


def test_estimated_rate_rises_with_successes() -> None:
    """Without headers, successes raise the estimated rate, and waiting callers see it."""
    pacer = Pacer(probe_concurrency=1, probe_window=1.0)
    pacer.observe(0.0, None, 1.0, limited=True)
    assert 1.0 == pacer.rate
    for _ in range(5):
        pacer.observe(1.0, None, None, limited=False)
    assert 1.25**5 == pytest.approx(pacer.rate)


def test_probe_holds_a_burst_until_limits_are_known() -> None:
    """Before limits are known, probe_concurrency calls go out, one more per success that
    tells nothing; a 429 or the end of the window ends the discovery."""
    pacer = Pacer(probe_concurrency=2, probe_window=5.0)
    assert (0.0, True) == pacer.reserve(0.0)
    assert (0.0, True) == pacer.reserve(0.0)
    assert (PROBE_POLL, False) == pacer.reserve(0.0)
    pacer.observe(0.1, None, None, limited=False)  # one answered, the window grows to 3
    assert (0.0, True) == pacer.reserve(0.1)
    assert (0.0, True) == pacer.reserve(0.1)
    assert (PROBE_POLL, False) == pacer.reserve(0.1)
    assert (0.0, True) == pacer.reserve(6.0)  # the window is over
    limited = Pacer(probe_concurrency=1, probe_window=5.0)
    limited.reserve(0.0)
    limited.observe(0.1, None, 0.5, limited=True)
    assert (SLICE, False) == limited.reserve(0.2)  # discovery over: paced by the 429
