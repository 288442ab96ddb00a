"""The state that calls through a policy share, kept in this process.

:class:`LocalState` holds the live counters: per target a :class:`~compat.retry.pacing.TargetState`
record (cooldown, learned rates, slow start, outage hold), and the retry budget's tokens.
The limits those counters are checked against (budget capacity and refill, slow start,
whether outages hold calls) are the policy's fields, passed in at every call, so that
``attrs.evolve(policy, budget_capacity=0)`` gives a policy that behaves as its fields say
even while it shares the state. ``compat.RedisState`` is the same interface kept in Redis.

Every method is a short computation under one lock: callers sleep outside it, so threads
and asyncio tasks share a state safely.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Protocol

from compat.retry import pacing
from compat.retry.pacing import Limits, Observation, TargetState

#: Targets kept by default; the least recently used are forgotten beyond it.
MAX_TARGETS = 4096


class State(Protocol):
    """What the retry engine asks of a policy's state; :class:`LocalState` and
    ``compat.RedisState`` answer it.

    *key* names a target; *limits* are the policy's pacing limits; times are the
    engine's clock. Each sync method has an ``a``-prefixed async twin.
    """

    def acquire(
        self, key: Hashable, now: float, limits: Limits, max_wait: float, tokens: float = 0.0
    ) -> tuple[int, float, str, int]:
        """:func:`compat.retry.pacing.acquire` on *key*'s record."""

    def release(self, key: Hashable, limits: Limits, ticket: int, tokens: float = 0.0) -> None:
        """:func:`compat.retry.pacing.release` on *key*'s record."""

    def report(
        self,
        key: Hashable,
        now: float,
        limits: Limits,
        seen: Observation,
        ticket: int,
        budget: tuple[float, float] | None = None,
    ) -> tuple[bool, float]:
        """:func:`compat.retry.pacing.report` on *key*'s record, and for a success the
        budget credited (*budget* is ``(capacity, refill)``). Returns whether the target
        is held for an outage and the budget's tokens left (under the capacity)."""

    def budget_tokens(self, capacity: float) -> float:
        """Retry tokens left under a budget of *capacity*."""

    def budget_take(self, capacity: float) -> bool:
        """Spend one retry token; ``False`` (nothing spent) when fewer than one is left."""

    def budget_give(self, capacity: float, refill: float) -> None:
        """Credit a success with *refill* tokens, up to *capacity*."""

    async def aacquire(
        self, key: Hashable, now: float, limits: Limits, max_wait: float, tokens: float = 0.0
    ) -> tuple[int, float, str, int]: ...

    async def arelease(
        self, key: Hashable, limits: Limits, ticket: int, tokens: float = 0.0
    ) -> None: ...

    async def areport(
        self,
        key: Hashable,
        now: float,
        limits: Limits,
        seen: Observation,
        ticket: int,
        budget: tuple[float, float] | None = None,
    ) -> tuple[bool, float]: ...

    async def abudget_take(self, capacity: float) -> bool: ...

    async def abudget_give(self, capacity: float, refill: float) -> None: ...


class LocalState:
    """Per-target pacing and the retry budget, shared by every policy given this object.

    ``RetryPolicy()`` makes one of its own; pass one object to several policies
    (``RetryPolicy(state=shared)``) to make them share cooldowns, learned rates,
    outage holds and the budget on purpose. At most *max_targets* targets are kept;
    the least recently used are forgotten.
    """

    def __init__(self, *, max_targets: int = MAX_TARGETS) -> None:
        if max_targets < 1:
            raise ValueError("max_targets must be at least 1")
        self.max_targets = max_targets
        self._targets: OrderedDict[Hashable, TargetState] = OrderedDict()
        self._budget = -1.0  # tokens left; below 0: never spent (full)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalState(targets={len(self._targets)})"

    # ------------------------------------------------------------------ targets

    def _target(self, key: Hashable, limits: Limits) -> TargetState:
        targets = self._targets
        found = targets.get(key)
        if found is None:
            found = targets[key] = TargetState(limits.probe_concurrency)
            if len(targets) > self.max_targets:
                targets.popitem(last=False)
        else:
            targets.move_to_end(key)
        return found

    def acquire(
        self, key: Hashable, now: float, limits: Limits, max_wait: float, tokens: float = 0.0
    ) -> tuple[int, float, str, int]:
        with self._lock:
            return pacing.acquire(self._target(key, limits), now, limits, max_wait, tokens)

    def release(self, key: Hashable, limits: Limits, ticket: int, tokens: float = 0.0) -> None:
        with self._lock:
            pacing.release(self._target(key, limits), ticket, tokens)

    def report(
        self,
        key: Hashable,
        now: float,
        limits: Limits,
        seen: Observation,
        ticket: int,
        budget: tuple[float, float] | None = None,
    ) -> tuple[bool, float]:
        with self._lock:
            held = pacing.report(self._target(key, limits), now, limits, seen, ticket)
            if budget is None:
                return held, self._budget_left(math.inf)
            if seen.outcome == pacing.OK:
                self._give(*budget)
            return held, self._budget_left(budget[0])

    def target(self, key: Hashable) -> TargetState | None:
        """The record of *key*, if it is kept (for inspection; do not change it)."""
        return self._targets.get(key)

    def __len__(self) -> int:
        return len(self._targets)

    # ------------------------------------------------------------------ budget

    def _budget_left(self, capacity: float) -> float:
        return capacity if self._budget < 0 else min(self._budget, capacity)

    def budget_tokens(self, capacity: float) -> float:
        return self._budget_left(capacity)

    def budget_take(self, capacity: float) -> bool:
        with self._lock:
            left = self._budget_left(capacity)
            if left < 1.0:
                return False
            self._budget = left - 1.0
            return True

    def _give(self, capacity: float, refill: float) -> None:
        if 0 <= self._budget < capacity:
            self._budget = min(capacity, self._budget + refill)

    def budget_give(self, capacity: float, refill: float) -> None:
        if 0 <= self._budget < capacity:
            with self._lock:
                self._give(capacity, refill)

    # ------------------------------------------------------------------ asyncio twins
    # The lock is held for a few microseconds and never across an await.

    async def aacquire(
        self, key: Hashable, now: float, limits: Limits, max_wait: float, tokens: float = 0.0
    ) -> tuple[int, float, str, int]:
        return self.acquire(key, now, limits, max_wait, tokens)

    async def arelease(
        self, key: Hashable, limits: Limits, ticket: int, tokens: float = 0.0
    ) -> None:
        self.release(key, limits, ticket, tokens)

    async def areport(
        self,
        key: Hashable,
        now: float,
        limits: Limits,
        seen: Observation,
        ticket: int,
        budget: tuple[float, float] | None = None,
    ) -> tuple[bool, float]:
        return self.report(key, now, limits, seen, ticket, budget)

    async def abudget_take(self, capacity: float) -> bool:
        return self.budget_take(capacity)

    async def abudget_give(self, capacity: float, refill: float) -> None:
        self.budget_give(capacity, refill)
