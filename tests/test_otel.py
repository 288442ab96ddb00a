"""compat.otel: spans and metrics from the retry engine's decision records, read back
through the OpenTelemetry SDK's in-memory exporters; and the per-target tally."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import compat
import compat.otel
from compat.retry.events import Event
from compat.retry.target import Target, fingerprint, operation
from compat.testing import FaultServer, faults
from tests.conftest import track

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
LEGACY = openai is not None and not V1
MESSAGES = [{"role": "user", "content": "hi"}]
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}
needs_v1 = pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")


class Telemetry:
    """The SDK's in-memory span exporter and metric reader, behind compat.otel."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())

    def only_span(self) -> Any:
        spans = [s for s in self.spans() if s.instrumentation_scope.name == "compat"]
        assert 1 == len(spans), [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, point)`` of every data point of metric *name*."""
        found = []
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(dict(p.attributes), p) for p in metric.data.data_points]
        return found

    def total(self, name: str, **where: Any) -> float:
        """The sum of counter *name* over the points whose attributes match *where*."""
        return sum(
            point.value
            for attributes, point in self.points(name)
            if all(attributes.get(k.replace("__", ".")) == v for k, v in where.items())
        )

    def texts(self) -> list[str]:
        """Every name, attribute key and value, and status description it holds."""
        found: list[str] = []

        def add(attributes: Any) -> None:
            for key, value in dict(attributes or {}).items():
                found.extend([str(key), str(value)])

        for span in self.spans():
            found.append(span.name)
            found.append(str(span.status.description))
            add(span.attributes)
            for event in span.events:
                found.append(event.name)
                add(event.attributes)
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        add(point.attributes)
        return found


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    """compat.otel instrumented into a fresh SDK tracer and meter provider."""
    pytest.importorskip("opentelemetry.sdk")
    telemetry = Telemetry()
    compat.otel.instrument(telemetry.tracer_provider, telemetry.meter_provider)
    try:
        yield telemetry
    finally:
        compat.otel.uninstrument()
        telemetry.tracer_provider.shutdown()
        telemetry.meter_provider.shutdown()


def v1_client(server: FaultServer, api_key: str = "sk-test", **options: Any) -> Any:
    return track(openai.OpenAI(base_url=server.openai_url, api_key=api_key, **options))


def names(span: Any) -> list[str]:
    return [event.name for event in span.events]


def events(span: Any, name: str) -> list[dict[str, Any]]:
    return [dict(event.attributes) for event in span.events if event.name == name]


# ----------------------------------------------------------------------------- import


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    # The timeout only guards against a hang.
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_compat_and_compat_otel_does_not_import_opentelemetry() -> None:
    """``import compat`` and ``import compat.otel`` leave OpenTelemetry unloaded; only
    instrument() loads it."""
    done = run_python(
        "import sys, compat, compat.otel\n"
        "compat.otel.Tally()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry'))"
    )
    assert 0 == done.returncode, done.stderr
    assert "[]" == done.stdout.strip()


def test_instrument_without_opentelemetry_names_the_extra() -> None:
    """Where opentelemetry cannot be imported, instrument() raises an ImportError that
    says which extra to install, and compat keeps working."""
    done = run_python(
        "import sys\n"
        "sys.modules['opentelemetry'] = None  # as if it were not installed\n"
        "import compat, compat.otel\n"
        "try:\n"
        "    compat.otel.instrument()\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
        "print(compat.otel.instrumented(), compat.RetryPolicy().call(lambda: 'still works'))"
    )
    assert 0 == done.returncode, done.stderr
    first, second = done.stdout.strip().splitlines()
    assert first.startswith("ImportError:")
    assert "pip install 'compat[otel]'" in first
    assert "False still works" == second


# ----------------------------------------------------------------------------- operation


@needs_v1
def test_wrap_names_the_operation_of_each_call(server: FaultServer) -> None:
    """While a wrapped call runs, its records are made under the operation it performs:
    chat for chat.completions and responses, embeddings, text_completion; and under
    none once it is over."""
    seen: list[tuple[str, str | None]] = []

    def hook(event: Event) -> None:
        seen.append((event.action, operation.get()))

    client = compat.wrap(v1_client(server), compat.RetryPolicy(hooks=[hook]))
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client.embeddings.create(model="text-embedding-3-small", input="hi")
    client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")
    client.responses.create(model="gpt-4o", input="hi")
    assert [
        ("attempt", "chat"),
        ("success", "chat"),
        ("attempt", "embeddings"),
        ("success", "embeddings"),
        ("attempt", "text_completion"),
        ("success", "text_completion"),
        ("attempt", "chat"),
        ("success", "chat"),
    ] == seen
    assert operation.get() is None


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK is not installed")
def test_wrap_names_the_operation_of_legacy_calls(server: FaultServer) -> None:
    """The legacy SDK's resources are named the same way: ChatCompletion is chat."""
    seen: list[str | None] = []
    openai.api_base = server.openai_url
    openai.api_key = "sk-test"
    client = compat.wrap(openai, compat.RetryPolicy(hooks=[lambda e: seen.append(operation.get())]))
    client.ChatCompletion.create(model="gpt-4o", messages=MESSAGES, request_timeout=5)
    assert ["chat", "chat"] == seen


# ----------------------------------------------------------------------------- spans


@needs_v1
def test_two_429s_then_success_give_one_span_with_every_decision(
    server: FaultServer, otel: Telemetry
) -> None:
    """Two 429s asking for 0.2 and 0.1 s, then an answer: one CLIENT span named as the
    GenAI conventions ask, an event per record, the 429s' fields on the retries, and
    the attempts, retries and waits counted."""
    from opentelemetry.trace import SpanKind, StatusCode

    server.script(faults.rate_limited(0.2), faults.rate_limited(0.1))
    with compat.retry_testing():
        compat.wrap(v1_client(server)).chat.completions.create(model="gpt-4o", messages=MESSAGES)

    span = otel.only_span()
    assert "chat gpt-4o" == span.name
    assert SpanKind.CLIENT == span.kind
    assert StatusCode.UNSET == span.status.status_code
    port = int(server.url.rsplit(":", 1)[1])
    assert {
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "server.address": "127.0.0.1",
        "server.port": port,
        "compat.target": f"openai http://127.0.0.1:{port}/v1/ gpt-4o",
        "compat.attempts": 3,
        "compat.retries": 2,
    } == dict(span.attributes)
    assert [
        "compat.attempt",
        "compat.retry",
        "compat.attempt",
        "compat.retry",
        "compat.attempt",
        "compat.success",
    ] == names(span)
    retries = events(span, "compat.retry")
    ids = [r.answer.headers["x-request-id"] for r in server.requests if r.answer][:2]
    for retry, asked, request_id in zip(retries, (0.2, 0.1), ids):
        assert "rate_limited" == retry["compat.kind"] == retry["error.type"]
        assert 429 == retry["http.response.status_code"]
        assert "rate_limit_exceeded" == retry["compat.code"]
        assert request_id == retry["compat.request_id"]
        assert "server" == retry["compat.cause"]
        assert asked == retry["compat.retry_after"]
        assert retry["compat.wait"] >= asked
        assert retry["compat.retryable"] is True
        assert retry["compat.resend"] is False
    assert [1, 2, 3] == [a["compat.attempt"] for a in events(span, "compat.attempt")]
    assert [2] == [
        a["http.request.resend_count"]
        for a in events(span, "compat.attempt")
        if a["compat.attempt"] == 3
    ]

    assert 3 == otel.total("compat.attempts", gen_ai__operation__name="chat")
    assert 2 == otel.total("compat.retries", compat__kind="rate_limited", compat__cause="server")
    [(attributes, waits)] = otel.points("compat.wait.duration")
    assert "server" == attributes["compat.cause"]
    assert 2 == waits.count
    assert waits.sum >= 0.3  # what the server asked for, on the engine's clock
    [(attributes, calls)] = otel.points("compat.call.duration")
    assert "success" == attributes["compat.outcome"]
    assert 1 == calls.count
    assert [] == otel.points("compat.give_ups")


@needs_v1
def test_async_two_429s_then_success_nest_under_the_callers_span(
    server: FaultServer, otel: Telemetry
) -> None:
    """AsyncOpenAI: the same events; the call's span is a child of the span the caller
    had open, and the caller's span is current again afterwards."""
    from opentelemetry import trace

    tracer = otel.tracer_provider.get_tracer("app")
    server.script(faults.rate_limited(0.2), faults.rate_limited(0.1))

    async def main() -> bool:
        client = compat.wrap(openai.AsyncOpenAI(base_url=server.openai_url, api_key="sk-test"))
        try:
            with tracer.start_as_current_span("handler") as outer:
                await client.embeddings.create(model="text-embedding-3-small", input="hi")
                return trace.get_current_span() is outer
        finally:
            await client.close()

    with compat.retry_testing():
        restored = asyncio.run(main())
    assert restored
    span = otel.only_span()
    [outer] = [s for s in otel.spans() if s.name == "handler"]
    assert "embeddings text-embedding-3-small" == span.name
    assert outer.context.span_id == span.parent.span_id
    assert ["compat.attempt", "compat.retry"] * 2 + ["compat.attempt", "compat.success"] == names(
        span
    )
    assert [429, 429] == [r["http.response.status_code"] for r in events(span, "compat.retry")]
    assert 3 == otel.total("compat.attempts", gen_ai__operation__name="embeddings")
    assert 2 == otel.total("compat.retries", compat__kind="rate_limited")


def test_the_calls_span_is_current_while_it_runs(otel: Telemetry) -> None:
    """What the called code does (an HTTP library's own spans) nests under the call's
    span, attempt after attempt."""
    from opentelemetry import trace

    tracer = otel.tracer_provider.get_tracer("http")
    failures = [
        compat.ServerError(kind="server_error", message="boom"),
        compat.ServerError(kind="server_error", message="boom"),
    ]

    def attempt() -> str:
        with tracer.start_as_current_span("POST"):
            if failures:
                raise failures.pop()
        return "done"

    target = Target("openai", "https://api.openai.com/v1", fingerprint("k"), "gpt-4o")
    with compat.retry_testing():
        assert "done" == compat.RetryPolicy().call(attempt, target=target)
    assert not trace.get_current_span().get_span_context().is_valid
    call = otel.only_span()
    posts = [s for s in otel.spans() if s.name == "POST"]
    assert 3 == len(posts)
    assert all(post.parent.span_id == call.context.span_id for post in posts)
    assert "compat.call gpt-4o" == call.name  # no wrapped client: no operation name
    assert "api.openai.com" == call.attributes["server.address"]
    assert 443 == call.attributes["server.port"]


def test_the_calls_span_is_current_while_an_async_call_runs(otel: Telemetry) -> None:
    """The same for an asyncio call, and two calls in concurrent tasks do not mix: each
    task's spans nest under its own call's span."""
    from opentelemetry import trace

    tracer = otel.tracer_provider.get_tracer("http")

    async def attempt(name: str, failures: list[compat.LLMError]) -> str:
        with tracer.start_as_current_span(name):
            await asyncio.sleep(0.01)
            if failures:
                raise failures.pop()
        return name

    def failures() -> list[compat.LLMError]:
        return [compat.ServerError(kind="server_error", message="boom")]

    async def main() -> list[str]:
        policy = compat.RetryPolicy()
        return list(
            await asyncio.gather(
                policy.acall(attempt, "first", failures(), target=("a",)),
                policy.acall(attempt, "second", failures(), target=("b",)),
            )
        )

    with compat.retry_testing():
        assert ["first", "second"] == asyncio.run(main())
    assert not trace.get_current_span().get_span_context().is_valid
    calls = {s.attributes["compat.target"]: s for s in otel.spans() if s.name == "compat.call"}
    assert {"a", "b"} == set(calls)
    for target, name in (("a", "first"), ("b", "second")):
        inner = [s for s in otel.spans() if s.name == name]
        assert 2 == len(inner)
        assert all(s.parent.span_id == calls[target].context.span_id for s in inner)


@needs_v1
def test_a_give_up_sets_the_error(server: FaultServer, otel: Telemetry) -> None:
    """An exhausted quota ends the call at once: the span's status is an error with
    error.type, status code and code of the answer; give-ups are counted by kind."""
    from opentelemetry.trace import StatusCode

    server.push(429, {"x-request-id": "req_quota_1"}, QUOTA)
    with pytest.raises(compat.QuotaExceededError):
        compat.wrap(v1_client(server)).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = otel.only_span()
    assert StatusCode.ERROR == span.status.status_code
    assert "quota_exceeded is not retried" == span.status.description
    assert "quota_exceeded" == span.attributes["error.type"]
    assert 429 == span.attributes["http.response.status_code"]
    assert "insufficient_quota" == span.attributes["compat.code"]
    assert "req_quota_1" == span.attributes["compat.request_id"]
    assert ["compat.attempt", "compat.give_up"] == names(span)
    [give_up] = events(span, "compat.give_up")
    assert "not retryable" == give_up["compat.cause"]
    assert 1 == otel.total(
        "compat.give_ups", compat__kind="quota_exceeded", compat__cause="not retryable"
    )
    [(attributes, calls)] = otel.points("compat.call.duration")
    assert ("give_up", "quota_exceeded") == (attributes["compat.outcome"], attributes["error.type"])
    assert 1 == calls.count


@needs_v1
def test_async_give_up_after_the_attempts(server: FaultServer, otel: Telemetry) -> None:
    """AsyncOpenAI under an outage of 503s: two attempts, then the give-up, on one span."""
    from opentelemetry.trace import StatusCode

    server.add_rule(lambda request: faults.overloaded())

    async def main() -> None:
        client = compat.wrap(
            openai.AsyncOpenAI(base_url=server.openai_url, api_key="sk-test"),
            compat.RetryPolicy(max_attempts=2, hold=False),
        )
        try:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        finally:
            await client.close()

    with compat.retry_testing(), pytest.raises(compat.OverloadedError):
        asyncio.run(main())
    span = otel.only_span()
    assert StatusCode.ERROR == span.status.status_code
    assert "overloaded" == span.attributes["error.type"]
    assert 503 == span.attributes["http.response.status_code"]
    assert 2 == span.attributes["compat.attempts"]
    assert ["compat.attempt", "compat.retry", "compat.attempt", "compat.give_up"] == names(span)
    assert 1 == otel.total("compat.give_ups", compat__kind="overloaded", compat__cause="attempts")
    assert 1 == otel.total("compat.retries", compat__kind="overloaded", compat__cause="backoff")
    [(attributes, waits)] = otel.points("compat.wait.duration")
    assert ("backoff", 1) == (attributes["compat.cause"], waits.count)


@needs_v1
def test_budget_refusals_and_resends_are_counted(server: FaultServer, otel: Telemetry) -> None:
    """A 504 (the request may have been processed) retried is a resend; with a budget of
    one retry, the next failure is refused by the budget."""
    policy = compat.RetryPolicy(budget_capacity=1, pacing=False)
    server.push(504, {}, "")
    server.push(504, {}, "")
    with compat.retry_testing(), pytest.raises(compat.APITimeoutError):
        compat.wrap(v1_client(server), policy).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    span = otel.only_span()
    [retry] = events(span, "compat.retry")
    assert retry["compat.resend"] is True
    assert 1 == span.attributes["compat.resends"]
    assert 1 == otel.total("compat.resends", compat__kind="timeout")
    assert 1 == otel.total("compat.retries", compat__resend=True)
    assert 1 == otel.total("compat.budget.refusals", compat__kind="timeout")
    assert 1 == otel.total("compat.give_ups", compat__cause="budget")


def test_waits_are_measured_between_records_by_cause(otel: Telemetry) -> None:
    """The seconds waited are the time from a decision to wait to the call's next
    record, under the wait's cause: a cooldown, then a backoff, then pacing."""
    from compat.otel import _active

    assert _active is not None
    target = Target("azure", "https://example.openai.azure.com/openai/", "", "gpt4o-deployment")
    error = compat.ServerError(kind="server_error", message="boom")
    for record in (
        Event("wait", "cooling down", "cooldown", 0, 2.0, 0.0, target, -1),
        Event("attempt", "attempt 1", "", 1, 0.0, 1.5, target, -1),
        Event("retry", "backoff", "backoff", 1, 0.25, 1.6, target, -1, error),
        Event("wait", "paced", "pacing", 1, 0.5, 2.0, target, -1, error),
        Event("attempt", "attempt 2", "", 2, 0.0, 2.75, target, -1, error),
        Event("success", "succeeded at attempt 2", "", 2, 0.0, 3.0, target, -1, error),
    ):
        _active(record)
    waits = {a["compat.cause"]: p for a, p in otel.points("compat.wait.duration")}
    assert {"cooldown", "backoff", "pacing"} == set(waits)
    assert 1.5 == pytest.approx(waits["cooldown"].sum)
    assert 0.4 == pytest.approx(waits["backoff"].sum)
    assert 0.75 == pytest.approx(waits["pacing"].sum)
    span = otel.only_span()
    assert "azure.ai.openai" == span.attributes["gen_ai.provider.name"]
    assert "compat.call gpt4o-deployment" == span.name
    assert 443 == span.attributes["server.port"]


# ----------------------------------------------------------------------------- secrets


@needs_v1
def test_no_secret_in_any_attribute(server: FaultServer, otel: Telemetry) -> None:
    """A key seeded in the client and echoed by the answer (message, request id, code,
    headers), an Azure-style key in the body, credentials in a target's URL: none of them
    (nor the key's fingerprint) appears in a span, an event or a metric."""
    key = "sk-proj-SEEDEDsecretKEY0123456789abcdef"
    azure_key = "0123456789abcdef0123456789abcdef"
    body = {
        "error": {
            "message": f"Rate limit reached for key {key} ({azure_key})",
            "type": "requests",
            "code": f"rate_limit_exceeded:{key}",
        }
    }
    headers = {"retry-after-ms": "10", "x-request-id": f"{azure_key} {key}", "api-key": key}
    server.push(429, headers, body)
    server.push(429, headers, {**body, "error": {**body["error"], "code": azure_key}})
    server.push(429, headers, body)
    client = compat.wrap(v1_client(server, api_key=key), compat.RetryPolicy(max_attempts=3))
    with compat.retry_testing(), pytest.raises(compat.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def refused() -> None:
        raise compat.AuthenticationError(kind="authentication", message=f"bad key {key}")

    in_url = Target("openai", f"https://user:{key}@llm.example/v1?api-key={key}", "", "m")
    with pytest.raises(compat.AuthenticationError):
        compat.RetryPolicy().call(refused, target=in_url)

    texts = otel.texts()
    assert any("[REDACTED]" in text for text in texts)  # the seeded values were there
    [url_span] = [s for s in otel.spans() if s.attributes.get("server.address") == "llm.example"]
    assert "openai https://llm.example/v1 m" == url_span.attributes["compat.target"]
    for secret in (key, key[8:], azure_key, fingerprint(key)):
        leaks = [text for text in texts if secret in text]
        assert [] == leaks, secret
    assert [] == [text for text in texts if "?" in text and "llm.example" in text]


def test_a_gateway_targets_fingerprint_and_query_are_left_out() -> None:
    """The gateway client's targets are tuples with a key fingerprint and a URL: shown,
    the fingerprint is left out and the URL loses its query string."""
    secret_fp = fingerprint("gw-key")
    shown = compat.otel.describe(
        ("gateway", "https://gw.example/openai/custom?key=gw-key&secret=s", secret_fp, "v1/chat")
    )
    assert "gateway https://gw.example/openai/custom v1/chat" == shown


# ----------------------------------------------------------------------------- lifecycle


@needs_v1
def test_instrument_is_idempotent_and_uninstrument_stops(
    server: FaultServer, otel: Telemetry
) -> None:
    """instrument() again with the same providers adds nothing (one span per call);
    after uninstrument() calls make no span; instrument() again resumes."""
    compat.otel.instrument(otel.tracer_provider, otel.meter_provider)
    client = compat.wrap(v1_client(server))
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 1 == len(otel.spans())
    compat.otel.uninstrument()
    assert not compat.otel.instrumented()
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 1 == len(otel.spans())
    compat.otel.instrument(otel.tracer_provider, otel.meter_provider)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 2 == len(otel.spans())
    assert 2 == otel.total("compat.attempts")


def test_uninstrument_ends_the_spans_of_calls_in_progress(otel: Telemetry) -> None:
    """A call still running when instrumentation stops gets its span ended, marked
    unfinished, instead of leaving it open forever."""
    from compat.otel import _active

    assert _active is not None
    _active(Event("attempt", "attempt 1", "", 1, 0.0, 0.0, None, -2))
    assert [] == otel.spans()
    compat.otel.uninstrument()
    [span] = otel.spans()
    assert span.attributes["compat.unfinished"] is True


def test_logging_keeps_working(otel: Telemetry, caplog: pytest.LogCaptureFixture) -> None:
    """With instrumentation on, the compat.retry logger still logs each retry with the
    record attached as ``compat_event``."""
    failures = [compat.ServerError(kind="server_error", message="boom")]

    def attempt() -> str:
        if failures:
            raise failures.pop()
        return "done"

    with caplog.at_level(logging.INFO, logger="compat.retry"), compat.retry_testing():
        assert "done" == compat.RetryPolicy().call(attempt)
    [record] = [r for r in caplog.records if r.name == "compat.retry"]
    event = record.compat_event  # type: ignore[attr-defined]
    assert ("retry", "server_error") == (event.action, event.kind.value)
    assert 1 == len(otel.spans())


# ----------------------------------------------------------------------------- tally


@needs_v1
def test_tally_sums_the_records_per_target(server: FaultServer) -> None:
    """Tally (no OpenTelemetry needed) counts calls, attempts, retries, waits by cause
    and give-ups by kind per target, as the server saw them."""
    tally = compat.otel.Tally()
    policy = compat.RetryPolicy(hooks=[tally])
    client = compat.wrap(v1_client(server), policy)
    server.script(faults.rate_limited(0.2), faults.server_error())
    with compat.retry_testing():
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        server.push(429, {}, QUOTA)
        with pytest.raises(compat.QuotaExceededError):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    found = {name.rsplit(" ", 1)[1]: t.as_dict() for name, t in tally.targets().items()}
    assert {"gpt-4o", "text-embedding-3-small"} == set(found)
    chat = found["gpt-4o"]
    assert (2, 1, 4, 2) == (chat["calls"], chat["successes"], chat["attempts"], chat["retries"])
    assert {"quota_exceeded": 1} == chat["give_ups"]
    assert chat["waited"]["server"] >= 0.2
    assert "backoff" in chat["waited"]
    assert 5 == len(server.requests) == sum(t["attempts"] for t in found.values())
    lines = list(tally.lines())
    assert 2 == len(lines)
    assert any("gave up: quota_exceeded 1" in line for line in lines)


@pytest.mark.skipif(openai is None, reason="openai is not installed")
def test_the_demo_prints_a_summary_per_target() -> None:
    """The demo ends with one line per target from the decision records, whose attempts
    add up to the attempts the server saw."""
    from compat import _demo

    out = io.StringIO()
    summary = _demo.run(out)
    text = out.getvalue()
    assert "per target" in text
    tail = text.split("per target", 1)[1].strip().splitlines()[1:]
    assert len(tail) >= 3  # OpenAI (or the legacy SDK), Azure and the gateway
    attempts = [int(line.split("attempts ", 1)[1].split(",", 1)[0]) for line in tail]
    assert summary.attempts == sum(attempts)
    assert any("waited: " in line for line in tail)
    assert any("gave up: " in line and "quota_exceeded 1" in line for line in tail)


def test_the_one_line_with_global_providers_set_later() -> None:
    """``compat.otel.instrument()`` with no arguments, called before the application sets
    OpenTelemetry's global providers, reports to them once they are set."""
    pytest.importorskip("opentelemetry.sdk")
    done = run_python(
        "import compat, compat.otel\n"
        "compat.otel.instrument()\n"
        "compat.otel.instrument()  # idempotent\n"
        "from opentelemetry import metrics, trace\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))\n"
        "failures = [compat.ServerError(kind='server_error', message='boom')]\n"
        "def attempt():\n"
        "    if failures:\n"
        "        raise failures.pop()\n"
        "    return 'done'\n"
        "with compat.retry_testing():\n"
        "    compat.RetryPolicy().call(attempt)\n"
        "print([(s.name, [e.name for e in s.events]) for s in exporter.get_finished_spans()])\n"
        "# the SDK may report on itself too (otel.sdk.*): compat's own instruments are asked\n"
        "print(sorted(m.name for r in reader.get_metrics_data().resource_metrics\n"
        "             for s in r.scope_metrics for m in s.metrics if s.scope.name == 'compat'))\n"
    )
    assert 0 == done.returncode, done.stderr
    spans, names = done.stdout.strip().splitlines()
    assert (
        "[('compat.call', ['compat.attempt', 'compat.retry', 'compat.attempt', "
        "'compat.success'])]" == spans
    )
    assert (
        "['compat.attempts', 'compat.call.duration', 'compat.retries', 'compat.wait.duration']"
        == names
    )


def test_a_gateway_call_is_named_after_its_gateway(otel: Telemetry) -> None:
    """A call under the gateway client's target (a tuple: name, URL, key fingerprint,
    method) has the gateway as provider and the URL's host and port as server; a plain
    tuple that names no endpoint gives no provider."""
    key = ("gateway", "http://gw.example:8080/openai/custom?key=k", fingerprint("k"), "v1/chat")
    compat.RetryPolicy().call(lambda: "ok", target=key)
    compat.RetryPolicy().call(lambda: "ok", target=("shard-1",))
    first, second = otel.spans()
    assert "gateway" == first.attributes["gen_ai.provider.name"]
    assert ("gw.example", 8080) == (
        first.attributes["server.address"],
        first.attributes["server.port"],
    )
    assert (
        "gateway http://gw.example:8080/openai/custom v1/chat" == first.attributes["compat.target"]
    )
    assert "gen_ai.provider.name" not in second.attributes
    assert "shard-1" == second.attributes["compat.target"]
