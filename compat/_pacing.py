"""State shared by every call through one retry policy: the budget, and per target
a cooldown and a pacer.

All of it is guarded by locks and computed as *reservations*: a caller asks how
long it must wait before sending, the answer already accounts for every other
caller, and the caller sleeps outside the lock (``time.sleep`` or
``asyncio.sleep``). So threads and asyncio tasks can share one policy.

The pacer learns a target's rate from what the server says:

* ``x-ratelimit-limit-requests`` L, ``-remaining-requests`` r and
  ``-reset-requests`` T (the time until the limit is whole again) reveal a
  refill rate of at most (L - r) / T requests per second and a burst of L. At
  most, because r is a whole number while the server's count is not: up to one
  request more may be left, and one answer may overstate the rate by a fifth
  when L - r is 5. So each answer bounds the rate from above, and the pacer uses
  the tightest bound seen, until an answer shows the rate rose (its lower bound,
  (L - r - 1) / T, is above it) or L changed;
* a 429 that asks to wait W seconds, with no such headers, suggests that one
  request frees up every W seconds.

Until a target's limits are known (from headers or a 429), calls to it start
slowly: ``probe_concurrency`` at once, one more for each success that says
nothing about limits, so that a burst of concurrent calls does not all hit a
limit nobody has seen yet; ``probe_window`` seconds after the first call they go
regardless. Without headers, the rate found from 429s is then probed upwards
(25 % per success until the first cut, 1 % after) and cut by 30 % at most once
per cooldown.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping

#: How often a call waiting for the first answer from its target looks again.
PROBE_POLL = 0.01
#: The longest wait promised on an estimated rate; past it, callers ask again.
SLICE = 0.05
#: A rate learned from headers is used at this fraction, to leave room for the
#: requests already on their way when the headers were written.
HEADROOM = 0.98
# Rate changes of a pacer that has no rate-limit headers to go by.
_DECREASE = 0.7
_INCREASE_FAST = 1.25
_INCREASE = 1.01
_MIN_RATE = 0.01
_MAX_RATE = 10_000.0


class RetryBudget:
    """A token bucket that bounds the extra load retries add (as gRPC's retry throttling).

    It starts full with *capacity* tokens. Each retry takes one token; each
    successful call gives back *refill* tokens, never above *capacity*. While fewer
    than one token is left, retries are refused and errors surface at once. Over
    time retries are then at most ``refill`` times the successes plus ``capacity``.
    """

    def __init__(self, capacity: float = 10.0, refill: float = 0.1) -> None:
        if capacity < 1 or refill < 0:
            raise ValueError("capacity must be at least 1 and refill not negative")
        self.capacity = capacity
        self.refill = refill
        self._tokens = capacity
        self._lock = threading.Lock()

    @property
    def tokens(self) -> float:
        """Tokens left now."""
        return self._tokens

    def available(self) -> bool:
        """Whether a retry may be spent now."""
        return self._tokens >= 1.0

    def withdraw(self) -> bool:
        """Spend one retry; ``False`` (and nothing spent) when none is left."""
        with self._lock:
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True

    def deposit(self) -> None:
        """Credit a successful call."""
        if self._tokens < self.capacity:
            with self._lock:
                self._tokens = min(self.capacity, self._tokens + self.refill)

    def __repr__(self) -> str:
        return f"RetryBudget(tokens={self._tokens:.1f}, capacity={self.capacity}, refill={self.refill})"


class Pacer:
    """Cooldown and pacing of one target (provider, endpoint or deployment, key)."""

    def __init__(self, probe_concurrency: int, probe_window: float) -> None:
        self._lock = threading.Lock()
        self.cooldown_until = 0.0
        self.rate: float | None = None
        self.capacity = 1.0
        self._tokens = 0.0
        self._stamp = 0.0
        self.learned_from_headers = False
        self._bound: tuple[float, float] | None = None  # (limit, tightest rate bound)
        self._cuts = 0
        self._cut_settles = 0.0
        self._discovering = True
        self._first_seen: float | None = None
        self._inflight = 0
        self._window = probe_concurrency
        self._probe_window = probe_window

    def reserve(self, now: float) -> tuple[float, bool]:
        """How long to wait before sending a request to this target: ``(seconds, go)``.

        With *go* true the caller sends after waiting; its slot is reserved. With
        *go* false it waits and asks again: the target's limits are still being
        discovered, or the rate is only an estimate, which may rise meanwhile, so
        no slot further away than :data:`SLICE` is promised.
        """
        with self._lock:
            if self._discovering:
                if self._first_seen is None:
                    self._first_seen = now
                if now - self._first_seen >= self._probe_window:
                    self._discovering = False
                elif self._inflight >= self._window:
                    return PROBE_POLL, False
                else:
                    self._inflight += 1
            start = max(now, self.cooldown_until)
            if self.rate is None:
                return start - now, True
            tokens = min(self.capacity, self._tokens + (start - self._stamp) * self.rate)
            delay = start - now + (max(0.0, 1.0 - tokens) / self.rate)
            if not self.learned_from_headers and delay > SLICE:
                return SLICE, False
            self._tokens = tokens - 1.0
            self._stamp = start
            return (start - now if self._tokens >= 0.0 else delay), True

    def observe(
        self,
        now: float,
        headers: Mapping[str, str] | None,
        retry_after: float | None,
        limited: bool,
    ) -> None:
        """Learn from an answer: its rate-limit headers, and for a 429 its requested wait."""
        from compat._parse import parse_duration

        with self._lock:
            if self._discovering and self._inflight > 0:
                self._inflight -= 1
            if headers:
                limit = _number(headers.get("x-ratelimit-limit-requests"))
                remaining = _number(headers.get("x-ratelimit-remaining-requests"))
                reset_text = headers.get("x-ratelimit-reset-requests")
                reset = parse_duration(reset_text) if reset_text else None
                if limit is not None and remaining is not None and limit > 0:
                    if reset is not None and reset > 0 and limit > remaining:
                        bound = (limit - remaining) / reset
                        if self._bound is not None and self._bound[0] == limit:
                            rose = (limit - remaining - 1) / reset > self._bound[1]
                            bound = bound if rose else min(bound, self._bound[1])
                        self._bound = (limit, bound)
                        self._set_rate(now, bound * HEADROOM, limit)
                        self.learned_from_headers = True
                        self._discovering = False
                    if self.rate is not None:
                        # The server's count wins when it has fewer left than we think.
                        self._refill(now)
                        self._tokens = min(self._tokens, remaining)
            if limited:
                self._discovering = False
                if retry_after is not None:
                    self.cooldown_until = max(self.cooldown_until, now + retry_after)
                if not self.learned_from_headers:
                    # No headers: guess one request per requested wait, then back off
                    # multiplicatively, once per cooldown: the 429s of requests sent
                    # before the last cut say nothing new.
                    if self.rate is None:
                        if retry_after is not None and retry_after > 0:
                            self._set_rate(now, 1.0 / retry_after, 1.0)
                    elif now >= self._cut_settles:
                        self._set_rate(now, max(self.rate * _DECREASE, _MIN_RATE), 1.0)
                        self._cuts += 1
                    self._cut_settles = max(self._cut_settles, self.cooldown_until)
                if self.rate is not None:
                    self._refill(now)
                    self._tokens = min(self._tokens, 0.0)
            elif self.rate is not None and not self.learned_from_headers:
                # Probe upwards: fast until the first cut, then gently.
                factor = _INCREASE_FAST if self._cuts == 0 else _INCREASE
                self._set_rate(now, min(self.rate * factor, _MAX_RATE), 1.0)
            elif self._discovering:
                # A success that says nothing of limits: let one more call out (slow start).
                self._window += 1

    def _refill(self, now: float) -> None:
        assert self.rate is not None
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def _set_rate(self, now: float, rate: float, capacity: float) -> None:
        if self.rate is None:
            self._tokens = capacity
            self._stamp = now
        else:
            self._refill(now)
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self._tokens = min(self._tokens, self.capacity)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


class SharedState:
    """What all calls through one policy share: the budget and one pacer per target."""

    def __init__(
        self, budget: RetryBudget | None, probe_concurrency: int, probe_window: float
    ) -> None:
        self.budget = budget
        self._pacers: dict[Hashable, Pacer] = {}
        self._lock = threading.Lock()
        self._probe_concurrency = probe_concurrency
        self._probe_window = probe_window

    def pacer(self, target: Hashable) -> Pacer:
        """The pacer of *target*, made on first use."""
        pacer = self._pacers.get(target)
        if pacer is None:
            with self._lock:
                pacer = self._pacers.get(target)
                if pacer is None:
                    pacer = self._pacers[target] = Pacer(
                        self._probe_concurrency, self._probe_window
                    )
        return pacer
