"""Short real-time runs of the worlds pacing is built for, through the real SDK.

Each is a small version of a world of ``benchmarks/retry_quality.py``: it asserts what
must always hold (every call ends, with its answer or a compat error, and none ends
past its deadline by more than one attempt), never how fast. Speed is the benchmark's.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("the v1+ SDK is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.testing import FaultServer, Noise, TokenBucket  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi"}]
#: Ten times what the slowest world takes in a healthy run here: a hang fails, a slow
#: machine does not.
GUARD = 120.0


def run_calls(client: object, calls: int, threads: int) -> list[tuple[float, object]]:
    """*calls* chat completions from *threads* threads: (seconds taken, reply or error)."""
    done: list[tuple[float, object]] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        start = time.monotonic()
        try:
            outcome: object = client.chat.completions.create(  # type: ignore[attr-defined]
                model="gpt-4o", messages=MESSAGES
            )
        except compat.LLMError as error:
            outcome = error
        with lock:
            done.append((time.monotonic() - start, outcome))

    pool = ThreadPoolExecutor(threads)
    try:
        futures = [pool.submit(one, i) for i in range(calls)]
        ends = time.monotonic() + GUARD
        for future in futures:
            future.result(timeout=max(ends - time.monotonic(), 0.0))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a hung call fails the test, not CI
    return done


def test_stray_429s_cost_their_own_retries_and_every_call_succeeds() -> None:
    """The noise world: 10 % of answers are header-less 429s asking for 15-20 ms at a
    capacity the client never reaches. Every call succeeds (a 429 is retried after its
    short wait), none near its deadline, and the 429s do not throttle the others: the
    run sends few more requests than calls plus the 429s it got."""
    with (
        FaultServer(rules=[Noise(share=0.1, seed=7)]) as server,
        openai.OpenAI(base_url=server.openai_url, api_key="sk-test") as raw,
    ):
        client = compat.wrap(raw, compat.RetryPolicy(deadline=10.0))
        done = run_calls(client, calls=200, threads=8)
        limited = server.count(status=429)
        sent = len(server.requests)
    errors = [outcome for _, outcome in done if isinstance(outcome, BaseException)]
    assert not errors, errors[:3]
    assert len(done) == 200
    assert 0 < limited < 60  # the noise was there, at about its share
    assert sent == 200 + limited  # each 429 retried once, nothing else sent
    assert max(took for took, _ in done) < 10.0  # its deadline


def test_a_limit_far_below_the_load_never_carries_a_call_past_its_deadline() -> None:
    """The slow-limit world: a bucket of 4 requests a second, 40 calls at once, a 1.5 s
    deadline. Most calls cannot be served in time: they fail at once as client-side
    rate limits ("Not sent: ..."), or, on a slow machine, as an attempt cut at the
    deadline; no call, served or not, ends later than its deadline plus one attempt."""
    deadline = 1.5
    with (
        FaultServer(rules=[TokenBucket(rate=4, burst=2)]) as server,
        openai.OpenAI(base_url=server.openai_url, api_key="sk-test", timeout=5.0) as raw,
    ):
        client = compat.wrap(raw, compat.RetryPolicy(deadline=deadline))
        done = run_calls(client, calls=40, threads=40)
    served = [took for took, outcome in done if not isinstance(outcome, BaseException)]
    refused = [o for _, o in done if isinstance(o, compat.LLMError)]
    assert len(done) == 40
    assert served, "the bucket serves some calls in time"
    assert refused, "40 calls cannot all pass 4/s in 1.5 s"
    # refused without sending (a client-side rate limit), or an attempt whose timeout was
    # cut to what the deadline left (a timeout, on a slow machine): nothing else
    others = [
        error
        for error in refused
        if not isinstance(error, (compat.RateLimitError, compat.APITimeoutError))
    ]
    assert not others, others[:3]
    assert any(error.origin == "client" for error in refused)
    # one attempt on the loopback server answers in milliseconds; 3 s is far above it on
    # a busy machine, and far below what a wait past the deadline costs here (the queue
    # of 40 calls at 4/s is 10 s long)
    assert max(took for took, _ in done) < deadline + 3.0
