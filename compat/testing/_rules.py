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
from typing import Any

from compat.testing._faults import (
    SIGNALS,
    Fault,
    Request,
    _duration,
    overloaded,
    quota_exceeded,
    rate_limited,
    request_too_large,
    tokens_limited,
)

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


class Noise:
    """Sporadic 429s at a capacity never reached: a share *share* of requests (10 % by
    default), chosen at random (seeded), is answered with a rate limit that reveals no
    limit (no ``x-ratelimit-*`` headers) and asks for a short wait, told either only as
    ``retry-after-ms`` (*header_wait*, 20 ms) or only in the message ("Please try again
    in 15ms", *message_wait*), half and half. The other requests pass to the next rule.

    It is the noise of a busy service's load balancer, not a limit: a client that takes
    each of these 429s for its own limit and slows every call down loses throughput
    for nothing.
    """

    def __init__(
        self,
        share: float = 0.1,
        *,
        header_wait: float = 0.02,
        message_wait: float = 0.015,
        seed: int | None = 0,
    ) -> None:
        if not 0 <= share <= 1:
            raise ValueError(f"share is between 0 and 1, not {share}")
        if header_wait <= 0 or message_wait <= 0:
            raise ValueError("the waits are seconds above 0")
        self.share = share
        self.faults = (rate_limited(header_wait, "ms"), rate_limited(message_wait, "message"))
        self.header_wait, self.message_wait = header_wait, message_wait
        self.random = random.Random(seed)

    def __repr__(self) -> str:
        return (
            f"Noise(share={self.share:g}, header_wait={self.header_wait:g},"
            f" message_wait={self.message_wait:g})"
        )

    def __call__(self, request: Request) -> Fault | None:
        if self.random.random() >= self.share:
            return None
        return self.faults[self.random.random() < 0.5]


_SLACK = 1e-6


class Latency:
    """Holds back every success by *seconds*: the time a model takes to answer, so that a
    steady load is bound by it rather than by how fast the machine runs the server.
    Failures, this rule's or any other's, are sent at once, as real services send them.
    It lets every request through to the next rule."""

    def __init__(self, seconds: float) -> None:
        if not 0 <= seconds < math.inf:
            raise ValueError(f"latency is seconds, 0 or more, not {seconds}")
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Latency({self.seconds:g} s)"

    def __call__(self, request: Request) -> Fault | None:
        request.latency = self.seconds
        return None


#: Endpoints a token limit charges (listing models, say, costs nothing).
CHARGED = ("chat", "completions", "embeddings", "responses")


def _text_length(value: Any) -> int:
    """Characters of text in *value*: a string, a list of strings or of content parts."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_length(item) for item in value)
    if isinstance(value, dict):
        return sum(
            _text_length(value.get(key))
            for key in ("content", "text", "name", "input", "output", "arguments")
        )
    return 0


def _whole(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
    )


def estimate_tokens(document: Any, endpoint: str = "chat") -> tuple[int, int]:
    """The (prompt, completion) tokens a request is charged, the way OpenAI counts them
    against a tokens-per-minute limit before it runs: the prompt estimated at about 4
    characters a token (the text of the messages, contents and names; a completion's
    ``prompt``; an embedding's ``input``; a response's ``input`` and ``instructions``;
    divided by 4, rounded up), the completion as the most it may take:
    ``max_completion_tokens`` (or ``max_tokens``, or a response's
    ``max_output_tokens``; none: nothing) times ``n``."""
    if not isinstance(document, dict):
        return 0, 0
    if endpoint == "chat":
        characters = _text_length(document.get("messages"))
    elif endpoint == "completions":
        characters = _text_length(document.get("prompt"))
    elif endpoint == "responses":
        characters = _text_length(document.get("input")) + _text_length(
            document.get("instructions")
        )
    else:
        characters = _text_length(document.get("input"))
    prompt = math.ceil(characters / 4)
    if endpoint == "embeddings":
        return prompt, 0
    most = document.get("max_completion_tokens")
    if most is None:
        most = document.get("max_output_tokens" if endpoint == "responses" else "max_tokens")
    return prompt, _whole(most, 0) * max(1, _whole(document.get("n"), 1))


class TokenLimit:
    """A tokens-per-minute limit, charged and told the way OpenAI does.

    Each request to a model endpoint is charged :func:`estimate_tokens` (its prompt,
    at about 4 characters a token, plus ``max_tokens`` times ``n``). Tokens refill at
    *tokens_per_minute* / 60 a second into a bucket that holds *period* seconds of
    them: 60 s (the default) lets a whole minute's tokens through at once; OpenAI
    says limits may be enforced over shorter periods ("60,000 requests/minute may be
    enforced as 1,000 requests/second", its rate-limit guide, quoted at
    https://community.openai.com/t/rate-limit-even-though-limit-not-breached/611241/6),
    which *period* = 1 models. A request passes
    when the bucket holds its cost (or is full, for a cost above what it holds);
    with *requests_per_minute*, it also needs a request from a bucket of the same
    shape. Then:

    * a success carries ``x-ratelimit-limit-tokens``, ``-remaining-tokens`` and
      ``-reset-tokens`` (and the ``-requests`` ones with a request limit), and its
      ``usage`` reports the tokens charged;
    * a request that finds too few tokens gets OpenAI's TPM 429 ("Rate limit reached
      for gpt-4o in organization org-... on tokens per min (TPM): Limit 30000, Used
      29800, Requested 1200. Please try again in 2.4s."), its wait the exact time
      until enough tokens are back, told as *signal* says; too few requests, the
      RPM 429;
    * a request that costs more than the whole limit gets "Request too large for
      gpt-4o ... on tokens per min (TPM): Limit 30000, Requested 45000. The input or
      output tokens must be reduced in order to run successfully.": it can never pass.

    The ``x-ratelimit-*`` headers ride on every answer with ``signal="precise"``.
    """

    def __init__(
        self,
        tokens_per_minute: float,
        *,
        requests_per_minute: float | None = None,
        period: float = 60.0,
        signal: str = "precise",
        clock: Clock = time.monotonic,
    ) -> None:
        if tokens_per_minute < 1 or (requests_per_minute is not None and requests_per_minute < 1):
            raise ValueError("a token limit needs at least 1 token (and request) per minute")
        if not 0 < period <= 60:
            raise ValueError(f"period is seconds above 0 and at most 60, not {period}")
        if signal not in SIGNALS:
            raise ValueError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")
        self.tpm, self.rpm = tokens_per_minute, requests_per_minute
        self.period, self.signal, self.clock = period, signal, clock
        self.token_room = tokens_per_minute * period / 60
        self.request_room = max(1.0, (requests_per_minute or 0) * period / 60)
        self.tokens, self.requests = self.token_room, self.request_room
        self.stamp = clock()
        self.limited = 0
        self.charged = 0

    def __repr__(self) -> str:
        rpm = f", requests_per_minute={self.rpm:g}" if self.rpm is not None else ""
        return (
            f"TokenLimit(tokens_per_minute={self.tpm:g}{rpm}, period={self.period:g},"
            f" signal={self.signal!r})"
        )

    def _refill(self) -> None:
        now = self.clock()
        elapsed, self.stamp = now - self.stamp, now
        self.tokens = min(self.token_room, self.tokens + elapsed * self.tpm / 60)
        if self.rpm is not None:
            self.requests = min(self.request_room, self.requests + elapsed * self.rpm / 60)

    def __call__(self, request: Request) -> Fault | None:
        if request.endpoint not in CHARGED:
            return None
        self._refill()
        prompt, completion = estimate_tokens(request.json, request.endpoint)
        cost = prompt + completion
        if cost > self.tpm:
            self._tell(request)
            return request_too_large(int(self.tpm), cost)
        # A client that waited exactly the time it was told finds what it was told it
        # would: the clock's rounding (a few ulp) does not count against it.
        if self.rpm is not None and self.requests < 1 - _SLACK:
            self.limited += 1
            self._tell(request)
            wait = (1 - self.requests) * 60 / self.rpm
            return rate_limited(wait, self.signal, limit=int(self.rpm))
        needed = min(cost, self.token_room)
        if self.tokens < needed - _SLACK:
            self.limited += 1
            self._tell(request)
            wait = (needed - self.tokens) * 60 / self.tpm
            used = int(self.tpm - max(0.0, self.tokens))
            return tokens_limited(wait, self.signal, limit=int(self.tpm), used=used, requested=cost)
        self.tokens -= cost  # below 0 for a cost above what the bucket holds: paid back first
        if self.rpm is not None:
            self.requests -= 1
        self.charged += cost
        request.usage = (prompt, completion)
        self._tell(request)
        return None

    def _tell(self, request: Request) -> None:
        if self.signal != "precise":
            return
        headers = {
            "x-ratelimit-limit-tokens": str(int(self.tpm)),
            "x-ratelimit-remaining-tokens": str(max(0, int(self.tokens))),
            "x-ratelimit-reset-tokens": _reset((self.token_room - self.tokens) * 60 / self.tpm),
        }
        if self.rpm is not None:
            headers.update(
                {
                    "x-ratelimit-limit-requests": str(int(self.rpm)),
                    "x-ratelimit-remaining-requests": str(max(0, int(self.requests))),
                    "x-ratelimit-reset-requests": _reset(
                        (self.request_room - self.requests) * 60 / self.rpm
                    ),
                }
            )
        request.extra_headers.update(headers)


def _reset(seconds: float) -> str:
    """A reset header's duration; ``0s`` when the bucket is full."""
    return _duration(seconds) if seconds > 1e-9 else "0s"


Rule = Callable[[Request], "Fault | None"]

__all__ = [
    "CHARGED",
    "Latency",
    "Noise",
    "Outage",
    "Quota",
    "RandomFaults",
    "Rule",
    "TokenBucket",
    "TokenLimit",
    "estimate_tokens",
]
