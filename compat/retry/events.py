"""What the retry engine decided, as frozen records, and the hooks that receive them.

Every decision about a call is an :class:`Event`: an attempt about to be sent, a wait
before it (cooldown, pacing, slow start, an outage hold), a retry, the decision to give
up, the call's success. Hooks receive them: the policy's own (``RetryPolicy(hooks=...)``)
and the process-wide ones (:func:`add_hook`). Logging on the ``compat.retry`` logger is
one such hook, installed by default; the demo and compat's tests read the records, not
log lines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import attrs

from compat._parse import shown_seconds
from compat._secrets import logger

if TYPE_CHECKING:
    from compat._errors import LLMError
    from compat._kinds import ErrorKind

log = logger("compat.retry")

#: The actions an event may have.
ACTIONS = ("attempt", "wait", "retry", "failover", "give_up", "success", "abort")


@attrs.frozen
class Event:
    """One decision about one call.

    *action* is one of ``"attempt"`` (an attempt is sent now), ``"wait"`` (the call
    waits *wait* seconds before its next attempt, for the *cause* given: ``"cooldown"``,
    ``"pacing"``, ``"tokens"``, ``"slow start"``, ``"held"``), ``"retry"`` (the attempt
    failed with *error* and is retried after *wait* seconds: *cause* ``"backoff"``,
    ``"server"`` for a wait the server asked for, ``"held"``), ``"failover"`` (the call
    leaves *target*, one of several deployments, for the next: skipped while held or
    too slow to wait for, or failed in a way that moves it on), ``"give_up"`` (the call
    ends with *error*: *cause* ``"not retryable"``, ``"server said no"``, ``"attempts"``,
    ``"ceiling"``, ``"deadline"``, ``"budget"``, or a wait cause when no slot was free
    before the deadline), ``"success"``, and ``"abort"`` (the call ended without an
    answer: cancelled, or an exception that is not a service failure). Every call ends
    with exactly one of ``"success"``, ``"give_up"`` and ``"abort"``. *attempt* counts the attempts made so far
    (1 during the first); *elapsed* is the seconds since the call started; *target* the
    key its pacing is shared under; *call* numbers the calls of this process, to group
    the events of one call.
    """

    action: str
    reason: str
    cause: str = ""
    attempt: int = 0
    wait: float = 0.0
    elapsed: float = 0.0
    target: Hashable = None
    call: int = 0
    error: LLMError | None = attrs.field(default=None, eq=False)

    @property
    def kind(self) -> ErrorKind | None:
        """The kind of the error the event is about, if any."""
        return None if self.error is None else self.error.kind

    def __str__(self) -> str:
        what = f"{self.action} after attempt {self.attempt}"
        if self.wait:
            what += f", {shown_seconds(self.wait)} s"
        kind = f" ({self.error.kind.value})" if self.error is not None else ""
        return f"{what}: {self.reason}{kind}"


Hook = Callable[[Event], Any]

_hooks: list[Hook] = []
_lock = threading.Lock()


def add_hook(hook: Hook) -> None:
    """Call *hook* with every event of every policy in this process (once, however often
    it is added)."""
    with _lock:
        if hook not in _hooks:
            _hooks.append(hook)


def remove_hook(hook: Hook) -> None:
    """Stop calling *hook*; removing one that was not added does nothing."""
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)


def hooks() -> tuple[Hook, ...]:
    """The process-wide hooks, in the order they were added."""
    return tuple(_hooks)


def dispatch(event: Event, own: tuple[Hook, ...]) -> None:
    """Hand *event* to the process-wide hooks and to the policy's own.

    A hook that raises is a bug of its own: it is logged and the call goes on.
    """
    for hook in (*_hooks, *own):
        try:
            hook(event)
        except Exception:
            log.exception("a retry hook failed on %s", event.action)


def log_event(event: Event) -> None:
    """The logging hook: retries at INFO, give-ups and waits at DEBUG, on ``compat.retry``."""
    action = event.action
    if action == "retry":
        level = logging.INFO
    elif action in ("give_up", "wait"):
        level = logging.DEBUG
    else:
        return
    if log.isEnabledFor(level):
        log.log(level, "%s", event, extra={"compat_event": event})


add_hook(log_event)
