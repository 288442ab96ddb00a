"""State shared by every call through one retry policy: the budget, and per target
a cooldown and a pacer.

All of it is guarded by locks and computed as *reservations*: a caller asks how
long it must wait before sending, the answer already accounts for every other
caller, and the caller sleeps outside the lock (``time.sleep`` or
``asyncio.sleep``). So threads and asyncio tasks can share one policy.

The pacer learns a target's rate from what the server says:

* ``x-ratelimit-limit-requests`` L, ``-remaining-requests`` r and
  ``-reset-requests`` T (the time until the limit is whole again) reveal a
  refill rate of (L - r) / T requests per second and a burst of L;
* a 429 that asks to wait W seconds, with no such headers, suggests that one
  request frees up every W seconds; further 429s cut that rate by 30 % and each
  success raises it by 5 % (additive-increase is too slow to find a rate that
  an integer ``retry-after`` understated twentyfold).

Until the first answer from a target arrives, only ``probe_concurrency`` calls
go out at once, so that a burst of concurrent calls does not all hit a rate
limit nobody has seen yet; ``probe_window`` seconds later they go regardless.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping

#: How often a call waiting for the first answer from its target looks again.
PROBE_POLL = 0.01
# Rate changes of a pacer that has no rate-limit headers to go by.
_DECREASE = 0.7
_INCREASE = 1.05


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
        self.answered = False
        self._first_seen: float | None = None
        self._probes = 0
        self._probe_concurrency = probe_concurrency
        self._probe_window = probe_window

    def reserve(self, now: float) -> float | None:
        """Seconds to wait before sending a request to this target.

        ``None`` means: no answer from this target yet and enough calls are
        already probing it; ask again after :data:`PROBE_POLL`.
        """
        with self._lock:
            if not self.answered:
                if self._first_seen is None:
                    self._first_seen = now
                if (
                    self._probes >= self._probe_concurrency
                    and now - self._first_seen < self._probe_window
                ):
                    return None
                self._probes += 1
            start = max(now, self.cooldown_until)
            if self.rate is None:
                return start - now
            self._tokens = min(self.capacity, self._tokens + (start - self._stamp) * self.rate)
            self._stamp = start
            self._tokens -= 1.0
            if self._tokens >= 0.0:
                return start - now
            return start - now + (-self._tokens) / self.rate

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
            self.answered = True
            if headers:
                limit = _number(headers.get("x-ratelimit-limit-requests"))
                remaining = _number(headers.get("x-ratelimit-remaining-requests"))
                reset_text = headers.get("x-ratelimit-reset-requests")
                reset = parse_duration(reset_text) if reset_text else None
                if limit is not None and remaining is not None and limit > 0:
                    if reset is not None and reset > 0 and limit > remaining:
                        self._set_rate(now, (limit - remaining) / reset, limit)
                        self.learned_from_headers = True
                    if self.rate is not None:
                        # The server's count wins when it has fewer left than we think.
                        self._refill(now)
                        self._tokens = min(self._tokens, remaining)
            if limited:
                if retry_after is not None:
                    self.cooldown_until = max(self.cooldown_until, now + retry_after)
                if not self.learned_from_headers:
                    # No headers: guess one request per requested wait, then back off
                    # multiplicatively on each further 429 and creep up on successes.
                    if self.rate is None:
                        if retry_after is not None and retry_after > 0:
                            self._set_rate(now, 1.0 / retry_after, 1.0)
                    else:
                        self._set_rate(now, self.rate * _DECREASE, 1.0)
                if self.rate is not None:
                    self._refill(now)
                    self._tokens = min(self._tokens, 0.0)
            elif self.rate is not None and not self.learned_from_headers:
                self._set_rate(now, self.rate * _INCREASE, 1.0)

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
