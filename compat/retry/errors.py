"""The errors the retry engine raises itself, and the marks it leaves on the last error.

When no slot can be had before a call's deadline (a cooldown, the pace of a rate or
token limit, an outage hold), compat does not send the request and raises at once: a
``rate_limited`` error (``overloaded`` for a hold) whose ``origin`` is ``"client"``,
carrying the wait it would have taken as ``retry_after``. When a call ends with an
error, the error says how many attempts were made and how long they took.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

from compat._errors import ERROR_CLASSES, LLMError
from compat._kinds import ErrorKind
from compat._parse import shown_seconds
from compat.retry.target import describe

_NOTE = "compat: "


def refused(
    why: str,
    wait: float,
    left: float,
    ceiling: float,
    key: Hashable,
    last: LLMError | None,
) -> LLMError:
    """The error of a call for which no slot is free in time."""
    target = describe(key)
    if left <= ceiling:
        limit = f"its deadline leaves {shown_seconds(max(left, 0.0))} s"
    else:
        limit = f"the {ceiling:g} s max_server_wait"
    kind = ErrorKind.RATE_LIMITED
    retryable = True
    if why == "held":
        kind = ErrorKind.OVERLOADED
        message = f"Not sent: {target} is down, held until a probe succeeds, and {limit}"
    elif why == "too large":
        retryable = False
        message = (
            f"Not sent: the request's estimated tokens exceed the whole token limit of "
            f"{target}; it can never pass"
        )
    else:
        what = {
            "cooldown": "is cooling down after a 429",
            "tokens": "has no tokens free under its token limit",
            "slow start": "is still being probed",
        }.get(why, "has no free slot under its rate limit")
        message = f"Not sent: {target} {what} for {shown_seconds(wait)} s more, longer than {limit}"
    provider = getattr(key, "provider", None) or (last.provider if last is not None else "unknown")
    error = ERROR_CLASSES[kind](
        kind=kind,
        message=message,
        retryable=retryable,
        retry_after=wait if math.isfinite(wait) else None,
        provider=provider,
        origin="client",
    )
    return error


def mark_final(
    error: LLMError, attempts: int, elapsed: float, reason: str, resends: int = 0
) -> None:
    """Record on *error* that it ended a call after *attempts* attempts in *elapsed* s, of
    which *resends* went out again after a failure that may have reached the server."""
    object.__setattr__(error, "attempts", attempts)
    object.__setattr__(error, "elapsed", elapsed)
    object.__setattr__(error, "resent", resends)
    note = (
        f"{_NOTE}gave up after {attempts} attempt{'s' if attempts != 1 else ''} "
        f"in {shown_seconds(elapsed)} s: {reason}"
    )
    if resends:
        note += (
            f"; {resends} of the attempts resent a request that may already have been "
            "processed (a timeout or a broken connection after it was sent)"
        )
    notes = [n for n in getattr(error, "__notes__", ()) if not str(n).startswith(_NOTE)]
    notes.append(note)
    object.__setattr__(error, "__notes__", notes)
