"""``python -m compat demo``: compat under a storm of failures, with nothing real at stake.

It starts the fault server on 127.0.0.1, points the installed ``openai`` SDK
(``OpenAI`` and ``AzureOpenAI``, or the legacy module on ``openai<1``) and
compat's gateway client at it through ``compat.wrap``, scripts failures for each
call, and prints per attempt what the server sent, what compat made of it and
what the policy did; then a summary. No key, no network.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

import attrs

from compat._errors import LLMError
from compat.otel import Tally
from compat.retry.events import Event, add_hook, remove_hook
from compat.retry.policy import RetryPolicy
from compat.testing import FaultServer, faults
from compat.testing._faults import Fault

#: The default policy with its backoff shortened so that the demo takes seconds.
#: Server-directed waits are honoured as they are.
DEMO_POLICY = RetryPolicy(
    initial_wait=0.05, max_wait=0.4, overloaded_initial_wait=0.1, overloaded_max_wait=0.4
)


@attrs.define
class Summary:
    calls: int = 0
    attempts: int = 0
    successes: int = 0
    errors: Counter[str] = attrs.Factory(Counter)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "attempts": self.attempts,
            "successes": self.successes,
            "errors": dict(sorted(self.errors.items())),
            "seconds": round(self.seconds, 2),
        }


class _Decisions:
    """Collects the policy's decision after each failed attempt (a retry hook)."""

    def __init__(self) -> None:
        self.seen: list[tuple[LLMError, Event]] = []

    def __call__(self, event: Event) -> None:
        if event.action in ("retry", "give_up") and event.error is not None:
            self.seen.append((event.error, event))


Step = tuple[str, tuple[Fault, ...], Callable[[], Any]]


def _describe_result(result: Any) -> str:
    if isinstance(result, list):
        return f"{len(result)} chunks streamed"
    for path in (
        ("choices", 0, "message", "content"),
        ("choices", 0, "text"),
        ("output_text",),
        ("data",),
    ):
        value: Any = result
        for key in path:
            try:
                value = (
                    value[key]
                    if isinstance(key, int) or isinstance(value, dict)
                    else getattr(value, key)
                )
            except (AttributeError, IndexError, KeyError, TypeError):
                value = None
                break
        if isinstance(value, str):
            return repr(value)
        if isinstance(value, list):
            return f"{len(value)} embedding(s)"
    return type(result).__name__


def _v1_steps(server: FaultServer, openai: Any) -> list[Step]:
    import compat

    messages = [{"role": "user", "content": "Say hello."}]
    raw = openai.OpenAI(base_url=server.openai_url, api_key="sk-demo-not-a-real-key", timeout=1.0)
    azure_raw = openai.AzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key="0123456789abcdef0123456789abcdef",
        api_version="2024-06-01",
        timeout=1.0,
    )
    client = compat.wrap(raw, DEMO_POLICY)
    azure = compat.wrap(azure_raw, DEMO_POLICY)

    def chat() -> Any:
        return client.chat.completions.create(model="gpt-4o", messages=messages)

    def stream() -> Any:
        with client.chat.completions.create(model="gpt-4o", messages=messages, stream=True) as s:
            return list(s)

    def embed() -> Any:
        return client.embeddings.create(model="text-embedding-3-small", input="hello")

    def respond() -> Any:
        return client.responses.create(model="gpt-4o", input="Say hello.")

    def azure_chat() -> Any:
        return azure.chat.completions.create(model="gpt4o-deployment", messages=messages)

    return [
        ("OpenAI chat: a rate limit asking for 0.2 s", (faults.rate_limited(0.2),), chat),
        (
            "OpenAI chat: overloaded, then a server error",
            (faults.overloaded(), faults.server_error()),
            chat,
        ),
        ("OpenAI chat: a 429 that means the money is gone", (faults.quota_exceeded(),), chat),
        ("OpenAI chat: a proxy's HTML page", (faults.html_page(502),), chat),
        (
            "OpenAI chat, streamed: reset before the first chunk",
            (faults.stream_reset(after=0),),
            stream,
        ),
        (
            "OpenAI chat, streamed: an error after two chunks",
            (faults.stream_error(after=2),),
            stream,
        ),
        ("OpenAI embeddings: an answer slower than the 1 s timeout", (faults.slow(3.0),), embed),
        ("OpenAI responses: a wrong key", (faults.unauthorized(),), respond),
        ("Azure chat: a rate limit with retry-after-ms", (faults.rate_limited(0.3),), azure_chat),
        ("Azure chat: the content filter", (faults.content_filtered(),), azure_chat),
    ]


def _legacy_steps(server: FaultServer, openai: Any) -> list[Step]:
    import compat

    openai.api_base = server.openai_url
    openai.api_key = "sk-demo-not-a-real-key"
    openai.api_type = "open_ai"
    openai.api_version = None
    client = compat.wrap(openai, DEMO_POLICY)
    messages = [{"role": "user", "content": "Say hello."}]

    def chat() -> Any:
        return client.ChatCompletion.create(model="gpt-4o", messages=messages, request_timeout=1.0)

    def complete() -> Any:  # Embedding.create needs numpy on openai<1
        return client.Completion.create(
            model="gpt-3.5-turbo-instruct", prompt="Say hello.", request_timeout=1.0
        )

    def azure_chat() -> Any:
        return client.ChatCompletion.create(
            engine="gpt4o-deployment",
            messages=messages,
            api_type="azure",
            api_base=server.azure_endpoint,
            api_version="2024-06-01",
            api_key="0123456789abcdef0123456789abcdef",
            request_timeout=1.0,
        )

    return [
        ("openai<1 chat: a rate limit asking for 0.2 s", (faults.rate_limited(0.2),), chat),
        (
            "openai<1 chat: overloaded, then a server error",
            (faults.overloaded(), faults.server_error()),
            chat,
        ),
        ("openai<1 chat: a 429 that means the money is gone", (faults.quota_exceeded(),), chat),
        ("openai<1 chat: a proxy's HTML page", (faults.html_page(502),), chat),
        (
            "openai<1 completion: an answer slower than the 1 s timeout",
            (faults.slow(3.0),),
            complete,
        ),
        ("openai<1 chat: a wrong key", (faults.unauthorized(),), chat),
        (
            "openai<1 Azure chat: a rate limit with retry-after-ms",
            (faults.rate_limited(0.3),),
            azure_chat,
        ),
        ("openai<1 Azure chat: the content filter", (faults.content_filtered(),), azure_chat),
    ]


def _gateway_steps(server: FaultServer) -> tuple[list[Step], Any]:
    import compat

    raw = compat.GatewayClient(
        "gw-demo-key", "gw-demo-secret", base_url=server.gateway_url, timeout=(2, 2)
    )
    gateway = compat.wrap(raw, DEMO_POLICY)
    args = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello."}]}

    def call() -> Any:
        return gateway.call("v1/chat/completions", args)

    steps: list[Step] = [
        ("Gateway: code 4008 (rate limited) under HTTP 200", (faults.rate_limited(),), call),
        (
            "Gateway: code 4009 (overloaded), then a reset",
            (faults.overloaded(), faults.reset()),
            call,
        ),
        ("Gateway: code 4013 (no balance left)", (faults.quota_exceeded(),), call),
        (
            "Gateway: code 2000 around the upstream's context-length error",
            (faults.context_length(),),
            call,
        ),
    ]
    return steps, raw


def _installed_openai() -> Any:
    try:
        return importlib.import_module("openai")
    except ImportError:
        return None


def run(out: TextIO = sys.stdout) -> Summary:
    """Run the demo, printing to *out*; return the summary."""
    openai = _installed_openai()
    summary = Summary()
    decisions = _Decisions()
    add_hook(decisions)
    tally = Tally()
    add_hook(tally)
    started = time.monotonic()
    closers: list[Callable[[], Any]] = []
    with FaultServer() as server:
        try:
            steps: list[Step] = []
            if openai is None:
                print("openai is not installed: only the gateway client runs.\n", file=out)
            elif hasattr(openai, "OpenAI"):
                steps += _v1_steps(server, openai)
            else:
                steps += _legacy_steps(server, openai)
            gateway_steps, gateway = _gateway_steps(server)
            closers.append(gateway.close)
            steps += gateway_steps
            version = getattr(openai, "__version__", None) or getattr(
                getattr(openai, "version", None), "VERSION", ""
            )
            print(
                f"compat demo: fault server on {server.url}, openai {version or 'absent'}\n",
                file=out,
            )
            for number, (title, script, call) in enumerate(steps, start=1):
                _run_step(number, title, script, call, server, decisions, summary, out)
        finally:
            for close in closers:
                close()
            remove_hook(decisions)
            remove_hook(tally)
    summary.seconds = time.monotonic() - started
    _print_summary(summary, out)
    print("per target (from the decision records)", file=out)
    for line in tally.lines():
        print(f"    {line}", file=out)
    return summary


def _run_step(
    number: int,
    title: str,
    script: tuple[Fault, ...],
    call: Callable[[], Any],
    server: FaultServer,
    decisions: _Decisions,
    summary: Summary,
    out: TextIO,
) -> None:
    print(f"[{number}] {title}", file=out)
    first = len(server.requests)
    decisions.seen.clear()
    server.script(*script)
    outcome: Any
    failure: LLMError | None = None
    try:
        outcome = call()
    except LLMError as exc:
        failure = exc
    sent = server.requests[first:]
    summary.calls += 1
    summary.attempts += len(sent)
    for attempt, request in enumerate(sent, start=1):
        answer = request.answer
        print(
            f"    attempt {attempt}: server sent {answer.summary if answer else 'nothing'}",
            file=out,
        )
        if attempt <= len(decisions.seen):
            error, decision = decisions.seen[attempt - 1]
            wait = f", retry_after {error.retry_after:g} s" if error.retry_after is not None else ""
            print(
                f"        compat: {type(error).__name__} (kind {error.kind.value}, "
                f"retryable {error.retryable}{wait})",
                file=out,
            )
            action = (
                f"retry in {decision.wait:.2f} s: {decision.reason}"
                if decision.action == "retry"
                else f"raise: {decision.reason}"
            )
            print(f"        policy: {action}", file=out)
            for verdict in error.content_filter:
                print(
                    f"        content filter ({verdict.source}): {', '.join(verdict.filtered)}",
                    file=out,
                )
    if failure is None:
        summary.successes += 1
        print(f"    -> success: {_describe_result(outcome)}\n", file=out)
        return
    summary.errors[failure.kind.value] += 1
    if len(decisions.seen) < len(sent):  # failed after the attempt was over (mid-stream)
        print(
            f"        compat: {type(failure).__name__} (kind {failure.kind.value}); "
            "part of the stream was read, so it is raised, not retried",
            file=out,
        )
    print(f"    -> raised compat.{type(failure).__name__}: {shorten(failure.message)}\n", file=out)


def shorten(text: str, width: int = 100) -> str:
    """*text* in at most *width* characters: cut after the last whole word that fits, with
    an ellipsis; a single word longer than that is cut where it must be."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if not text[width - 1].isspace() and " " in cut.strip():
        cut = cut[: cut.rstrip().rfind(" ")]
    return cut.rstrip(" ,;:") + "…"


def _print_summary(summary: Summary, out: TextIO) -> None:
    print("summary", file=out)
    print(f"    calls      {summary.calls}", file=out)
    print(f"    attempts   {summary.attempts}", file=out)
    print(f"    successes  {summary.successes}", file=out)
    errors = (
        ", ".join(f"{kind} {count}" for kind, count in sorted(summary.errors.items())) or "none"
    )
    print(f"    errors     {errors}", file=out)
    print(f"    time       {summary.seconds:.1f} s", file=out)


def main(json_output: bool = False) -> int:
    if json_output:
        import io
        import json

        summary = run(io.StringIO())
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        run()
    return 0
