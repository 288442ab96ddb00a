"""Retries you can see: OpenTelemetry spans and metrics from the retry engine's records.

One line, after ``pip install 'compat[otel]'``::

    import compat.otel

    compat.otel.instrument()  # the global tracer and meter providers, or pass your own

Every call through ``compat.wrap`` (and through a :class:`compat.RetryPolicy`) then gets
one span of kind CLIENT, named as OpenTelemetry's GenAI conventions ask
(``"chat gpt-4o"``), that covers the call with all its retries and is the current span
while the call runs (an instrumented HTTP library's spans nest under it). Each decision
record (:class:`compat.Event`) becomes a span event (``compat.attempt``,
``compat.wait``, ``compat.retry``, ``compat.give_up``, ``compat.success``,
``compat.abort``), and metrics count attempts, retries, give-ups by kind, budget
refusals, resends, the seconds waited by cause and the calls' durations (see
:data:`METRICS`).

Attribute names are OpenTelemetry's where its semantic conventions (HTTP, GenAI) name
one, and ``compat.*`` otherwise. No secret reaches an attribute: the error's fields
and compat's reasons are redacted, a target's endpoint is reduced to scheme, host,
port and path (no user-info, no query string), and a key's fingerprint is left out.

:class:`Tally` sums the same records per target without OpenTelemetry (the demo prints
it). ``import compat.otel`` never imports OpenTelemetry; :func:`instrument` does.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from compat._redact import redact_text
from compat.retry.events import Event, add_hook, remove_hook
from compat.retry.target import Target, operation

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.metrics import Meter, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = [
    "METRICS",
    "PROVIDER_NAMES",
    "Tally",
    "TargetTally",
    "describe",
    "instrument",
    "instrumented",
    "uninstrument",
]

#: The metrics :func:`instrument` records: name, unit, and what is counted or measured.
#: Every one carries the target's ``gen_ai.provider.name``, ``gen_ai.operation.name``,
#: ``gen_ai.request.model``, ``server.address`` and ``server.port`` when known.
METRICS = {
    "compat.attempts": ("{attempt}", "Attempts sent (requests, the first included)."),
    "compat.retries": (
        "{retry}",
        "Failed attempts that were retried, by compat.kind, compat.cause (backoff, server, "
        "held) and compat.resend.",
    ),
    "compat.give_ups": (
        "{call}",
        "Calls that ended with an error, by compat.kind (also error.type) and compat.cause "
        "(not retryable, server said no, attempts, ceiling, deadline, budget, resend, or the "
        "wait that found no slot in time).",
    ),
    "compat.budget.refusals": (
        "{call}",
        "Calls that ended because the retry budget was spent, by compat.kind.",
    ),
    "compat.resends": (
        "{request}",
        "Retries that resent a request which may already have been processed (a timeout or "
        "a broken connection after it was sent), by compat.kind.",
    ),
    "compat.wait.duration": (
        "s",
        "Seconds a call waited before its next attempt, by compat.cause: backoff, server, "
        "cooldown, pacing, tokens, slow start, held.",
    ),
    "compat.call.duration": (
        "s",
        "Seconds from a call's start to its end, retries included, by compat.outcome "
        "(success, give_up, abort) and error.type.",
    ),
}

# Durations of a few milliseconds to a minute (the conventions' buckets for HTTP, longer).
_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

#: compat's provider names as the GenAI conventions' ``gen_ai.provider.name`` values.
PROVIDER_NAMES = {"openai": "openai", "azure": "azure.ai.openai"}

_FINAL = frozenset({"success", "give_up", "abort"})
_MAX_TEXT = 256
_FINGERPRINT = re.compile(r"[0-9a-f]{12}")


# ----------------------------------------------------------------------------- targets


class _View(NamedTuple):
    """What may be shown of a call's target: its text and its attributes."""

    text: str
    name: str
    attributes: dict[str, Any]


def _clean(text: object) -> str:
    """*text* with secrets redacted, cut to a bounded length."""
    shown = redact_text(str(text))
    return shown if len(shown) <= _MAX_TEXT else shown[: _MAX_TEXT - 3] + "..."


def _endpoint(url: str) -> tuple[str, str | None, int | None]:
    """A URL as it may be shown (scheme, host, port and path: no user-info, no query, no
    fragment), its host and its port (the scheme's default when none is written)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return _clean(url.split("?", 1)[0].split("#", 1)[0]), None, None
    if not parts.scheme or not host:
        return _clean(url.split("?", 1)[0].split("#", 1)[0]), None, None
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    where = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        where += f":{parts.port}"
    return _clean(f"{parts.scheme}://{where}{parts.path}"), host, port


def _looks_like_url(text: str) -> bool:
    return "://" in text


def _view(key: Hashable, op: str | None) -> _View:
    """The shown text and the attributes of target *key* for a call doing *op*."""
    attributes: dict[str, Any] = {}
    provider: str | None = None
    model: str | None = None
    host: str | None = None
    port: int | None = None
    if isinstance(key, Target):
        provider = key.provider
        model = key.model
        endpoint, host, port = _endpoint(str(key.endpoint))
        text = " ".join(p for p in (_clean(provider), endpoint, _clean(model or "")) if p)
    elif key is None:
        text = "(no target)"
    else:
        parts = key if isinstance(key, tuple) else (key,)
        shown: list[str] = []
        for part in parts:
            if isinstance(part, str) and (not part or _FINGERPRINT.fullmatch(part)):
                continue  # a key's fingerprint (compat.retry.target.fingerprint): left out
            if isinstance(part, str) and _looks_like_url(part):
                endpoint, found_host, found_port = _endpoint(part)
                if host is None:
                    host, port = found_host, found_port
                shown.append(endpoint)
            else:
                shown.append(_clean(part))
        if host is not None and isinstance(key, tuple) and isinstance(key[0], str) and key[0]:
            # A tuple with an endpoint in it, as the gateway client's targets are
            # (name, base URL, key fingerprint, method), starts with the provider's name.
            provider = key[0]
        text = " ".join(shown) or "(no target)"
    if provider:
        name = PROVIDER_NAMES.get(provider, _clean(provider))
        attributes["gen_ai.provider.name"] = name
    if op:
        attributes["gen_ai.operation.name"] = _clean(op)
    if model:
        attributes["gen_ai.request.model"] = _clean(model)
    if host:
        attributes["server.address"] = _clean(host)
        if port is not None:
            attributes["server.port"] = port
    span_name = " ".join(p for p in (op or "compat.call", model) if p)
    return _View(_clean(text), _clean(span_name), attributes)


_views: dict[tuple[Hashable, str | None], _View] = {}
_views_lock = threading.Lock()


def _view_of(key: Hashable, op: str | None = None) -> _View:
    """:func:`_view`, remembered for the targets seen most recently."""
    try:
        found = _views.get((key, op))
    except TypeError:  # an unhashable target: not remembered
        return _view(key, op)
    if found is None:
        found = _view(key, op)
        with _views_lock:
            if len(_views) >= 4096:
                _views.clear()
            _views[(key, op)] = found
    return found


def describe(key: Hashable) -> str:
    """Target *key* as it may be shown: no secret, no key fingerprint, no query string."""
    return _view_of(key).text


# ----------------------------------------------------------------------------- waits


def _waiting(event: Event) -> tuple[str, float] | None:
    """The ``(cause, since)`` of the wait that *event* starts, if it starts one: a ``wait``
    record, or a ``retry`` with a wait before the next attempt."""
    if event.action == "wait" or (event.action == "retry" and event.wait > 0):
        return event.cause or event.action, event.elapsed
    return None


def _waited(pending: tuple[str, float] | None, event: Event) -> tuple[str, float] | None:
    """The ``(cause, seconds)`` actually waited between the record that started a wait and
    *event*, the call's next record."""
    if pending is None:
        return None
    cause, since = pending
    return cause, max(event.elapsed - since, 0.0)


def _resend(event: Event) -> bool:
    """Whether a ``retry`` record is a resend (the engine says so in its reason)."""
    return event.action == "retry" and "a resend" in event.reason


# ----------------------------------------------------------------------------- tally


class TargetTally:
    """What the records of one target's calls add up to."""

    __slots__ = ("attempts", "calls", "give_ups", "resends", "retries", "successes", "waited")

    def __init__(self) -> None:
        self.calls = 0
        self.successes = 0
        self.attempts = 0
        self.retries = 0
        self.resends = 0
        #: Seconds waited before attempts, by cause (backoff, server, cooldown, ...).
        self.waited: dict[str, float] = {}
        #: Calls that ended with an error, by kind (``"aborted"`` for an abort).
        self.give_ups: Counter[str] = Counter()

    def as_dict(self) -> dict[str, Any]:
        """The tally as plain data."""
        return {
            "calls": self.calls,
            "successes": self.successes,
            "attempts": self.attempts,
            "retries": self.retries,
            "resends": self.resends,
            "waited": {cause: round(s, 3) for cause, s in sorted(self.waited.items())},
            "give_ups": dict(sorted(self.give_ups.items())),
        }

    def __str__(self) -> str:
        line = f"calls {self.calls}, attempts {self.attempts}, retries {self.retries}"
        if self.resends:
            line += f" ({self.resends} resent)"
        if self.waited:
            waits = ", ".join(f"{c} {s:.2f} s" for c, s in sorted(self.waited.items()))
            line += f"; waited: {waits}"
        if self.give_ups:
            ends = ", ".join(f"{k} {n}" for k, n in sorted(self.give_ups.items()))
            line += f"; gave up: {ends}"
        return line


class Tally:
    """A hook that sums decision records per target: calls, attempts, retries, seconds
    waited by cause, give-ups by kind.

    Add it as any hook (``compat.add_hook(tally)`` or ``RetryPolicy(hooks=[tally])``);
    :meth:`targets` gives the sums, :meth:`lines` a short report. Waits are measured
    between the records of a call (from the decision to wait to the call's next
    record), so they are the time really waited, on the engine's clock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[str, TargetTally] = {}
        self._pending: dict[int, tuple[str, float] | None] = {}

    def __call__(self, event: Event) -> None:
        name = describe(event.target)
        with self._lock:
            tally = self._targets.get(name)
            if tally is None:
                tally = self._targets[name] = TargetTally()
            waited = _waited(self._pending.pop(event.call, None), event)
            if waited is not None:
                cause, seconds = waited
                tally.waited[cause] = tally.waited.get(cause, 0.0) + seconds
            action = event.action
            if action == "attempt":
                tally.attempts += 1
            elif action == "retry":
                tally.retries += 1
                tally.resends += _resend(event)
            if action in _FINAL:
                tally.calls += 1
                if action == "success":
                    tally.successes += 1
                elif action == "give_up":
                    kind = event.kind
                    tally.give_ups[kind.value if kind is not None else "unknown"] += 1
                else:
                    tally.give_ups["aborted"] += 1
            else:
                self._pending[event.call] = _waiting(event)

    def targets(self) -> dict[str, TargetTally]:
        """The sums so far, per target (as :func:`describe` shows it)."""
        with self._lock:
            return dict(self._targets)

    def lines(self) -> Iterator[str]:
        """One line per target: its name, then its sums."""
        for name, tally in sorted(self.targets().items()):
            yield f"{name}: {tally}"


# ----------------------------------------------------------------------------- OpenTelemetry


class _Call:
    """A call in progress: its span, the context it made current, what it waits for."""

    __slots__ = ("attributes", "pending", "resends", "retries", "span", "token")

    def __init__(self, span: Span, token: Token[Context] | None, attributes: dict[str, Any]):
        self.span = span
        self.token = token
        self.attributes = attributes
        self.pending: tuple[str, float] | None = None
        self.retries = 0
        self.resends = 0


def _error_attributes(event: Event) -> dict[str, Any]:
    """The redacted fields of the error a record is about, as attributes."""
    error = event.error
    if error is None:
        return {}
    kind = error.kind.value
    found: dict[str, Any] = {
        "error.type": kind,
        "compat.kind": kind,
        "compat.retryable": bool(error.retryable),
        "compat.provider": _clean(error.provider),
    }
    if error.status is not None:
        found["http.response.status_code"] = int(error.status)
    if error.code is not None:
        found["compat.code"] = _clean(error.code)
    if error.request_id is not None:
        found["compat.request_id"] = _clean(error.request_id)
    retry_after = error.retry_after
    if retry_after is not None and math.isfinite(retry_after):
        found["compat.retry_after"] = float(retry_after)
    return found


class _Instrumentation:
    """The hook that turns decision records into spans and metrics."""

    def __init__(
        self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None
    ) -> None:
        from opentelemetry import metrics, trace

        self.providers = (tracer_provider, meter_provider)
        self.tracer: Tracer = trace.get_tracer("compat", tracer_provider=tracer_provider)
        meter: Meter = metrics.get_meter("compat", meter_provider=meter_provider)
        unit = {name: spec[0] for name, spec in METRICS.items()}
        about = {name: spec[1] for name, spec in METRICS.items()}

        def counter(name: str) -> Any:
            return meter.create_counter(name, unit[name], about[name])

        def seconds(name: str) -> Any:
            try:
                return meter.create_histogram(
                    name,
                    unit[name],
                    about[name],
                    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
                )
            except TypeError:  # an API older than 1.23: the SDK's (or the view's) buckets
                return meter.create_histogram(name, unit[name], about[name])

        self.attempts = counter("compat.attempts")
        self.retries = counter("compat.retries")
        self.give_ups = counter("compat.give_ups")
        self.budget_refusals = counter("compat.budget.refusals")
        self.resends = counter("compat.resends")
        self.waits = seconds("compat.wait.duration")
        self.durations = seconds("compat.call.duration")
        self._calls: dict[int, _Call] = {}
        self._lock = threading.Lock()

    # The hook ---------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        with self._lock:
            call = self._calls.get(event.call)
        if call is None:
            call = self._start(event)
            with self._lock:
                self._calls[event.call] = call
        waited = _waited(call.pending, event)
        if waited is not None:
            self.waits.record(waited[1], {**call.attributes, "compat.cause": waited[0]})
        action = event.action
        found: dict[str, Any] = {"compat.attempt": event.attempt, "compat.elapsed": event.elapsed}
        if action == "attempt":
            self.attempts.add(1, call.attributes)
            if event.attempt > 1:
                found["http.request.resend_count"] = event.attempt - 1
        else:
            if event.cause:
                found["compat.cause"] = _clean(event.cause)
            if action in ("wait", "retry"):
                found["compat.wait"] = float(event.wait)
            if action != "success":
                found["compat.reason"] = _clean(event.reason)
            if action in ("retry", "give_up"):  # the failure they decided about
                found.update(_error_attributes(event))
        if action == "retry":
            self._retried(call, event, found)
        call.span.add_event(f"compat.{action}", found)
        if action in _FINAL:
            self._end(call, event)
        else:
            call.pending = _waiting(event)

    def _start(self, event: Event) -> _Call:
        from opentelemetry import context, trace

        shown = _view_of(event.target, operation.get())
        attributes = dict(shown.attributes)
        on_span = {**attributes, "compat.target": shown.text}
        if "gen_ai.provider.name" in attributes:  # the name conventions up to 1.36 read
            on_span["gen_ai.system"] = attributes["gen_ai.provider.name"]
        span = self.tracer.start_span(
            shown.name,
            kind=trace.SpanKind.CLIENT,
            attributes=on_span,
            start_time=time.time_ns() - int(max(event.elapsed, 0.0) * 1e9),
        )
        token = None
        if event.action not in _FINAL:
            token = context.attach(trace.set_span_in_context(span))
        return _Call(span, token, attributes)

    def _retried(self, call: _Call, event: Event, found: dict[str, Any]) -> None:
        call.retries += 1
        resend = _resend(event)
        found["compat.resend"] = resend
        kind = {"compat.kind": found.get("compat.kind", "unknown")}
        self.retries.add(
            1,
            {
                **call.attributes,
                **kind,
                "compat.cause": found.get("compat.cause", ""),
                "compat.resend": resend,
            },
        )
        if resend:
            call.resends += 1
            self.resends.add(1, {**call.attributes, **kind})

    def _end(self, call: _Call, event: Event) -> None:
        from opentelemetry.trace import Status, StatusCode

        with self._lock:
            self._calls.pop(event.call, None)
        span, action = call.span, event.action
        outcome: dict[str, Any] = {"compat.outcome": action}
        ending: dict[str, Any] = {"compat.attempts": event.attempt, "compat.retries": call.retries}
        if call.resends:
            ending["compat.resends"] = call.resends
        if action == "give_up":
            found = _error_attributes(event)
            kind = found.get("compat.kind", "unknown")
            cause = _clean(event.cause)
            ending.update(found)
            ending["error.type"] = outcome["error.type"] = kind
            self.give_ups.add(
                1,
                {**call.attributes, "compat.kind": kind, "error.type": kind, "compat.cause": cause},
            )
            if event.cause == "budget":
                self.budget_refusals.add(1, {**call.attributes, "compat.kind": kind})
            span.set_status(Status(StatusCode.ERROR, _clean(event.reason)))
        elif action == "abort":
            ending["error.type"] = outcome["error.type"] = "aborted"
            span.set_status(Status(StatusCode.ERROR, _clean(event.reason)))
        span.set_attributes(ending)
        self.durations.record(max(event.elapsed, 0.0), {**call.attributes, **outcome})
        self._close(call)

    def _close(self, call: _Call) -> None:
        from opentelemetry import context, trace

        token, call.token = call.token, None
        # Give the context back only where this call made its span current: a call ended
        # from elsewhere (a generator finalised by the collector) leaves it alone.
        if token is not None and trace.get_current_span() is call.span:
            context.detach(token)
        call.span.end()

    def close(self) -> None:
        """End the spans of calls still in progress (without their final record)."""
        with self._lock:
            calls = list(self._calls.values())
            self._calls.clear()
        for call in calls:
            call.span.set_attribute("compat.unfinished", True)
            self._close(call)


_active: _Instrumentation | None = None
_lock = threading.Lock()


def instrument(
    tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Give every call through compat a span and record its metrics, from now on.

    Without arguments, OpenTelemetry's global tracer and meter providers are used
    (set them before or after: the API's proxies follow). Calling it again with the
    same providers changes nothing; with others, the instrumentation moves to them.
    Raises ``ImportError`` when ``opentelemetry-api`` is not installed
    (``pip install 'compat[otel]'``).
    """
    global _active
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "compat.otel.instrument() needs the OpenTelemetry API: "
            "pip install 'compat[otel]' (or opentelemetry-api)"
        ) from exc
    with _lock:
        active = _active
        if active is not None:
            if active.providers[0] is tracer_provider and active.providers[1] is meter_provider:
                return
            remove_hook(active)
            active.close()
        _active = _Instrumentation(tracer_provider, meter_provider)
        add_hook(_active)


def uninstrument() -> None:
    """Stop; spans of calls in progress are ended. Without :func:`instrument`, nothing."""
    global _active
    with _lock:
        active, _active = _active, None
        if active is not None:
            remove_hook(active)
            active.close()


def instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return _active is not None
