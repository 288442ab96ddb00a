"""Soak under faults: many calls through compat.wrap while ~30 % of answers fail.

The sync client from 8 threads and the async client from concurrent tasks run
at the same time through one policy (so its shared state is hammered from
threads and asyncio together), and the gateway client from threads, against
the fault server. Every call must end with the right answer or a compat error;
no raw SDK, httpx or requests exception escapes; no call runs past its deadline;
attempts stay within the policy; sockets and threads return to their count.

The default suite runs a short version; ``COMPAT_SOAK=full`` (``tox -e soak``)
runs 5,000 sync calls from 8 threads, 200 concurrent async calls and 1,000
gateway calls.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from collections import Counter
from typing import Any

import pytest

import compat
from compat.testing import FaultServer, RandomFaults, faults

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
FULL = os.environ.get("COMPAT_SOAK") == "full"
if os.environ.get("COMPAT_SOAK") == "off":
    pytest.skip(
        "COMPAT_SOAK=off: the soak's timeouts would measure a tracer (coverage runs)",
        allow_module_level=True,
    )
SYNC_CALLS = 5000 if FULL else 240
THREADS = 8
ASYNC_CALLS = 200 if FULL else 40
GATEWAY_CALLS = 1000 if FULL else 60
TIMEOUT = 0.5  # the clients' read timeout; slow answers take 2 s
DEADLINE = 5.0
MAX_ATTEMPTS = 6
REPLY = "Hello from the compat fault server."
MESSAGES = [{"role": "user", "content": "hi"}]
MIXED = [
    faults.rate_limited(0.05),
    faults.rate_limited(0.05, "none"),
    faults.server_error(),
    faults.overloaded(),
    faults.slow(2.0),
    faults.reset(),
    faults.reset(after_bytes=64),
    faults.html_page(502),
    faults.html_page(520),
]
GATEWAY_MIXED = [
    *MIXED,
    faults.gateway_code("4008", "rate limited"),
    faults.gateway_code("4009", "overloaded"),
    faults.gateway_code("4017", "upstream timed out"),
]


def open_sockets() -> int:
    """Sockets this process holds open (Linux), or -1 where that cannot be told."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # pragma: no cover - not Linux
        return -1
    count = 0
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def baseline() -> tuple[int, int]:
    """Thread and socket counts before a soak, once earlier tests' garbage is collected.

    Sockets that earlier tests dropped close when the collector gets to them; were
    that to happen during the soak, the count would fall below a baseline taken
    without collecting first and hide a socket the soak leaked.
    """
    gc.collect()
    return threading.active_count(), open_sockets()


def settle(expected_threads: int, expected_sockets: int) -> tuple[int, int]:
    """Thread and socket counts once they have come back down (or after 10 s)."""
    end = time.monotonic() + 10
    while True:
        gc.collect()  # connections dropped in reference cycles close when collected
        threads, sockets = threading.active_count(), open_sockets()
        if (threads <= expected_threads and sockets <= expected_sockets) or time.monotonic() > end:
            return threads, sockets
        time.sleep(0.05)


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.escaped: list[BaseException] = []
        self.slowest = 0.0
        self.max_attempt = 0

    def record(self, started: float, outcome: str | None, exc: BaseException | None) -> None:
        took = time.monotonic() - started
        with self.lock:
            self.slowest = max(self.slowest, took)
            if exc is None:
                self.outcomes["ok" if outcome == REPLY else f"wrong answer {outcome!r}"] += 1
            elif isinstance(exc, compat.LLMError):
                self.outcomes[exc.kind.value] += 1
            else:
                self.escaped.append(exc)

    def on_retry(self, error: compat.LLMError, attempt: int, wait: float) -> None:
        with self.lock:
            self.max_attempt = max(self.max_attempt, attempt)


def policy(tally: Tally) -> compat.RetryPolicy:
    # Short backoffs; no retry budget: at a 30 % fault rate it would rightly stop
    # retrying, and this soak checks that retries end in answers.
    return compat.RetryPolicy(
        initial_wait=0.01,
        max_wait=0.1,
        overloaded_initial_wait=0.01,
        overloaded_max_wait=0.1,
        budget_capacity=0,
        max_attempts=MAX_ATTEMPTS,
        deadline=DEADLINE,
        on_retry=tally.on_retry,
    )


def check(tally: Tally, calls: int, server: FaultServer) -> None:
    assert [] == tally.escaped[:5]
    assert calls == sum(tally.outcomes.values())
    assert not [o for o in tally.outcomes if o.startswith("wrong answer")], tally.outcomes
    assert tally.outcomes["ok"] >= 0.98 * calls, tally.outcomes
    assert tally.slowest <= DEADLINE + TIMEOUT + 1.0, tally.slowest
    assert tally.max_attempt < MAX_ATTEMPTS
    assert len(server.requests) <= calls * MAX_ATTEMPTS
    faulted = len(server.requests) - server.count(fault="success")
    assert 0.2 < faulted / len(server.requests) < 0.4, server.stats()


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
# The SDK's async HTTP stack, when its own timeouts cut a connection (answers slower than
# the read timeout, connects slowed by a loaded machine), may leave the socket for the
# garbage collector to close, with a ResourceWarning: seen on Python 3.9 with the plain
# AsyncOpenAI and these faults, compat not involved. Sockets still open at the end fail
# the test below all the same (settle() counts them).
@pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
def test_soak_openai_sync_and_async_together() -> None:
    """Sync calls from threads and async calls share one policy through mixed faults: every
    call ends right, none past its deadline, nothing leaks."""
    threads_before, sockets_before = baseline()
    tally = Tally()
    shared = policy(tally)
    server = FaultServer(rules=[RandomFaults(0.3, MIXED, seed=2024)])
    sync_raw = openai.OpenAI(base_url=server.openai_url, api_key="sk-soak", timeout=TIMEOUT)
    sync = compat.wrap(sync_raw, shared)
    per_thread = SYNC_CALLS // THREADS

    def worker() -> None:
        for _ in range(per_thread):
            started = time.monotonic()
            try:
                reply = sync.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                tally.record(started, reply.choices[0].message.content, None)
            except BaseException as exc:
                tally.record(started, None, exc)

    async def tasks() -> None:
        raw = openai.AsyncOpenAI(base_url=server.openai_url, api_key="sk-soak", timeout=TIMEOUT)
        client = compat.wrap(raw, shared)

        async def one() -> None:
            started = time.monotonic()
            try:
                reply = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                tally.record(started, reply.choices[0].message.content, None)
            except BaseException as exc:
                tally.record(started, None, exc)

        try:
            await asyncio.gather(*(one() for _ in range(ASYNC_CALLS)))
        finally:
            await raw.close()

    try:
        workers = [threading.Thread(target=worker) for _ in range(THREADS)]
        workers.append(threading.Thread(target=lambda: asyncio.run(tasks())))
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(600)
            assert not thread.is_alive(), "a call hung"
        check(tally, per_thread * THREADS + ASYNC_CALLS, server)
    finally:
        sync_raw.close()
        server.close()
    threads_after, sockets_after = settle(threads_before, sockets_before)
    assert threads_after <= threads_before
    assert sockets_after <= sockets_before


def test_soak_gateway() -> None:
    """Gateway calls from threads through mixed gateway faults: every call ends right, nothing
    leaks."""
    threads_before, sockets_before = baseline()
    tally = Tally()
    server = FaultServer(rules=[RandomFaults(0.3, GATEWAY_MIXED, seed=7)])
    raw = compat.GatewayClient(
        "gw-key", "gw-secret", base_url=server.gateway_url, timeout=(2, TIMEOUT)
    )
    client = compat.wrap(raw, policy(tally))
    per_thread = GATEWAY_CALLS // THREADS
    args: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}

    def worker() -> None:
        for _ in range(per_thread):
            started = time.monotonic()
            try:
                answer = client.call("v1/chat/completions", args)
                tally.record(started, answer["choices"][0]["message"]["content"], None)
            except BaseException as exc:
                tally.record(started, None, exc)

    try:
        workers = [threading.Thread(target=worker) for _ in range(THREADS)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(600)
            assert not thread.is_alive(), "a call hung"
        check(tally, per_thread * THREADS, server)
    finally:
        raw.close()
        server.close()
    threads_after, sockets_after = settle(threads_before, sockets_before)
    assert threads_after <= threads_before
    assert sockets_after <= sockets_before
