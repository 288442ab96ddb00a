"""The policy applied: decorator, call, attempts loops, hooks, testing mode, budget, threads."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import attrs
import pytest

import compat
from compat._errors import ERROR_CLASSES
from compat.retry.state import LocalState

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
    """The hook sees (error, attempt, wait) before each wait; each retry is logged, with its
    decision record attached."""
    seen: list[tuple[K, int, float]] = []
    policy = compat.RetryPolicy(on_retry=lambda e, n, w: seen.append((e.kind, n, w)))
    fn, _ = failing([err(K.RATE_LIMITED, 2.0), err(K.SERVER_ERROR)])
    with compat.retry_testing(), caplog.at_level(logging.INFO, logger="compat.retry"):
        policy.call(fn)
    assert [K.RATE_LIMITED, K.SERVER_ERROR] == [kind for kind, _, _ in seen]
    assert [1, 2] == [n for _, n, _ in seen]
    assert 2.0 <= seen[0][2] <= 2.2
    retries = [r for r in caplog.records if getattr(r, "compat_event", None) is not None]
    assert ["retry", "retry"] == [r.compat_event.action for r in retries]  # type: ignore[attr-defined]
    assert all("retry after attempt" in r.getMessage() for r in retries)


def test_testing_mode_skips_sleep_but_not_decisions() -> None:
    """In testing mode nothing sleeps, yet the waits still count toward the deadline."""
    policy = compat.RetryPolicy(deadline=10.0, max_attempts=100)
    fn, calls = failing([err(K.RATE_LIMITED, 4.0) for _ in range(10)])
    started = time.monotonic()
    with compat.retry_testing(), pytest.raises(compat.RateLimitError):
        policy.call(fn)
    assert time.monotonic() - started < 1.0
    assert 3 == calls[0]  # waits of >= 4 s: 0 -> 4 -> 8, and a third would cross 10 s


def test_testing_mode_lets_concurrent_async_waits_overlap() -> None:
    """Twenty async calls told at once to wait 2 s wait those 2 s together on the virtual
    clock, as they would on a real one: each retries within its 10 s deadline (were their
    waits added up, the fifth would be past it)."""
    from compat.retry.engine import now

    policy = compat.RetryPolicy(deadline=10.0, pacing=False)

    def call() -> Callable[[], object]:
        fn, _ = failing([err(K.RATE_LIMITED, 2.0)])

        async def once() -> str:
            return fn()

        return once

    async def main() -> tuple[list[str], float]:
        started = now()
        results = await asyncio.gather(*(policy.acall(call()) for _ in range(20)))
        return results, now() - started

    with compat.retry_testing():
        results, spent = asyncio.run(main())
    assert ["ok"] * 20 == results
    assert 2.0 <= spent < 2.5


def test_testing_mode_a_cancelled_async_wait_wakes_nobody_early() -> None:
    """Under the virtual clock, a task cancelled while it sleeps leaves the clock alone:
    the other sleepers wake in order, at their own times."""
    from compat.retry.engine import asleep, now

    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float, started: float) -> None:
        await asleep(seconds)
        woke.append((name, round(now() - started, 3)))

    async def main() -> None:
        started = now()
        short = asyncio.ensure_future(sleeper("short", 1.0, started))
        long = asyncio.ensure_future(sleeper("long", 5.0, started))
        cancelled = asyncio.ensure_future(sleeper("cancelled", 3.0, started))
        await asyncio.sleep(0)  # all three asleep
        cancelled.cancel()
        await asyncio.gather(short, long)
        with pytest.raises(asyncio.CancelledError):
            await cancelled

    with compat.retry_testing():
        asyncio.run(main())
    assert [("short", 1.0), ("long", 5.0)] == woke


def test_testing_mode_stands_still_while_a_state_answers() -> None:
    """Under the virtual clock, a state's answer takes no virtual time, however long its
    round trip: the tasks asleep meanwhile do not run the clock ahead of it. (A shared
    state in Redis answers from a thread; tasks polling a slow start would otherwise
    pass its probe window in a few real milliseconds.)"""
    from compat.retry.engine import asleep

    class SlowState(LocalState):
        async def aacquire(self, *args: object, **kwargs: object) -> tuple[int, float, str, int]:
            await asyncio.sleep(0.05)  # a real round trip
            return await super().aacquire(*args, **kwargs)  # type: ignore[arg-type]

    policy = compat.RetryPolicy(state=SlowState())
    moved: list[float] = []

    async def attempt() -> str:
        return "ok"

    async def ticking() -> None:
        while True:
            await asleep(0.01)

    async def main() -> None:
        from compat.retry import engine

        ticker = asyncio.ensure_future(ticking())
        await asyncio.sleep(0)
        before = engine._clock.offset
        assert "ok" == await policy.acall(attempt)
        moved.append(engine._clock.offset - before)
        ticker.cancel()

    with compat.retry_testing():
        asyncio.run(main())
    assert [0.0] == moved


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
    """With every call failing and holding off, retries stop once the budget is spent:
    errors surface at once."""
    policy = compat.RetryPolicy(budget_capacity=5, max_attempts=4, hold=False)
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
    state = LocalState()
    assert state.budget_take(2)
    assert state.budget_take(2)
    assert not state.budget_take(2)
    state.budget_give(2, 0.5)
    assert 0.5 == state.budget_tokens(2)
    state.budget_give(2, 0.5)
    assert state.budget_take(2)
    for _ in range(10):
        state.budget_give(2, 0.5)
    assert 2 == state.budget_tokens(2)


def test_budget_loses_no_update_under_threads_and_asyncio() -> None:
    """Withdrawals from many threads and tasks at once never overdraw and are all counted."""
    state = LocalState()
    taken = [0]
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(500):
            if state.budget_take(1000):
                with lock:
                    taken[0] += 1

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()

    async def tasks() -> None:
        async def one() -> None:
            for _ in range(100):
                if await state.abudget_take(1000):
                    with lock:
                        taken[0] += 1
                await asyncio.sleep(0)

        await asyncio.gather(*(one() for _ in range(10)))

    asyncio.run(tasks())
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "deadlock"
    assert 1000 == taken[0]
    assert 0 == state.budget_tokens(1000)


def test_hooks_receive_every_decision() -> None:
    """A policy's hooks and the process-wide hooks see one record per decision: the attempts,
    the retry with its wait and cause, the give-up with its reason; then the success of
    another call."""
    own: list[compat.Event] = []
    everywhere: list[compat.Event] = []
    policy = compat.RetryPolicy(hooks=own.append, max_attempts=2, pacing=False)
    compat.add_hook(everywhere.append)
    try:
        fn, _ = failing([err(K.RATE_LIMITED, 1.5), err(K.RATE_LIMITED, 1.5)])
        with compat.retry_testing(), pytest.raises(compat.RateLimitError):
            policy.call(fn, target="t")
        fn, _ = failing([])
        policy.call(fn, target="t")
    finally:
        compat.remove_hook(everywhere.append)
    assert own == everywhere
    assert ["attempt", "retry", "attempt", "give_up", "attempt", "success"] == [
        e.action for e in own
    ]
    retry, give_up = own[1], own[3]
    assert ("server", K.RATE_LIMITED, "t", 1) == (
        retry.cause,
        retry.kind,
        retry.target,
        retry.attempt,
    )
    assert 1.5 <= retry.wait <= 1.65
    assert ("attempts", 2) == (give_up.cause, give_up.attempt)
    assert give_up.call != own[-1].call  # the records of one call share its number
    assert own[0].call == give_up.call


def test_a_failing_hook_does_not_fail_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """A hook that raises is logged; the call goes on as if it were not there."""

    def broken(event: compat.Event) -> None:
        raise RuntimeError("hook bug")

    fn, _ = failing([err(K.SERVER_ERROR)])
    with compat.retry_testing(), caplog.at_level(logging.ERROR, logger="compat.retry"):
        assert "ok" == compat.RetryPolicy(hooks=[broken], pacing=False).call(fn)
    assert any("hook" in r.getMessage() for r in caplog.records)


def test_a_cancelled_call_gives_its_slot_back() -> None:
    """With one call at a time allowed while the target is probed, cancelling the call in
    flight lets the next one go at once (it once waited for the whole probe window)."""
    policy = compat.RetryPolicy(probe_concurrency=1, probe_window=30.0)

    async def main() -> float:
        hang = asyncio.Event()

        async def stuck() -> str:
            await hang.wait()
            return "never"

        async def quick() -> str:
            return "ok"

        first = asyncio.ensure_future(policy.acall(stuck, target="t"))
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        started = time.monotonic()
        assert "ok" == await asyncio.wait_for(policy.acall(quick, target="t"), 10)
        return time.monotonic() - started

    assert asyncio.run(main()) < 5.0  # a hang guard: the slot was free at once


def test_an_outage_holds_calls_until_a_probe_succeeds() -> None:
    """Calls that meet a target down wait (without spending the budget) while one probe at
    a time tests it, and succeed once it is back: few attempts, no failure."""
    outage_until = [0.0]
    attempts = [0]

    def service() -> str:
        attempts[0] += 1
        from compat.retry.engine import now

        if outage_until[0] == 0.0:
            outage_until[0] = now() + 20.0
        if now() < outage_until[0]:
            raise err(K.OVERLOADED)
        return "ok"

    policy = compat.RetryPolicy(max_attempts=20, deadline=60.0)
    with compat.retry_testing():
        results = [policy.call(service, target="t") for _ in range(5)]
    assert ["ok"] * 5 == results
    # 3 failures start the hold (two backoff retries before it); then probes at 0.5, 1.5,
    # 3.5 s and every 2 s until the 20 s are over; then one attempt for each other call.
    assert attempts[0] <= 3 + 12 + 4
    assert 8 == policy.state.budget_tokens(policy.budget_capacity) // 1


def test_every_call_ends_with_one_final_record() -> None:
    """success, give_up or abort: a cancelled call and a bug in the called code end with
    an abort record, so hooks (spans, metrics) can close what they opened."""
    seen: list[compat.Event] = []
    policy = compat.RetryPolicy(hooks=seen.append, pacing=False)
    fn, _ = failing([ZeroDivisionError("bug")])
    with pytest.raises(ZeroDivisionError):
        policy.call(fn)

    async def cancelled() -> None:
        async def hang() -> None:
            await asyncio.sleep(30)

        task = asyncio.ensure_future(policy.acall(hang))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())
    finals = [e for e in seen if e.action in ("success", "give_up", "abort")]
    assert ["abort", "abort"] == [e.action for e in finals]
    assert "ZeroDivisionError" in finals[0].reason
    assert "CancelledError" in finals[1].reason
    assert finals[0].call != finals[1].call


def over(deployments: dict[str, list[BaseException]]) -> tuple[Callable[[str], str], list[str]]:
    """A service with several deployments, each failing with its list of errors in turn."""
    tried: list[str] = []

    def call(name: str) -> str:
        tried.append(name)
        errors = deployments[name]
        if errors:
            raise errors.pop(0)
        return f"served by {name}"

    return call, tried


def run_over(policy: compat.RetryPolicy, service: Callable[[str], str], names: list[str]) -> str:
    for attempt in policy.attempts(targets=names):
        with attempt:
            result = service(names[attempt.deployment])
    return result


def test_a_call_moves_to_the_next_deployment_as_the_policy_says() -> None:
    """Quota and overload move a call on at once; server errors after the deployment's own
    retries; an invalid request, which would fail everywhere, never moves."""
    policy = compat.RetryPolicy(pacing=False)
    service, tried = over({"a": [err(K.QUOTA_EXCEEDED)], "b": []})
    assert "served by b" == run_over(policy, service, ["a", "b"])
    assert ["a", "b"] == tried
    service, tried = over({"a": [err(K.OVERLOADED)], "b": []})
    with compat.retry_testing():
        assert "served by b" == run_over(policy, service, ["a", "b"])
    assert ["a", "b"] == tried
    service, tried = over({"a": [err(K.SERVER_ERROR)] * 6, "b": []})
    with compat.retry_testing():
        assert "served by b" == run_over(
            compat.RetryPolicy(max_attempts=3, pacing=False), service, ["a", "b"]
        )
    assert ["a", "a", "a", "b"] == tried
    service, tried = over({"a": [err(K.INVALID_REQUEST)], "b": []})
    with pytest.raises(compat.InvalidRequestError):
        run_over(policy, service, ["a", "b"])
    assert ["a"] == tried
    service, tried = over({"a": [err(K.CONTENT_FILTERED)], "b": []})
    with pytest.raises(compat.ContentFilteredError):
        run_over(policy, service, ["a", "b"])
    filtering = attrs.evolve(policy, failover_now={K.CONTENT_FILTERED, K.QUOTA_EXCEEDED})
    service, tried = over({"a": [err(K.CONTENT_FILTERED)], "b": []})
    assert "served by b" == run_over(filtering, service, ["a", "b"])


def test_an_exhausted_deployment_is_skipped_until_a_probe_succeeds() -> None:
    """After a quota error, later calls skip the deployment without trying it, and say why in
    their records; the last deployment behaves as a single client."""
    seen: list[compat.Event] = []
    policy = compat.RetryPolicy(hooks=seen.append)
    service, tried = over({"primary": [err(K.QUOTA_EXCEEDED)] * 10, "secondary": []})
    for _ in range(5):
        assert "served by secondary" == run_over(policy, service, ["primary", "secondary"])
    assert ["primary"] + ["secondary"] * 5 == tried
    moves = [e for e in seen if e.action == "failover"]
    assert 5 == len(moves)
    assert "quota_exceeded" in moves[0].reason
    assert all("skipped" in e.reason and "held" == e.cause for e in moves[1:])
    served = [e.target for e in seen if e.action == "success"]
    assert ["secondary"] * 5 == served
