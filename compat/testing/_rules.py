"""Rules: stateful judges the fault server asks before it answers each request.

A rule is any callable ``rule(request) -> Fault | None``; ``None`` lets the request
through to the next rule, then to the script, then to a success. The server calls
rules one at a time under its lock, so a rule need not lock its own state.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence

from compat.testing._faults import SIGNALS, Fault, Request, overloaded, quota_exceeded, rate_limited

Clock = Callable[[], float]


class TokenBucket:
    """A request-rate limit: *burst* tokens, refilled at *rate* per second.

    A request that finds a token takes it; one that finds none gets a 429 asking
    to wait exactly until the next token, told as *signal* says (see
    :func:`compat.testing.faults.rate_limited`). With ``signal="precise"`` every
    answer carries the bucket's ``x-ratelimit-limit/remaining/reset-requests``.
    """

    def __init__(
        self, rate: float, burst: float, *, signal: str = "precise", clock: Clock = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        if signal not in SIGNALS:
            raise ValueError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")
        self.rate, self.burst, self.signal, self.clock = rate, burst, signal, clock
        self.tokens = float(burst)
        self.stamp = clock()
        self.limited = 0

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g}, signal={self.signal!r})"

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return now

    def __call__(self, request: Request) -> Fault | None:
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            if self.signal == "precise":
                request.extra_headers.update(self._limits())
            return None
        self.limited += 1
        wait = (1 - self.tokens) / self.rate
        if self.signal == "precise":
            request.extra_headers.update(self._limits())
        return rate_limited(wait, self.signal)

    def _limits(self) -> dict[str, str]:
        until_full = (self.burst - self.tokens) / self.rate
        return {
            "x-ratelimit-limit-requests": str(int(self.burst)),
            "x-ratelimit-remaining-requests": str(int(self.tokens)),
            "x-ratelimit-reset-requests": f"{max(0, math.ceil(until_full * 1000))}ms",
        }


class Quota:
    """Lets *requests* requests through, then answers every one with ``quota_exceeded()``."""

    def __init__(self, requests: int) -> None:
        self.left = requests

    def __repr__(self) -> str:
        return f"Quota(left={self.left})"

    def __call__(self, request: Request) -> Fault | None:
        if self.left > 0:
            self.left -= 1
            return None
        return quota_exceeded()


class Outage:
    """Answers every request with *fault* (``overloaded()``, a 503, by default) for
    *seconds*, starting *after* seconds from now."""

    def __init__(
        self,
        seconds: float,
        *,
        after: float = 0.0,
        fault: Fault | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.start = clock() + after
        self.end = self.start + seconds
        self.fault = fault or overloaded()
        self.clock = clock

    def __repr__(self) -> str:
        return f"Outage({self.end - self.start:g} s, fault={self.fault.name})"

    def __call__(self, request: Request) -> Fault | None:
        return self.fault if self.start <= self.clock() < self.end else None


class RandomFaults:
    """Answers a share *rate* of requests with one of *faults*, chosen at random (seeded)."""

    def __init__(self, rate: float, faults: Sequence[Fault], *, seed: int | None = 0) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("rate is a share between 0 and 1")
        if not faults:
            raise ValueError("RandomFaults needs at least one fault")
        self.rate = rate
        self.faults = list(faults)
        self.random = random.Random(seed)

    def __repr__(self) -> str:
        names = ", ".join(f.name for f in self.faults)
        return f"RandomFaults({self.rate:g}, [{names}])"

    def __call__(self, request: Request) -> Fault | None:
        if self.random.random() >= self.rate:
            return None
        return self.random.choice(self.faults)


Rule = Callable[[Request], "Fault | None"]

__all__ = ["Outage", "Quota", "RandomFaults", "Rule", "TokenBucket"]
