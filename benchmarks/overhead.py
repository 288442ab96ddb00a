"""Success-path overhead, deadlines and cancellation.

Run: python benchmarks/overhead.py

* ns per call added by ``@policy`` and ``policy.call`` to a no-op function, beside
  tenacity's and stamina's decorators; µs per call added by ``compat.wrap`` to a
  real ``openai.OpenAI`` client answering from an in-memory transport;
* how far past its deadline a call that keeps getting 429s ends, for compat,
  tenacity (``stop_after_delay``) and stamina (``timeout``);
* how long a cancelled async call takes to stop while it waits to retry.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import openai
from _figures import per_call, spread

import compat

#: Runs of the deadline and cancellation figures, which take seconds each.
SLOW_REPEATS = 3
#: Alternating batches of bare and wrapped client calls.
CLIENT_REPEATS = 15
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def httpx_module() -> Any:
    namespace = vars(openai._exceptions)
    return namespace.get("httpx2") or namespace["httpx"]


def mock_client(handler: Callable[[Any], Any], **options: Any) -> Any:
    httpx = httpx_module()
    transport = httpx.MockTransport(handler)
    return openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        http_client=httpx.Client(transport=transport),
        **options,
    )


def decorators() -> list[tuple[str, list[float]]]:
    import stamina
    import tenacity

    def noop() -> int:
        return 1

    policy = compat.RetryPolicy(pacing=False)
    with_policy = policy(noop)
    with_tenacity = tenacity.retry(stop=tenacity.stop_after_attempt(3))(noop)
    with_stamina = stamina.retry(on=Exception)(noop)
    rows = [("bare call", per_call(noop, 50_000))]
    rows.append(("@compat.RetryPolicy()", per_call(with_policy, 50_000)))
    rows.append(("policy.call(fn)", per_call(lambda: policy.call(noop), 50_000)))
    rows.append(("@tenacity.retry", per_call(with_tenacity, 20_000)))
    rows.append(("@stamina.retry", per_call(with_stamina, 20_000)))
    return rows


def wrapped_client() -> list[tuple[str, list[float]]]:
    httpx = httpx_module()
    body = json.dumps(COMPLETION).encode()

    def handler(request: Any) -> Any:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    raw = mock_client(handler, max_retries=0)
    wrapped = compat.wrap(mock_client(handler))

    def bare() -> Any:
        return raw.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def through_wrap() -> Any:
        return wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    bare(), through_wrap()
    # Batches of the two alternate, so that the machine's drift falls on both alike.
    bare_figures: list[float] = []
    wrapped_figures: list[float] = []
    for _ in range(CLIENT_REPEATS):
        bare_figures += per_call(bare, 100, 1)
        wrapped_figures += per_call(through_wrap, 100, 1)
    return [
        ("openai.OpenAI, in-memory transport", bare_figures),
        ("compat.wrap(client)", wrapped_figures),
    ]


def deadlines() -> list[tuple[str, float, int]]:
    """(strategy, seconds past a 2 s deadline, attempts) for calls that keep getting 429s."""
    import stamina
    import tenacity

    httpx = httpx_module()
    attempts = [0]

    def handler(request: Any) -> Any:
        attempts[0] += 1
        body = {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
        }
        return httpx.Response(429, json=body, headers={"retry-after-ms": "700"})

    client = mock_client(handler, max_retries=0)

    def call() -> Any:
        return client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    strategies: dict[str, Callable[[], Any]] = {
        "compat (deadline=2)": lambda: compat.RetryPolicy(
            deadline=2.0, max_attempts=100, pacing=False
        ).call(call),
        "tenacity (stop_after_delay(2), cookbook wait)": tenacity.retry(
            wait=tenacity.wait_random_exponential(min=1, max=60), stop=tenacity.stop_after_delay(2)
        )(call),
        "stamina (timeout=2)": stamina.retry(on=openai.RateLimitError, timeout=2.0, attempts=None)(
            call
        ),
    }
    rows = []
    for name, fn in strategies.items():
        attempts[0] = 0
        start = time.monotonic()
        with contextlib.suppress(Exception):
            fn()
        rows.append((name, time.monotonic() - start - 2.0, attempts[0]))
    return rows


def cancellation() -> float:
    """Seconds between cancelling an async call that waits 30 s to retry, and its end."""

    async def failing() -> None:
        raise compat.RateLimitError(
            kind=compat.ErrorKind.RATE_LIMITED, message="wait", retry_after=30.0
        )

    async def main() -> float:
        task = asyncio.ensure_future(compat.RetryPolicy(pacing=False).acall(failing))
        await asyncio.sleep(0.2)
        start = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return time.monotonic() - start

    return asyncio.run(main())


def main() -> None:
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])
    print(f"openai {openai.version.VERSION}")
    print("\nsuccess path: a no-op function (ns per call; ns added to the bare call, and that")
    print("as a multiple of what @compat.RetryPolicy() adds)")
    rows = decorators()
    bare_ns = statistics.median(rows[0][1]) * 1e9
    policy_ns = statistics.median(rows[1][1]) * 1e9 - bare_ns
    for name, figures in rows:
        added_ns = statistics.median(figures) * 1e9 - bare_ns
        extra = "" if name == "bare call" else f"  +{added_ns:.0f} ns = {added_ns / policy_ns:.1f}x"
        print(f"  {name:<40} {spread(figures, 1e9)}{extra}")
    added_us = (statistics.median(rows[1][1]) - statistics.median(rows[0][1])) * 1e6
    verdict = "met" if added_us <= 2.0 else "MISSED"
    print(f"  target: the policy adds <= 2 us per call: {added_us:.2f} us -> {verdict}")
    print("\nsuccess path: a chat completion (µs per call)")
    client_rows = wrapped_client()
    for name, figures in client_rows:
        print(f"  {name:<40} {spread(figures, 1e6)}")
    # Each wrapped batch ran right after a bare one: their differences cancel the
    # drift of a shared machine better than the difference of the two medians.
    differences = [(w - b) * 1e6 for b, w in zip(client_rows[0][1], client_rows[1][1])]
    added = statistics.median(differences)
    print(
        f"  {'added by compat.wrap (batch by batch)':<40} {added:9.2f}"
        f"  (range {min(differences):.2f}-{max(differences):.2f})"
    )
    verdict = "met" if added <= 2.0 else "MISSED"
    print(f"  target: compat.wrap adds <= 2 µs per call (median) -> {verdict}")
    print(
        "  (wrap reads every answer through the SDK's with_raw_response, to feed the pacer with"
        " rate-limit headers, then parses it as the SDK would)"
    )
    print(
        f"\ndeadline of 2 s, every answer a 429 asking for 0.7 s (median and range of"
        f" {SLOW_REPEATS} runs; negative: ended before the deadline)"
    )
    runs: dict[str, list[tuple[float, int]]] = {}
    for _ in range(SLOW_REPEATS):
        for name, past, attempts in deadlines():
            runs.setdefault(name, []).append((past, attempts))
    for name, figures in runs.items():
        pasts = [past for past, _ in figures]
        tries = sorted(attempts for _, attempts in figures)
        tried = f"{tries[0]}" if tries[0] == tries[-1] else f"{tries[0]}-{tries[-1]}"
        print(f"  {name:<48} ended {spread(pasts, 1e3)} ms past it, after {tried} attempts")
        if name.startswith("compat"):
            verdict = "met" if max(pasts) <= 0.05 else "MISSED"
            print(
                f"  target: no call ends more than 50 ms past its deadline (latest of the runs)"
                f" -> {verdict}"
            )
    stops = [cancellation() for _ in range(SLOW_REPEATS)]
    print(f"\ncancellation during a 30 s wait ({SLOW_REPEATS} runs)")
    print(f"  compat acall stopped {spread(stops, 1e3)} ms after cancel()")


if __name__ == "__main__":
    main()
