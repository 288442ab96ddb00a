"""The retry policy: its limits as fields, one pure decision, and the ways to apply it.

``RetryPolicy.decide(error, attempt, elapsed)`` is the only place a retry is decided.
The engine (:mod:`compat.retry.engine`) asks it after every failed attempt; the
decorator, ``call``, the attempts loops, ``compat.wrap``, and the tenacity and stamina
adapters all run through the engine or ask ``decide`` directly.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar, cast

import attrs

from compat._errors import LLMError
from compat._kinds import ErrorKind
from compat._parse import shown_seconds
from compat._translate import translate
from compat.retry import engine
from compat.retry.engine import Attempt
from compat.retry.events import Hook
from compat.retry.pacing import Limits
from compat.retry.state import LocalState

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

OnRetry = Callable[[LLMError, int, float], None]


@attrs.frozen
class Decision:
    """What to do after a failed attempt: retry or not, after how many seconds, and why.

    *cause* names the rule that decided, in one word or two: ``"backoff"``, ``"server"``
    (a wait the server asked for), ``"held"`` (an outage hold), ``"not retryable"``,
    ``"server said no"``, ``"attempts"``, ``"ceiling"``, ``"deadline"``, ``"budget"``,
    ``"resend"``.
    """

    retry: bool
    wait: float
    reason: str
    cause: str = ""


def _at_least(minimum: float) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not (value >= minimum):  # also refuses NaN
            raise ValueError(f"{attribute.name} must be at least {minimum:g}, not {value!r}")

    return check


def _budget_capacity(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value != 0 and not (value >= 1):
        raise ValueError(f"budget_capacity must be 0 (no budget) or at least 1, not {value!r}")


def _deadline(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (value > 0):
        raise ValueError(f"deadline must be positive or None, not {value!r}")


def _kinds(value: Any) -> frozenset[ErrorKind]:
    return frozenset(ErrorKind(kind) for kind in value)


#: Kinds that move a call at once to the next deployment, when one is left.
FAILOVER_NOW = frozenset({ErrorKind.QUOTA_EXCEEDED, ErrorKind.OVERLOADED})
#: Kinds that move a call to the next deployment once this one's retries gave up.
FAILOVER_AFTER = frozenset(
    {
        ErrorKind.RATE_LIMITED,
        ErrorKind.SERVER_ERROR,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        ErrorKind.CONFLICT,
    }
)


def _hooks(value: Any) -> tuple[Hook, ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    return tuple(value)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When to retry a failed call, and how long to wait first.

    The no-argument form holds the defaults:

    * at most ``max_attempts`` = 6 attempts, and no wait (backoff, cooldown, pacing, an
      outage hold) that would end past ``deadline`` = 120 s after the call started;
    * without a server signal, exponential backoff with full jitter: attempt *n* (1 for
      the first failure) waits ``uniform(0, min(max_wait, initial_wait * multiplier **
      (n - 1)))``, that is up to 0.5, 1, 2, 4, 8, 16 s capped at ``max_wait`` = 20 s;
      ``overloaded`` uses ``overloaded_initial_wait`` = 2 s and ``overloaded_max_wait`` =
      30 s instead;
    * a server's ``retry_after`` replaces the computed wait, plus up to ``server_jitter``
      = 10 % on top (never less than asked); no single wait over ``max_server_wait`` =
      60 s is waited: the error surfaces at once;
    * retried only when the error's ``retryable`` is true: by default conflict, rate
      limit, overloaded, server error, timeout and connection; never quota,
      authentication, permission, invalid request, context length, content filter, not
      found, truncated output, bad response or unknown, unless the server said
      ``x-should-retry: true`` (and ``false`` stops any kind);
    * a retry budget of ``budget_capacity`` = 10 tokens, ``budget_refill`` = 0.1 per
      success, shared by every call through the policy's state: when it is spent,
      errors surface at once. Server-directed rate-limit retries and retries of calls
      held through an outage do not draw on it; ``budget_capacity=0`` means no budget;
    * a timeout or a broken connection after the request was sent may mean the server
      processed it: such retries are resends, said so in the decision records and on the
      final error; ``resend=False`` refuses them;
    * over several deployments (``compat.wrap([primary, secondary])``), a call moves to
      the next one at once for the kinds in ``failover_now`` (an exhausted quota, an
      overloaded deployment), after this deployment's retries for those in
      ``failover_after`` (rate limits, server errors, timeouts, connections), and when
      it would wait longer than ``failover_wait`` = 2 s here (a cooldown, a pace, a
      server's wait) or the deployment is held for an outage; never for an invalid
      request or a context length, which would fail everywhere; the content filter
      only when added to ``failover_now``. The last deployment behaves as one client;
    * with ``pacing`` on, calls to one target (``wrap`` names it: provider, endpoint,
      key, model) share a cooldown, a learned rate, a slow start of
      ``probe_concurrency`` calls for up to ``probe_window`` seconds, and with ``hold``
      on an outage hold (calls wait while one probe at a time tests a target that is
      down); see :mod:`compat.retry.pacing`.

    The policy is a value: :func:`attrs.evolve` makes a changed copy whose behaviour
    follows its own fields. The live counters (budget tokens, cooldowns, learned rates)
    are in ``state``, which copies share: pass one :class:`compat.LocalState` (or
    ``compat.RedisState``) to several policies to share them on purpose.
    """

    max_attempts: int = attrs.field(default=6, validator=_at_least(1))
    deadline: float | None = attrs.field(default=120.0, validator=_deadline)
    initial_wait: float = attrs.field(default=0.5, validator=_at_least(0))
    max_wait: float = attrs.field(default=20.0, validator=_at_least(0))
    multiplier: float = attrs.field(default=2.0, validator=_at_least(1))
    overloaded_initial_wait: float = attrs.field(default=2.0, validator=_at_least(0))
    overloaded_max_wait: float = attrs.field(default=30.0, validator=_at_least(0))
    max_server_wait: float = attrs.field(default=60.0, validator=_at_least(0))
    server_jitter: float = attrs.field(default=0.1, validator=_at_least(0))
    budget_capacity: float = attrs.field(default=10.0, validator=_budget_capacity)
    budget_refill: float = attrs.field(default=0.1, validator=_at_least(0))
    count_billed: bool = False
    pacing: bool = True
    probe_concurrency: int = attrs.field(default=2, validator=_at_least(1))
    probe_window: float = attrs.field(default=2.0, validator=_at_least(0))
    hold: bool = True
    resend: bool = True
    failover_now: frozenset[ErrorKind] = attrs.field(default=FAILOVER_NOW, converter=_kinds)
    failover_after: frozenset[ErrorKind] = attrs.field(default=FAILOVER_AFTER, converter=_kinds)
    failover_wait: float = attrs.field(default=2.0, validator=_at_least(0))
    on_retry: OnRetry | None = attrs.field(default=None, eq=False)
    hooks: tuple[Hook, ...] = attrs.field(default=(), converter=_hooks, eq=False)
    state: Any = attrs.field(factory=LocalState, eq=False, repr=False)
    limits: Limits = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "limits", Limits(self.probe_concurrency, self.probe_window, self.hold)
        )

    # ------------------------------------------------------------------ decision

    def decide(
        self,
        error: LLMError,
        attempt: int,
        elapsed: float,
        *,
        budget_left: bool = True,
        held: bool = False,
        arrived: bool = False,
        fallback: bool = False,
        random: Callable[[], float] = random.random,
    ) -> Decision:
        """Decide whether to retry after *attempt* failed attempts, *elapsed* seconds in.

        Pure: the same arguments give the same decision (pass a fixed *random* for
        repeatable jitter). *budget_left* says whether the retry budget still allows a
        retry (server-directed rate-limit waits ignore it); *held* that the target is
        down and calls are held until a probe succeeds (the retry then waits in the
        hold, not in a backoff, and draws nothing from the budget); *arrived* that the
        failed request may have reached the server (a retry would resend it);
        *fallback* that another deployment is left to move the call to.
        """
        kind = error.kind
        if fallback and kind in self.failover_now:
            return Decision(False, 0.0, f"{kind.value}: the call moves on", "failover")
        if not error.retryable:
            if kind.retryable:
                return Decision(
                    False,
                    0.0,
                    f"the server said this {kind.value} is not to be retried",
                    "server said no",
                )
            return Decision(False, 0.0, f"{kind.value} is not retried", "not retryable")
        if attempt >= self.max_attempts:
            return Decision(False, 0.0, f"{attempt} attempts made, the most allowed", "attempts")
        if arrived and not self.resend:
            return Decision(
                False, 0.0, "the request may have reached the server, and resend is off", "resend"
            )
        left = math.inf if self.deadline is None else self.deadline - elapsed
        if held:
            if left <= 0:
                return Decision(False, 0.0, f"the {self.deadline:g} s deadline is over", "deadline")
            return Decision(True, 0.0, "the target is down: held until a probe succeeds", "held")
        server_wait = error.retry_after
        if server_wait is not None:
            if server_wait > self.max_server_wait:
                return Decision(
                    False,
                    server_wait,
                    f"the server asked to wait {server_wait:g} s, over the "
                    f"{self.max_server_wait:g} s ceiling",
                    "ceiling",
                )
            wait = server_wait * (1.0 + self.server_jitter * random())
            if server_wait <= left < wait:
                wait = left  # jitter only adds, and never past the deadline
            why, cause = f"the server asked to wait {server_wait:g} s", "server"
        else:
            if kind is ErrorKind.OVERLOADED:
                first, cap = self.overloaded_initial_wait, self.overloaded_max_wait
            else:
                first, cap = self.initial_wait, self.max_wait
            try:
                grown = first * self.multiplier ** (attempt - 1)
            except OverflowError:
                grown = math.inf
            ceiling = min(cap, grown)
            wait = ceiling * random()
            why, cause = f"backoff for attempt {attempt} (up to {ceiling:g} s)", "backoff"
        if wait > left:
            return Decision(
                False,
                wait,
                f"waiting {shown_seconds(wait)} s would end past the {self.deadline:g} s deadline",
                "deadline",
            )
        if fallback and wait > self.failover_wait:
            return Decision(
                False,
                wait,
                f"waiting {shown_seconds(wait)} s here is longer than failover_wait: the call moves on",
                "failover",
            )
        if not budget_left and self.draws_budget(error):
            return Decision(False, 0.0, "the retry budget is spent", "budget")
        return Decision(True, wait, why, cause)

    def draws_budget(self, error: LLMError) -> bool:
        """Whether retrying *error* spends the retry budget.

        A rate limit with a server-directed wait does not (the server invites the
        retry), unless ``count_billed`` is set and the gateway billed the failure.
        """
        if error.kind is ErrorKind.RATE_LIMITED and error.retry_after is not None:
            return bool(self.count_billed and error.billed)
        return True

    # ------------------------------------------------------------------ running

    def attempts(
        self,
        *,
        target: Hashable = None,
        tokens: float = 0.0,
        targets: Sequence[Hashable] | None = None,
    ) -> Iterator[Attempt]:
        """An attempts loop: ``for attempt in policy.attempts(): with attempt: ...``.

        The loop ends after the first attempt whose block completes; a failure the
        policy gives up on leaves the loop as the common error. *target* names what
        the call's pacing is shared under; *tokens* its estimated token cost, for
        targets whose token limit is paced. With *targets* (several deployments of one
        service, in order of preference) the call moves from one to the next as the
        ``failover_*`` fields say; each attempt's ``deployment`` says where it goes.
        """
        return engine.attempts(self, target, tokens, targets)

    def aattempts(
        self,
        *,
        target: Hashable = None,
        tokens: float = 0.0,
        targets: Sequence[Hashable] | None = None,
    ) -> AsyncIterator[Attempt]:
        """The async attempts loop: ``async for attempt in policy.aattempts(): async with
        attempt: ...``."""
        return engine.aattempts(self, target, tokens, targets)

    def call(
        self, fn: Callable[..., T], /, *args: Any, target: Hashable = None, **kwargs: Any
    ) -> T:
        """Call ``fn(*args, **kwargs)`` under the policy; raise the common error when it gives up."""
        for attempt in self.attempts(target=target):
            with attempt:
                result = fn(*args, **kwargs)
        return result

    async def acall(
        self, fn: Callable[..., Awaitable[T]], /, *args: Any, target: Hashable = None, **kwargs: Any
    ) -> T:
        """Await ``fn(*args, **kwargs)`` under the policy; cancellation is never retried."""
        loop = self.aattempts(target=target)
        try:
            async for attempt in loop:
                async with attempt:
                    result = await fn(*args, **kwargs)
        finally:
            await cast(Any, loop).aclose()
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

    # ------------------------------------------------------------------ interop

    def tenacity_retry(self) -> Callable[[Any], bool]:
        """A ``retry=`` predicate for tenacity, deciding by this policy."""

        def predicate(retry_state: Any) -> bool:
            decision = self._tenacity_decision(retry_state)
            return decision is not None and decision.retry

        return predicate

    def tenacity_wait(self) -> Callable[[Any], float]:
        """A ``wait=`` function for tenacity: the wait this policy would choose."""

        def wait(retry_state: Any) -> float:
            decision = self._tenacity_decision(retry_state)
            return 0.0 if decision is None else decision.wait

        return wait

    def _tenacity_decision(self, retry_state: Any) -> Decision | None:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return None
        error = translate(outcome.exception())
        if error is None:
            return None
        elapsed = float(getattr(retry_state, "seconds_since_start", 0.0) or 0.0)
        return self.decide(error, retry_state.attempt_number, elapsed)

    def stamina_on(self, exc: Exception) -> bool | float:
        """An ``on=`` callable for stamina: ``False`` to give up, else the wait in seconds.

        The decision is :meth:`decide`'s for a first attempt (stamina counts attempts
        itself). stamina (25.1 and later) uses a returned number as the backoff: the
        server's wait when it named one, else ``True`` lets stamina's own backoff run.
        """
        error = translate(exc)
        if error is None:
            return False
        decision = self.decide(error, 1, 0.0)
        if not decision.retry:
            return False
        return decision.wait if decision.cause == "server" else True
