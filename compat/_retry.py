"""The retry policy: one pure decision function, and the loops that apply it.

``RetryPolicy.decide(error, attempt, elapsed)`` is the only place where a retry is
decided. The decorator, ``call``, the attempts loops and ``compat.wrap`` all ask
it, then sleep (or not) and raise (or not) themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar, cast

import attrs

from compat._errors import LLMError
from compat._kinds import ErrorKind
from compat._pacing import RetryBudget, SharedState
from compat._parse import signal_headers
from compat._translate import translate

log = logging.getLogger("compat.retry")

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class Decision:
    """What to do after a failed attempt: retry or not, after how many seconds, and why."""

    retry: bool
    wait: float
    reason: str


# Testing mode: waits are skipped (and added to a virtual clock) but decided as usual.
_testing = [False]


def _is_testing() -> bool:
    return _testing[0]


@contextlib.contextmanager
def retry_testing(on: bool = True) -> Iterator[None]:
    """Within the block, retries do not sleep; every decision is made as usual.

    The time a wait would have taken still counts towards deadlines, so a test
    sees the same decisions as production, only faster.
    """
    saved = _testing[0]
    _testing[0] = on
    try:
        yield
    finally:
        _testing[0] = saved


def _make_state(policy: RetryPolicy) -> SharedState:
    budget = (
        RetryBudget(policy.budget_capacity, policy.budget_refill)
        if policy.budget_capacity
        else None
    )
    return SharedState(budget, policy.probe_concurrency, policy.probe_window)


OnRetry = Callable[[LLMError, int, float], None]


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When to retry a failed call, and how long to wait first.

    The no-argument form holds the defaults:

    * at most ``max_attempts`` = 6 attempts, and no wait that would end past
      ``deadline`` = 120 s after the first attempt started;
    * without a server signal, exponential backoff with full jitter: attempt *n*
      (1 for the first failure) waits ``uniform(0, min(max_wait, initial_wait *
      multiplier ** (n - 1)))``, that is up to 0.5, 1, 2, 4, 8, 16 s capped at
      ``max_wait`` = 20 s; ``overloaded`` uses ``overloaded_initial_wait`` = 2 s
      and ``overloaded_max_wait`` = 30 s instead;
    * a server's ``retry_after`` replaces the computed wait, plus up to
      ``server_jitter`` = 10 % on top (never less than asked); one over
      ``max_server_wait`` = 60 s is not waited: the error surfaces at once;
    * retried only when the error's ``retryable`` is true: by default conflict,
      rate limit, overloaded, server error, timeout and connection; never quota,
      authentication, permission, invalid request, context length, content
      filter, not found, truncated output, bad response or unknown, unless the
      server said ``x-should-retry: true`` (and ``false`` stops any kind);
    * a retry budget (``budget_capacity`` = 10 tokens, ``budget_refill`` = 0.1 per
      success) shared by every call through the policy and its copies: when it
      is spent, errors surface at once. Server-directed rate-limit retries do
      not draw on it; set ``budget_capacity=0`` to have no budget;
    * calls to one target (``wrap`` names it: provider, endpoint, key, model)
      share a cooldown and a pacer: see :mod:`compat._pacing`.

    The policy is a value: :func:`attrs.evolve` makes a changed copy, which shares
    the budget and pacers of the original.
    """

    max_attempts: int = 6
    deadline: float | None = 120.0
    initial_wait: float = 0.5
    max_wait: float = 20.0
    multiplier: float = 2.0
    overloaded_initial_wait: float = 2.0
    overloaded_max_wait: float = 30.0
    max_server_wait: float = 60.0
    server_jitter: float = 0.1
    budget_capacity: float = 10.0
    budget_refill: float = 0.1
    count_billed: bool = False
    pacing: bool = True
    probe_concurrency: int = 2
    probe_window: float = 2.0
    on_retry: OnRetry | None = attrs.field(default=None, eq=False)
    state: SharedState = attrs.field(
        default=attrs.Factory(_make_state, takes_self=True), eq=False, repr=False
    )

    # ------------------------------------------------------------------ decision

    def decide(
        self,
        error: LLMError,
        attempt: int,
        elapsed: float,
        *,
        budget_left: bool = True,
        random: Callable[[], float] = random.random,
    ) -> Decision:
        """Decide whether to retry after *attempt* failed attempts, *elapsed* seconds in.

        Pure: the same arguments give the same decision (pass a fixed *random*
        for repeatable jitter). *budget_left* says whether the retry budget
        still allows a retry; server-directed rate-limit waits ignore it.
        """
        kind = error.kind
        if not error.retryable:
            if kind.retryable:
                return Decision(
                    False, 0.0, f"the server said this {kind.value} is not to be retried"
                )
            return Decision(False, 0.0, f"{kind.value} is not retried")
        if attempt >= self.max_attempts:
            return Decision(False, 0.0, f"{attempt} attempts made, the most allowed")
        server_wait = error.retry_after
        if server_wait is not None:
            if server_wait > self.max_server_wait:
                return Decision(
                    False,
                    server_wait,
                    f"the server asked to wait {server_wait:g} s, over the {self.max_server_wait:g} s ceiling",
                )
            wait = server_wait * (1.0 + self.server_jitter * random())
            why = f"the server asked to wait {server_wait:g} s"
        else:
            if kind is ErrorKind.OVERLOADED:
                first, cap = self.overloaded_initial_wait, self.overloaded_max_wait
            else:
                first, cap = self.initial_wait, self.max_wait
            ceiling = min(cap, first * self.multiplier ** (attempt - 1))
            wait = ceiling * random()
            why = f"backoff for attempt {attempt} (up to {ceiling:g} s)"
        if self.deadline is not None and elapsed + wait > self.deadline:
            return Decision(
                False,
                wait,
                f"waiting {wait:.3g} s would end past the {self.deadline:g} s deadline",
            )
        if not budget_left and self.draws_budget(error):
            return Decision(False, 0.0, "the retry budget is spent")
        return Decision(True, wait, why)

    def draws_budget(self, error: LLMError) -> bool:
        """Whether retrying *error* spends the retry budget.

        A rate limit with a server-directed wait does not (the server invites the
        retry), unless ``count_billed`` is set and the gateway billed the failure.
        """
        if error.kind is ErrorKind.RATE_LIMITED and error.retry_after is not None:
            return bool(self.count_billed and error.billed)
        return True

    # ------------------------------------------------------------------ running

    def call(
        self, fn: Callable[..., T], /, *args: Any, target: Hashable = None, **kwargs: Any
    ) -> T:
        """Call ``fn(*args, **kwargs)`` under the policy; raise the common error when it gives up."""
        run = _Run(self, target)
        while True:
            run.before_attempt()
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - run.failed raises what it does not retry
                wait = run.failed(exc)
                run.sleep(wait)
            else:
                run.succeeded()
                return result

    async def acall(
        self, fn: Callable[..., Awaitable[T]], /, *args: Any, target: Hashable = None, **kwargs: Any
    ) -> T:
        """Await ``fn(*args, **kwargs)`` under the policy; cancellation is never retried."""
        run = _Run(self, target)
        while True:
            await run.abefore_attempt()
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - run.failed raises what it does not retry
                wait = run.failed(exc)
                await run.asleep(wait)
            else:
                run.succeeded()
                return result

    def __call__(self, fn: F) -> F:
        """Use the policy as a decorator of a plain or ``async`` function."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def retried_async(*args: Any, **kwargs: Any) -> Any:
                return await self.acall(fn, *args, **kwargs)

            return cast(F, retried_async)

        @functools.wraps(fn)
        def retried(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return cast(F, retried)

    def attempts(self, *, target: Hashable = None) -> Iterator[Attempt]:
        """An attempts loop: ``for attempt in policy.attempts(): with attempt: ...``.

        The loop ends after the first attempt whose block completes; a failure the
        policy gives up on leaves the loop as the common error.
        """
        run = _Run(self, target)
        while True:
            run.before_attempt()
            attempt = Attempt(run)
            yield attempt
            if attempt.done:
                return
            run.sleep(attempt.wait)

    async def aattempts(self, *, target: Hashable = None) -> AsyncIterator[Attempt]:
        """The async attempts loop: ``async for attempt in policy.aattempts(): with attempt: ...``."""
        run = _Run(self, target)
        while True:
            await run.abefore_attempt()
            attempt = Attempt(run)
            yield attempt
            if attempt.done:
                return
            await run.asleep(attempt.wait)

    # ------------------------------------------------------------------ interop

    def tenacity_retry(self) -> Callable[[Any], bool]:
        """A ``retry=`` predicate for tenacity, deciding by this policy."""

        def predicate(retry_state: Any) -> bool:
            outcome = retry_state.outcome
            if outcome is None or not outcome.failed:
                return False
            error = translate(outcome.exception())
            if error is None:
                return False
            elapsed = float(getattr(retry_state, "seconds_since_start", 0.0) or 0.0)
            return self.decide(error, retry_state.attempt_number, elapsed).retry

        return predicate

    def tenacity_wait(self) -> Callable[[Any], float]:
        """A ``wait=`` function for tenacity: the wait this policy would choose."""

        def wait(retry_state: Any) -> float:
            outcome = retry_state.outcome
            error = (
                translate(outcome.exception()) if outcome is not None and outcome.failed else None
            )
            if error is None:
                return 0.0
            elapsed = float(getattr(retry_state, "seconds_since_start", 0.0) or 0.0)
            return self.decide(error, retry_state.attempt_number, elapsed).wait

        return wait

    def stamina_on(self, exc: Exception) -> bool | float:
        """An ``on=`` callable for stamina: ``False`` to give up, else the wait in seconds.

        stamina (25.1 and later) uses a returned number as the backoff.
        """
        error = translate(exc)
        if error is None:
            return False
        if not error.retryable:
            return False
        if error.retry_after is not None:
            if error.retry_after > self.max_server_wait:
                return False
            return error.retry_after * (1.0 + self.server_jitter * random.random())
        return True


class Attempt:
    """One attempt of an attempts loop: a context manager around the attempt's code."""

    __slots__ = ("_run", "done", "wait")

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.done = False
        self.wait = 0.0

    @property
    def number(self) -> int:
        """1 for the first attempt."""
        return self._run.attempt + 1

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if exc is None:
            self.done = True
            self._run.succeeded()
            return False
        if not isinstance(exc, Exception):
            return False
        self.wait = self._run.failed(exc)
        return True


class _Run:
    """The state of one call under a policy: attempts made, time spent, its target."""

    __slots__ = ("attempt", "clock_offset", "pacer", "policy", "start", "target")

    def __init__(self, policy: RetryPolicy, target: Hashable) -> None:
        self.policy = policy
        self.target = target
        self.attempt = 0
        self.clock_offset = 0.0
        self.start = time.monotonic()
        self.pacer = policy.state.pacer(target) if policy.pacing else None

    def now(self) -> float:
        return time.monotonic() + self.clock_offset

    def _pace(self) -> tuple[float, bool]:
        if self.pacer is None or _is_testing():
            return 0.0, True
        return self.pacer.reserve(time.monotonic())

    def before_attempt(self) -> None:
        """Wait until the target's cooldown and pacer let this attempt go."""
        while True:
            delay, go = self._pace()
            if delay > 0:
                time.sleep(delay)
            if go:
                return

    async def abefore_attempt(self) -> None:
        """Wait, cancellably, until the target's cooldown and pacer let this attempt go."""
        while True:
            delay, go = self._pace()
            if delay > 0:
                await asyncio.sleep(delay)
            if go:
                return

    def observe(self, error: LLMError | None, headers: Mapping[str, str] | None = None) -> None:
        """Tell the target's pacer what the last answer said."""
        if self.pacer is None:
            return
        if error is None:
            self.pacer.observe(time.monotonic(), headers, None, limited=False)
        else:
            limited = error.kind is ErrorKind.RATE_LIMITED
            headers = signal_headers(error._raw_headers)
            self.pacer.observe(time.monotonic(), headers, error.retry_after, limited)

    def succeeded(self, headers: Mapping[str, str] | None = None) -> None:
        self.observe(None, headers)
        budget = self.policy.state.budget
        if budget is not None:
            budget.deposit()

    def failed(self, exc: Exception) -> float:
        """Decide after a failed attempt: the wait, or raise the common error."""
        error = translate(exc)
        if error is None:
            if self.pacer is not None:
                self.pacer.observe(time.monotonic(), None, None, limited=False)
            raise exc
        self.attempt += 1
        self.observe(error)
        policy = self.policy
        budget = policy.state.budget
        elapsed = self.now() - self.start
        decision = policy.decide(
            error, self.attempt, elapsed, budget_left=budget is None or budget.available()
        )
        if (
            decision.retry
            and budget is not None
            and policy.draws_budget(error)
            and not budget.withdraw()
        ):
            decision = Decision(False, 0.0, "the retry budget is spent")
        if not decision.retry:
            log.debug(
                "giving up after attempt %d: %s (%s)",
                self.attempt,
                decision.reason,
                error.kind.value,
                extra={"compat_error": error, "compat_decision": decision},
            )
            if error is exc:
                raise error
            raise error from exc
        log.info(
            "retrying in %.3f s after attempt %d: %s (%s)",
            decision.wait,
            self.attempt,
            decision.reason,
            error.kind.value,
            extra={"compat_error": error, "compat_decision": decision},
        )
        if policy.on_retry is not None:
            policy.on_retry(error, self.attempt, decision.wait)
        return decision.wait

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if _is_testing():
            self.clock_offset += seconds
            return
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        if _is_testing():
            self.clock_offset += seconds
            await asyncio.sleep(0)
            return
        await asyncio.sleep(seconds)
