"""The retry engine: one call under a policy, attempt after attempt.

:class:`Run` is the whole engine: before each attempt it asks the policy's state for a
slot (waiting out cooldowns, pacing, slow starts and outage holds, never past the
call's deadline); after a failure it tells the state what the answer said, asks
:meth:`RetryPolicy.decide <compat.RetryPolicy.decide>` and either returns the wait or
raises the common error; after a success it tells the state and credits the budget.
Every decision becomes an :class:`~compat.retry.events.Event` for the hooks.

The loops around it are :func:`attempts` and :func:`aattempts`; ``RetryPolicy.call``,
``acall``, the decorator and ``compat.wrap`` all run on them.

Time comes from :func:`now` and waits go through :func:`sleep`/:func:`asleep`, so that
:func:`retry_testing` can replace both with a virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Hashable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import attrs

from compat._kinds import ErrorKind
from compat._parse import parse_duration
from compat._secrets import scrub
from compat._translate import translate
from compat.retry import events, pacing
from compat.retry.events import Event, dispatch
from compat.retry.resend import may_have_arrived
from compat.retry.target import describe

if TYPE_CHECKING:
    from compat._errors import LLMError
    from compat.retry.policy import Decision, RetryPolicy

# ------------------------------------------------------------------------------- clock


class _Sleepers:
    """The tasks of one event loop asleep on the virtual clock, by wake time."""

    __slots__ = ("heap", "holds", "ticking")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self.ticking = False
        self.holds = 0  # the tasks awaiting their state: the clock stands still meanwhile


class _Clock:
    __slots__ = ("offset", "sleepers", "virtual")

    def __init__(self) -> None:
        self.offset = 0.0
        self.virtual = False
        self.sleepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sleepers] = (
            weakref.WeakKeyDictionary()
        )


_clock = _Clock()
_order = itertools.count()
T = TypeVar("T")


def now() -> float:
    """The engine's clock: monotonic seconds (virtual ones under :func:`retry_testing`)."""
    return time.monotonic() + _clock.offset


def sleep(seconds: float) -> None:
    """Wait *seconds* (under :func:`retry_testing`, move the virtual clock instead)."""
    if seconds <= 0:
        return
    if _clock.virtual:
        _clock.offset += seconds
        return
    time.sleep(seconds)


async def asleep(seconds: float) -> None:
    """Wait *seconds*, cancellably.

    Under :func:`retry_testing` the task sleeps on the virtual clock: a loop's sleeping
    tasks wake one at a time in the order of their wake times, the clock moved to each,
    and each runs before the clock moves on. Twenty tasks told at once to wait 10 ms
    take 10 ms of virtual time between them, as on a real clock (not 200 ms).
    """
    if not _clock.virtual:
        await asyncio.sleep(max(seconds, 0.0))
        return
    loop, sleepers = _sleepers()
    waiter: asyncio.Future[None] = loop.create_future()
    heapq.heappush(sleepers.heap, (now() + max(seconds, 0.0), next(_order), waiter))
    _start_ticking(loop, sleepers)
    await waiter


async def _from_state(answer: Awaitable[T]) -> T:
    """The state's *answer*. Under :func:`retry_testing` the virtual clock stands still
    while a task awaits it: a round trip to Redis is part of a decision, which takes no
    virtual time (else the tasks asleep meanwhile would run the clock ahead of it)."""
    if not _clock.virtual:
        return await answer
    loop, sleepers = _sleepers()
    sleepers.holds += 1
    try:
        return await answer
    finally:
        sleepers.holds -= 1
        _start_ticking(loop, sleepers)


def _sleepers() -> tuple[asyncio.AbstractEventLoop, _Sleepers]:
    loop = asyncio.get_running_loop()
    sleepers = _clock.sleepers.get(loop)
    if sleepers is None:
        sleepers = _clock.sleepers[loop] = _Sleepers()
    return loop, sleepers


def _start_ticking(loop: asyncio.AbstractEventLoop, sleepers: _Sleepers) -> None:
    if not sleepers.ticking and sleepers.heap and not sleepers.holds:
        # The first tick comes on the loop's next turn: the tasks that run on this one
        # go to sleep before the clock moves.
        sleepers.ticking = True
        loop.call_soon(_tick, loop, sleepers)


def _tick(loop: asyncio.AbstractEventLoop, sleepers: _Sleepers) -> None:
    """Wake the sleeper due first, the clock moved to its wake time (a cancelled one is
    skipped); the next tick comes after the woken task has run. No tick while a task
    awaits its state: the last to be answered starts ticking again."""
    while sleepers.heap and not sleepers.holds:
        wake, _, waiter = heapq.heappop(sleepers.heap)
        if waiter.done():
            continue  # cancelled
        behind = wake - now()
        if behind > 0:
            _clock.offset += behind
        waiter.set_result(None)
        loop.call_soon(_tick, loop, sleepers)
        return
    sleepers.ticking = False


@contextlib.contextmanager
def retry_testing(on: bool = True) -> Iterator[None]:
    """Within the block, waits do not sleep: they move a virtual clock instead.

    Every decision is made as usual, on the virtual clock: backoff, cooldowns, pacing,
    outage holds and deadlines; a test sees what production would do, only faster.
    """
    saved = _clock.virtual
    _clock.virtual = on
    try:
        yield
    finally:
        _clock.virtual = saved


# ------------------------------------------------------------------------------- engine

_DOWN_KINDS = frozenset(
    {ErrorKind.OVERLOADED, ErrorKind.SERVER_ERROR, ErrorKind.TIMEOUT, ErrorKind.CONNECTION}
)
_calls = itertools.count(1)


def observation(
    outcome: int,
    headers: Mapping[str, str] | None,
    retry_after: float | None = None,
    message: str = "",
) -> pacing.Observation:
    """What the pacer needs from an answer: its outcome, wait, rate-limit headers, and a
    token limit a 429 names in its message."""
    seen = pacing.Observation(outcome, retry_after=retry_after)
    if message and outcome == pacing.LIMITED:
        from compat.retry.tokens import tpm_limit

        told = tpm_limit(message)
        if told is not None:
            seen.tpm = told[:2]
    if headers:
        for which in ("requests", "tokens"):
            limit = _number(headers.get("x-ratelimit-limit-" + which))
            if limit is None:
                continue
            remaining = _number(headers.get("x-ratelimit-remaining-" + which))
            reset_text = headers.get("x-ratelimit-reset-" + which)
            reset = parse_duration(reset_text) if reset_text else None
            if which == "requests":
                seen.limit_requests, seen.remaining_requests = limit, remaining
                seen.reset_requests = reset
            else:
                seen.limit_tokens, seen.remaining_tokens = limit, remaining
                seen.reset_tokens = reset
        if retry_after is not None and retry_after >= 1 and retry_after == int(retry_after):
            # A whole-second retry-after, with nothing finer beside it, is mostly rounding.
            seen.coarse = "retry-after-ms" not in headers and "x-ms-retry-after-ms" not in headers
    return seen


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class Run:
    """One call under a policy: its attempts, its time, its slot in the target's state.

    The sync and async twins (:meth:`begin`/:meth:`abegin`, :meth:`failed`/
    :meth:`afailed`, ...) differ only in how they reach the state; what they decide is
    in the shared methods between them.
    """

    __slots__ = (
        "attempt",
        "call",
        "cause",
        "error",
        "index",
        "key",
        "keys",
        "limits",
        "paced",
        "policy",
        "resends",
        "start",
        "state",
        "ticket",
        "tokens",
        "tries",
        "waited_for",
    )

    def __init__(
        self,
        policy: RetryPolicy,
        key: Hashable = None,
        tokens: float = 0.0,
        keys: Sequence[Hashable] | None = None,
    ) -> None:
        self.policy = policy
        self.keys = tuple(keys) if keys else (key,)
        self.index = 0
        self.key = self.keys[0]
        self.tries = 0  # attempts on the current deployment
        self.tokens = tokens
        self.state = policy.state
        self.paced = policy.pacing
        self.limits = policy.limits
        self.attempt = 0
        self.start = now()
        self.ticket = 0
        self.call = next(_calls)
        self.error: LLMError | None = None
        self.cause: BaseException | None = None
        self.waited_for = ""
        self.resends = 0

    # -------------------------------------------------------------- time and events

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return now() - self.start

    def left(self) -> float:
        """Seconds left before the call's deadline (infinite without one)."""
        deadline = self.policy.deadline
        return math.inf if deadline is None else deadline - self.elapsed()

    @property
    def last(self) -> bool:
        """Whether the call is on its last deployment (or has only one)."""
        return self.index == len(self.keys) - 1

    def _move_on(self, reason: str, cause: str) -> None:
        """Leave this deployment for the next one, saying why."""
        self._emit("failover", reason, cause)
        self.index += 1
        self.key = self.keys[self.index]
        self.tries = 0
        self.waited_for = ""

    def _emit(self, action: str, reason: str, cause: str = "", wait: float = 0.0) -> None:
        dispatch(
            Event(
                action,
                reason,
                cause,
                self.attempt,
                wait,
                self.elapsed(),
                self.key,
                self.call,
                self.error,
            ),
            self.policy.hooks,
        )

    # -------------------------------------------------------------- before an attempt

    def _ask(self) -> tuple[float, float]:
        """``(now, max_wait)`` for the next request for a slot."""
        policy = self.policy
        longest = min(self.left(), policy.max_server_wait)
        if not self.last:
            longest = min(longest, policy.failover_wait)
        return now(), longest

    def _granted(self, answer: tuple[int, float, str, int]) -> tuple[float, bool]:
        """Read the state's answer to a request for a slot: ``(wait, go)``; raise when
        no slot is free in time."""
        verdict, wait, why, ticket = answer
        if not self.last and (verdict == pacing.REFUSE or why == "held"):
            self._move_on(f"{describe(self.key)} skipped: {_WAIT_REASONS.get(why, why)}", why)
            return 0.0, False
        if verdict == pacing.REFUSE:
            raise self._refused(why, wait)
        if why and why != self.waited_for:
            self.waited_for = why
            self._emit("wait", _WAIT_REASONS.get(why, why), why, wait)
        if verdict == pacing.GO:
            self.ticket = ticket
            return wait, True
        return wait, False

    def begin(self) -> None:
        """Wait until the target's state lets the next attempt go."""
        if self.paced:
            while True:
                at, max_wait = self._ask()
                wait, go = self._granted(
                    self.state.acquire(self.key, at, self.limits, max_wait, self.tokens)
                )
                try:
                    sleep(wait)
                except BaseException as stop:
                    self.abandon(stop)
                    raise
                if go:
                    break
        self._started()

    async def abegin(self) -> None:
        """Wait, cancellably, until the target's state lets the next attempt go."""
        if self.paced:
            while True:
                at, max_wait = self._ask()
                wait, go = self._granted(
                    await _from_state(
                        self.state.aacquire(self.key, at, self.limits, max_wait, self.tokens)
                    )
                )
                if go and wait <= 0 and not _clock.virtual:
                    break  # a slot at once: the attempt's request is the next await
                try:
                    await asleep(wait)
                except BaseException as stop:
                    await self.aabandon(stop)
                    raise
                if go:
                    break
        self._started()

    def _started(self) -> None:
        self.attempt += 1
        self.tries += 1
        self.waited_for = ""
        if self.policy.hooks or _wants_every_event():
            self._emit("attempt", f"attempt {self.attempt}")

    def _held_slot(self) -> bool:
        return bool(self.ticket or (self.tokens and self.paced))

    def abandon(self, why: BaseException | None = None) -> None:
        """End the call without an answer (cancelled, or an exception that is not a service
        failure escaped): give back a slot that was granted and never used."""
        if self._held_slot():
            self.state.release(self.key, self.limits, self.ticket, self.tokens)
        self._aborted(why)

    async def aabandon(self, why: BaseException | None = None) -> None:
        """:meth:`abandon`, for an asyncio call."""
        if self._held_slot():
            await _from_state(self.state.arelease(self.key, self.limits, self.ticket, self.tokens))
        self._aborted(why)

    def _aborted(self, why: BaseException | None) -> None:
        self.ticket = 0
        if self.policy.hooks or _wants_every_event():
            what = "left the loop" if why is None else f"{type(why).__name__} ended it"
            self._emit("abort", f"the call was abandoned: {what}")

    def _refused(self, why: str, wait: float) -> LLMError:
        """The error of a call that no slot can be found for in time."""
        from compat.retry.errors import refused

        last = self.error
        error = refused(why, wait, self.left(), self.policy.max_server_wait, self.key, last)
        if last is not None:
            error.__cause__ = last
        self.error = error
        self._finish(error, f"no slot before the deadline ({why or 'wait'})", why or "deadline")
        return error

    # -------------------------------------------------------------- after an attempt

    def _success(self, headers: Mapping[str, str] | None, used: float | None) -> pacing.Observation:
        seen = observation(pacing.OK, headers)
        seen.tokens = self.tokens
        seen.tokens_used = used
        return seen

    def _budget(self) -> tuple[float, float] | None:
        capacity = self.policy.budget_capacity
        return (capacity, self.policy.budget_refill) if capacity else None

    def succeeded(
        self, headers: Mapping[str, str] | None = None, used: float | None = None
    ) -> None:
        """Tell the state the attempt succeeded; *headers* are its decision headers."""
        budget = self._budget()
        if self.paced:
            seen = self._success(headers, used)
            self.state.report(self.key, now(), self.limits, seen, self.ticket, budget)
            self.ticket = 0
        elif budget is not None:
            self.state.budget_give(*budget)
        self._succeeded()

    async def asucceeded(
        self, headers: Mapping[str, str] | None = None, used: float | None = None
    ) -> None:
        """:meth:`succeeded`, for an asyncio call."""
        budget = self._budget()
        if self.paced:
            seen = self._success(headers, used)
            await _from_state(
                self.state.areport(self.key, now(), self.limits, seen, self.ticket, budget)
            )
            self.ticket = 0
        elif budget is not None:
            await _from_state(self.state.abudget_give(*budget))
        self._succeeded()

    def _succeeded(self) -> None:
        self.error = None  # the record of a success carries no error
        if self.policy.hooks or _wants_every_event():
            self._emit("success", f"succeeded at attempt {self.attempt}")

    def _translated(self, exc: Exception) -> tuple[LLMError, pacing.Observation] | None:
        error = translate(exc)
        if error is None:
            return None
        self.error, self.cause = error, exc
        kind = error.kind
        if kind is ErrorKind.RATE_LIMITED:
            outcome = pacing.LIMITED
        elif kind is ErrorKind.QUOTA_EXCEEDED and len(self.keys) > 1 and self.policy.hold:
            outcome = pacing.EXHAUSTED  # other calls go elsewhere until a probe succeeds
        elif kind in _DOWN_KINDS:
            outcome = pacing.DOWN
        else:
            outcome = pacing.ANSWERED
        seen = observation(outcome, signals(error), error.retry_after, error.message)
        seen.tokens = self.tokens
        return error, seen

    def failed(self, exc: Exception) -> float:
        """Decide after a failed attempt: return the wait before the next one, or raise."""
        found = self._translated(exc)
        if found is None:
            self.abandon(exc)
            raise exc
        error, seen = found
        capacity = self.policy.budget_capacity
        if self.paced:
            held, tokens = self.state.report(
                self.key, now(), self.limits, seen, self.ticket, self._budget()
            )
            self.ticket = 0
        else:
            held, tokens = False, self.state.budget_tokens(capacity) if capacity else 0.0
        decision = self._decide(error, held, tokens)
        if decision.retry and self._draws(error, held) and not self.state.budget_take(capacity):
            decision = _budget_spent()
        return self._after(error, exc, decision)

    async def afailed(self, exc: Exception) -> float:
        """:meth:`failed`, for an asyncio call."""
        found = self._translated(exc)
        if found is None:
            await self.aabandon(exc)
            raise exc
        error, seen = found
        capacity = self.policy.budget_capacity
        if self.paced:
            held, tokens = await _from_state(
                self.state.areport(self.key, now(), self.limits, seen, self.ticket, self._budget())
            )
            self.ticket = 0
        else:
            held, tokens = False, self.state.budget_tokens(capacity) if capacity else 0.0
        decision = self._decide(error, held, tokens)
        if (
            decision.retry
            and self._draws(error, held)
            and not await _from_state(self.state.abudget_take(capacity))
        ):
            decision = _budget_spent()
        return self._after(error, exc, decision)

    def _decide(self, error: LLMError, held: bool, tokens: float) -> Decision:
        policy = self.policy
        budget_left = not policy.budget_capacity or tokens >= 1.0
        arrived = may_have_arrived(error)
        decision = policy.decide(
            error,
            self.tries,
            self.elapsed(),
            budget_left=budget_left,
            held=held and self.last,
            arrived=arrived,
            fallback=not self.last,
        )
        if arrived and decision.retry:
            self.resends += 1
            reason = decision.reason + "; a resend: the request may have been processed"
            decision = attrs.evolve(decision, reason=reason)
        return decision

    def _draws(self, error: LLMError, held: bool) -> bool:
        return bool(self.policy.budget_capacity) and not held and self.policy.draws_budget(error)

    def _after(self, error: LLMError, exc: Exception, decision: Decision) -> float:
        if (
            not decision.retry
            and not self.last
            and (decision.cause == "failover" or error.kind in self.policy.failover_after)
        ):
            self._move_on(f"{describe(self.key)} failed: {decision.reason}", decision.cause)
            return 0.0
        if not decision.retry:
            self._finish(error, decision.reason, decision.cause)
            if error is exc:
                scrub(error.__cause__)
                raise error
            scrub(exc)
            raise error from exc
        self._emit("retry", decision.reason, decision.cause, decision.wait)
        on_retry = self.policy.on_retry
        if on_retry is not None:
            on_retry(error, self.attempt, decision.wait)
        return decision.wait

    def _finish(self, error: LLMError, reason: str, cause: str) -> None:
        """Mark *error* as the end of this call: its attempts and time, and why."""
        from compat.retry.errors import mark_final

        mark_final(error, self.attempt, self.elapsed(), reason, self.resends)
        self._emit("give_up", reason, cause)


def signals(error: LLMError) -> Mapping[str, str]:
    """The decision headers of *error*'s answer, names lower-cased (read once, when the
    answer was read)."""
    return error._signals


_WAIT_REASONS = {
    "cooldown": "the target is cooling down after a 429",
    "pacing": "paced to the target's rate limit",
    "tokens": "paced to the target's token limit",
    "slow start": "the target's limits are not known yet: a few calls go first",
    "held": "the target is down: held until a probe succeeds",
}


def _budget_spent() -> Decision:
    from compat.retry.policy import Decision

    return Decision(False, 0.0, "the retry budget is spent", "budget")


def _wants_every_event() -> bool:
    """Whether a process-wide hook other than logging wants every event."""
    return len(events._hooks) > (1 if events.log_event in events._hooks else 0)


# ------------------------------------------------------------------------------- loops


class Attempt:
    """One attempt of an attempts loop: a context manager around the attempt's code.

    Inside the block, :attr:`timeout` is the time the call's deadline leaves (``None``
    without a deadline), to give the attempt as its own timeout. A block that completes
    is a success; one that raises a service failure is retried or raised as the common
    error; anything else passes through.
    """

    __slots__ = ("_run", "done", "entered", "exited", "headers", "used", "wait")

    def __init__(self, run: Run) -> None:
        self._run = run
        self.done = False
        self.entered = False
        self.exited = False
        self.wait = 0.0
        self.headers: Mapping[str, str] | None = None
        self.used: float | None = None

    @property
    def number(self) -> int:
        """1 for the first attempt."""
        return self._run.attempt

    @property
    def deployment(self) -> int:
        """Which of the call's targets this attempt goes to (0 for the first)."""
        return self._run.index

    @property
    def timeout(self) -> float | None:
        """Seconds the call's deadline leaves for this attempt; ``None`` without a deadline."""
        left = self._run.left()
        return None if math.isinf(left) else max(left, 0.0)

    def answered(self, headers: Mapping[str, str] | None, used: float | None = None) -> None:
        """Say what the successful answer's decision headers (and token usage) were."""
        self.headers = headers
        self.used = used

    def __enter__(self) -> Attempt:
        self.entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        self.exited = True
        run = self._run
        if exc is None:
            self.done = True
            run.succeeded(self.headers, self.used)
            return False
        if not isinstance(exc, Exception):
            run.abandon(exc)
            return False
        self.wait = run.failed(exc)
        return True

    async def __aenter__(self) -> Attempt:
        self.entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        self.exited = True
        run = self._run
        if exc is None:
            self.done = True
            await run.asucceeded(self.headers, self.used)
            return False
        if not isinstance(exc, Exception):
            await run.aabandon(exc)
            return False
        self.wait = await run.afailed(exc)
        return True


def attempts(
    policy: RetryPolicy,
    key: Hashable = None,
    tokens: float = 0.0,
    keys: Sequence[Hashable] | None = None,
) -> Iterator[Attempt]:
    """The attempts loop (see :meth:`RetryPolicy.attempts <compat.RetryPolicy.attempts>`)."""
    run = Run(policy, key, tokens, keys)
    while True:
        run.begin()
        attempt = Attempt(run)
        try:
            yield attempt
        finally:
            if not attempt.exited:
                run.abandon()
        if attempt.done:
            return
        if not attempt.entered:
            raise RuntimeError("each attempt must be used as `with attempt:`")
        sleep(attempt.wait)


async def aattempts(
    policy: RetryPolicy,
    key: Hashable = None,
    tokens: float = 0.0,
    keys: Sequence[Hashable] | None = None,
) -> AsyncIterator[Attempt]:
    """The async attempts loop (see :meth:`RetryPolicy.aattempts <compat.RetryPolicy.aattempts>`)."""
    run = Run(policy, key, tokens, keys)
    while True:
        await run.abegin()
        attempt = Attempt(run)
        try:
            yield attempt
        finally:
            if not attempt.exited:
                await run.aabandon()
        if attempt.done:
            return
        if not attempt.entered:
            raise RuntimeError("each attempt must be used as `async with attempt:`")
        await asleep(attempt.wait)
