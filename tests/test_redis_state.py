"""compat.RedisState against a real redis-server: the Lua port of the pacer is the pacer,
processes share one limit through it, and no fault of Redis (down at start, killed,
slow, restarted empty) makes a call fail or wait past its deadline.

The server is a real ``redis-server`` (tests/redis_server.py) started by the session;
these tests are skipped only where there is no such binary or no redis-py (the legacy
SDK's environment). CI installs both.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compat
import compat.retry.redis
from compat.retry import pacing
from compat.retry.pacing import (
    ANSWERED,
    DOWN,
    EXHAUSTED,
    GO,
    LIMITED,
    OK,
    Limits,
    Observation,
)
from compat.retry.state import LocalState
from compat.testing import FaultServer, TokenBucket
from tests import redis_server
from tests.conftest import track
from tests.redis_server import RedisServer

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
INF = math.inf
MESSAGES = [{"role": "user", "content": "hi"}]
REPLY = "Hello from the compat fault server."


def _needs_redis() -> None:
    if redis_server.binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's package)")
    pytest.importorskip("redis")


@pytest.fixture(scope="session")
def shared_server() -> Iterator[RedisServer]:
    """One redis-server for the tests that do not break it."""
    _needs_redis()
    with RedisServer() as server:
        yield server


@pytest.fixture
def server(shared_server: RedisServer) -> RedisServer:
    """The session's redis-server, emptied (keys and scripts) for this test."""
    if not shared_server.running:
        shared_server.start()
    shared_server.flush()
    return shared_server


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, to kill, pause and restart."""
    _needs_redis()
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_log() -> Iterator[list[logging.LogRecord]]:
    """The records the Redis state logs on the ``compat.retry`` logger, as they come."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "Redis state" in record.getMessage():
                records.append(record)

    handler = Keep(logging.INFO)
    logger = logging.getLogger("compat.retry")
    saved = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


def levels(records: list[logging.LogRecord]) -> list[str]:
    return [record.levelname for record in records]


def make_state(server: RedisServer, **options: Any) -> compat.RedisState:
    """A state on *server* under a prefix of its own. Its timeout is 5 s unless told: the
    tests that count round trips and fallbacks must not depend on this machine's load
    (the default 0.25 s is sometimes missed on two busy cores); those that mean to time
    out say so."""
    options.setdefault("prefix", "t" + uuid.uuid4().hex[:8])
    options.setdefault("timeout", 5.0)
    return compat.RedisState.from_url(server.url, **options)


# ------------------------------------------------------------------ the port is the pacer

TICKETS = 8


def same(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)


durations = st.sampled_from([0.0, 0.001, 0.01, 0.05, 0.25, 0.5, 1.0, 2.5]) | st.floats(0, 5)
waits = st.sampled_from([0.0, 0.01, 0.02, 0.05, 0.2, 1.0, 2.0, 5.0]) | st.floats(0, 10)
token_costs = st.sampled_from([0.0, 10.0, 500.0, 40_000.0])


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    seen = Observation(
        draw(st.sampled_from([OK, OK, LIMITED, LIMITED, DOWN, ANSWERED, EXHAUSTED])),
        retry_after=draw(st.none() | waits),
        coarse=draw(st.booleans()),
        tokens=draw(token_costs),
        tokens_used=draw(st.none() | st.sampled_from([0.0, 8.0, 700.0])),
    )
    if draw(st.booleans()):
        limit = draw(st.sampled_from([1, 5, 20, 60, 10_000]))
        seen.limit_requests = float(limit)
        seen.remaining_requests = draw(st.none() | st.integers(0, limit).map(float))
        seen.reset_requests = draw(st.none() | st.sampled_from([0.0, 0.205, 0.25, 6.0]) | waits)
    if draw(st.booleans()):
        limit = draw(st.sampled_from([1_000, 30_000, 150_000]))
        seen.limit_tokens = float(limit)
        seen.remaining_tokens = draw(st.none() | st.integers(0, limit).map(float))
        seen.reset_tokens = draw(st.none() | st.sampled_from([0.0, 0.5, 60.0]) | waits)
    elif seen.outcome == LIMITED and draw(st.booleans()):
        seen.tpm = draw(st.sampled_from([(30_000.0, 29_800.0), (30_000.0, 0.0), (1_000.0, 5.0)]))
    return seen


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("acquire"),
            durations,
            st.sampled_from([0.0, 0.01, 0.05, 1.0, 10.0, INF]),
            token_costs,
        ),
        st.tuples(
            st.just("report"),
            durations,
            observations(),
            st.integers(0, TICKETS),
            st.sampled_from([None, (10.0, 0.1), (2.0, 1.0), (1.0, 0.5)]),
        ),
        st.tuples(
            st.just("traffic"),
            st.sampled_from([0.005, 0.02, 0.05, 0.2]),
            st.lists(st.sampled_from([OK, LIMITED]), min_size=5, max_size=40),
            st.none() | waits,
            token_costs,
            st.booleans(),
        ),
        st.tuples(
            st.just("together"),
            durations,
            st.lists(
                st.tuples(st.sampled_from([0.0, 0.05, 1.0, INF]), token_costs),
                min_size=1,
                max_size=5,
            ),
        ),
        st.tuples(st.just("release"), st.integers(0, TICKETS), token_costs),
        st.tuples(st.just("take"), st.sampled_from([1.0, 2.0, 10.0])),
        st.tuples(st.just("give"), st.sampled_from([1.0, 2.0, 10.0]), st.sampled_from([0.1, 1.0])),
    ),
    max_size=30,
)
limits_drawn = st.builds(Limits, st.integers(1, 4), st.sampled_from([0.0, 0.5, 2.0]), st.booleans())


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations, limits=limits_drawn, start=st.floats(0, 1e6))
def test_the_lua_script_is_pacing_py(
    shared_server: RedisServer, ops: list[tuple[Any, ...]], limits: Limits, start: float
) -> None:
    """Random sequences of acquire (alone and several at once), report and release, with
    explicit times and answers
    (rate-limit headers for requests and tokens, 429s with and without waits, outages,
    runs of traffic where 429s bind or do not), and budget operations, give the same
    verdicts, waits (to 1e-9), records and budget through pacing.py (a LocalState:
    pacing's functions on a TargetState per target) as through the Lua script on a real
    Redis. When pacing.py changes, this fails until pacing.lua follows."""
    if not shared_server.running:
        shared_server.start()
    reference = LocalState()
    # Generous timeouts: a reservation for a call that may wait 0 s, and the report,
    # release or budget operation after it (which waits what the reservation was allowed,
    # at least MIN_WAIT_FOR_REPORT), still get their answers from Redis here, however
    # loaded the machine.
    state = make_state(shared_server, clock="caller", timeout=5.0, coalesce=False)
    floors = [
        mock.patch.object(compat.retry.redis, "MIN_WAIT_FOR_REDIS", 5.0),
        mock.patch.object(compat.retry.redis, "MIN_WAIT_FOR_REPORT", 5.0),
    ]
    for floor in floors:
        floor.start()
    try:
        now = start
        granted: list[int] = []  # tickets handed out, in both (they are the same)

        def acquire(max_wait: float, tokens: float) -> tuple[int, float, str, int]:
            expected = reference.acquire("t", now, limits, max_wait, tokens)
            got = state.acquire("t", now, limits, max_wait, tokens)
            assert expected[0] == got[0], (op, expected, got)
            assert same(expected[1], got[1]), (op, expected, got)
            assert expected[2:] == got[2:], (op, expected, got)
            return expected

        def report(seen: Observation, ticket: int, budget: tuple[float, float] | None) -> None:
            expected = reference.report("t", now, limits, seen, ticket, budget)
            got = state.report("t", now, limits, seen, ticket, budget)
            assert expected[0] == got[0], op
            assert same(expected[1], got[1]), (op, expected, got)

        for op in ops:
            name = op[0]
            if name == "acquire":
                now += op[1]
                verdict, _, _, ticket = acquire(op[2], op[3])
                if verdict == GO and ticket:
                    granted.append(ticket)
            elif name == "report":
                now += op[1]
                ticket = granted.pop(op[3] % len(granted)) if granted and op[3] else 0
                report(op[2], ticket, op[4])
            elif name == "traffic":
                # Requests one after another, each reported: OK or a 429 with op[3].
                _, step, outcomes, retry_after, tokens, reserve = op
                for outcome in outcomes:
                    now += step
                    ticket = 0
                    if reserve:
                        verdict, wait, _, ticket = acquire(INF, tokens)
                        if verdict != GO:
                            continue
                        now += wait
                    seen = Observation(outcome, retry_after=retry_after, tokens=tokens)
                    report(seen, ticket, (10.0, 0.1))
            elif name == "together":
                # Calls of one process asking at once: one round trip, answered as if
                # each had asked in turn.
                now += op[1]
                expected_all = [reference.acquire("t", now, limits, *ask) for ask in op[2]]
                got_all = state.acquire_many("t", now, limits, op[2])
                assert len(expected_all) == len(got_all)
                for expected, got in zip(expected_all, got_all):
                    assert expected[0] == got[0], (op, expected, got)
                    assert same(expected[1], got[1]), (op, expected, got)
                    assert expected[2:] == got[2:], (op, expected, got)
                    if expected[0] == GO and expected[3]:
                        granted.append(expected[3])
            elif name == "release":
                ticket = granted.pop(op[1] % len(granted)) if granted and op[1] else 0
                reference.release("t", limits, ticket, op[2])
                state.release("t", limits, ticket, op[2])
            elif name == "take":
                assert reference.budget_take(op[1]) == state.budget_take(op[1])
            else:
                reference.budget_give(op[1], op[2])
                state.budget_give(op[1], op[2])
            capacity = (1.0, 10.0, INF)[len(granted) % 3]
            assert same(reference.budget_tokens(capacity), state.budget_tokens(capacity))
            kept = reference.target("t")
            stored = state.target("t")
            assert (kept is None) == (stored is None)
            if kept is not None and stored is not None:
                expected_fields, got_fields = kept.as_dict(), stored.as_dict()
                differ = {
                    name: (expected_fields[name], got_fields[name])
                    for name in expected_fields
                    if not same(expected_fields[name], got_fields[name])
                }
                assert not differ, (op, differ)
        assert 0 == state.fallbacks
    finally:
        for floor in floors:
            floor.stop()
        state.close()


def test_the_script_takes_its_constants_from_pacing_py() -> None:
    """The script is generated with pacing.py's constants and record fields, so that
    tuning a constant there changes the script too."""
    from compat.retry.redis import script

    text, sha = script()
    for name in ("PROBE_POLL", "SLICE", "HEADROOM", "PRESSURE_BINDING", "DOWN_AFTER"):
        assert f"local {name} = {float(getattr(pacing, name))!r}\n" in text
    for field in pacing.TargetState.__slots__:
        assert f'"{field}"' in text
    assert 40 == len(sha)


# ------------------------------------------------------------------ one state, one server


def test_one_round_trip_per_reservation_and_per_report(server: RedisServer) -> None:
    """An acquire is one round trip, a report (with the budget's credit) one more, once
    the script is loaded; a failure that draws on the budget adds the take."""
    state = make_state(server)
    limits = Limits()
    try:
        state.acquire("warm", 0.0, limits, INF)  # EVAL: runs the script and caches it
        assert 1 == state.round_trips
        before = state.round_trips
        verdict, _, _, ticket = state.acquire("t", 0.0, limits, INF)
        assert GO == verdict
        assert before + 1 == state.round_trips
        state.report("t", 0.0, limits, Observation(OK), ticket, (10.0, 0.1))
        assert before + 2 == state.round_trips
        assert state.budget_take(10.0)
        assert before + 3 == state.round_trips

        policy = compat.RetryPolicy(state=state)
        before = state.round_trips
        assert "done" == policy.call(lambda: "done", target="a target")
        assert before + 2 == state.round_trips  # acquire + report (budget credited there)
        assert 0 == state.fallbacks
    finally:
        state.close()


def test_targets_are_stored_under_a_hash_and_expire(server: RedisServer) -> None:
    """A target's record lives under the prefix and a hash of the target: no key
    fingerprint, endpoint or model in clear, in any key or value; it has a time to live."""
    state = make_state(server, prefix="myapp", ttl=600)
    target = compat.Target("openai", "https://api.example.test/v1", "1a2b3c4d5e6f", "gpt-4o-mini")
    policy = compat.RetryPolicy(state=state)
    try:
        policy.call(lambda: None, target=target)
        client = state.client
        keys = sorted(key.decode() for key in client.keys("*"))
        assert [f"myapp:target:{state.key(target).rsplit(':', 1)[1]}"] == keys
        dump = repr(keys) + repr(client.hgetall(keys[0]))
        for clear in ("gpt-4o", "example", "1a2b3c", "openai"):
            assert clear not in dump
        assert 0 < client.pttl(keys[0]) <= 600_000 + 86_400_000
        assert state.key(target) != state.key(target._replace(model="gpt-4o"))
    finally:
        state.close()


def test_the_budget_is_one_key_per_prefix(server: RedisServer) -> None:
    """Two states on one prefix spend one budget; another prefix has its own."""
    first = make_state(server, prefix="app")
    second = make_state(server, prefix="app")
    other = make_state(server, prefix="other")
    try:
        assert all(first.budget_take(3.0) for _ in range(2))
        assert second.budget_take(3.0)
        assert not second.budget_take(3.0)  # three spent between them
        assert not first.budget_take(3.0)
        assert 3.0 == other.budget_tokens(3.0)
        first.budget_give(3.0, 1.5)
        assert 1.5 == second.budget_tokens(3.0)
    finally:
        for state in (first, second, other):
            state.close()


def test_calls_told_to_wait_do_not_each_ask_redis(server: RedisServer) -> None:
    """While a target's slow start is full, the calls of one process that are told to
    wait and ask again do not each ask Redis every 10 ms: one asks for all of them, the
    others wait without a round trip, and all get their slot once the window opens."""
    state = make_state(server)
    limits = Limits(1, 60.0)  # a window of one call, for a minute
    tasks = 30
    now = time.monotonic  # the engine's clock (the script reads the server's)

    async def main() -> list[tuple[int, float, str, int]]:
        first = await state.aacquire("t", now(), limits, INF)
        assert GO == first[0]
        answers: list[tuple[int, float, str, int]] = []

        async def wait_for_a_slot() -> None:
            while True:
                answer = await state.aacquire("t", now(), limits, INF)
                answers.append(answer)
                if answer[0] == GO:
                    await state.areport("t", now(), limits, Observation(OK), answer[3])
                    return
                await asyncio.sleep(answer[1])

        waiting = [asyncio.ensure_future(wait_for_a_slot()) for _ in range(tasks)]
        await asyncio.sleep(0.3)
        before = state.round_trips
        told = len(answers)
        await asyncio.sleep(0.3)
        asked, told = state.round_trips - before, len(answers) - told
        assert told > 5 * asked, (told, asked)  # about one Redis poll per 10 ms, not 30
        await state.areport("t", now(), limits, Observation(OK), first[3])  # the window opens
        await asyncio.wait_for(asyncio.gather(*waiting), 30)
        return answers

    try:
        answers = asyncio.run(main())
        assert tasks == sum(1 for verdict, *_ in answers if verdict == GO)
        assert {"slow start"} == {why for verdict, _, why, _ in answers if verdict != GO}
    finally:
        state.close()


def test_calls_asking_at_once_share_round_trips(server: RedisServer) -> None:
    """50 asyncio calls of one process asking for one target at once are sent together
    (one round trip, or a few), not one round trip each; 20 threads do the same; every
    call gets its own slot."""
    state = make_state(server)
    limits = Limits(100, 60.0)  # a slow start wide enough for every call

    async def main() -> list[tuple[int, float, str, int]]:
        return await asyncio.gather(
            *(state.aacquire("t", time.monotonic(), limits, INF) for _ in range(50))
        )

    try:
        state.acquire("warm", time.monotonic(), limits, INF)  # loads the script
        before = state.round_trips
        answers = asyncio.run(main())
        assert [GO] * 50 == [verdict for verdict, *_ in answers]
        assert state.round_trips - before <= 5, state.round_trips - before
        record = state.target("t")
        assert record is not None
        assert 50 == record.inflight

        gate = threading.Barrier(20)

        def in_a_thread() -> int:
            gate.wait(10)
            return state.acquire("u", time.monotonic(), limits, INF)[0]

        before = state.round_trips
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            verdicts = list(pool.map(lambda _: in_a_thread(), range(20)))
        assert [GO] * 20 == verdicts
        assert state.round_trips - before < 20
        record = state.target("u")
        assert record is not None
        assert 20 == record.inflight
        assert 0 == state.fallbacks
    finally:
        state.close()


def test_a_call_cancelled_in_the_queue_is_never_sent(own_server: RedisServer) -> None:
    """While a round trip for a target is on its way (Redis paused), the calls that ask
    next wait in a queue; those cancelled there are never sent, the others go together
    in one round trip once Redis answers, and the target holds exactly their slots."""
    state = compat.RedisState.from_url(own_server.url, timeout=2.0)
    limits = Limits(100, 60.0)

    async def main() -> list[tuple[int, float, str, int]]:
        first = asyncio.ensure_future(state.aacquire("t", time.monotonic(), limits, 10.0))
        await asyncio.sleep(0.05)  # the first call's round trip is on its way
        queued = [
            asyncio.ensure_future(state.aacquire("t", time.monotonic(), limits, 10.0))
            for _ in range(10)
        ]
        await asyncio.sleep(0.05)
        for task in queued[5:]:
            task.cancel()
        kept = await asyncio.gather(first, *queued[:5])
        for task in queued[5:]:
            with pytest.raises(asyncio.CancelledError):
                await task
        return kept

    try:
        state.acquire("warm", time.monotonic(), limits, INF)  # loads the script
        before = state.round_trips
        own_server.pause(300)
        kept = asyncio.run(main())
        assert [GO] * 6 == [verdict for verdict, *_ in kept]
        assert 2 == state.round_trips - before  # the first call's, then the five together
        record = state.target("t")
        assert record is not None
        assert 6 == record.inflight
        assert 0 == state.fallbacks
    finally:
        state.close()


def test_a_sync_call_needs_no_thread_of_the_state(server: RedisServer) -> None:
    """A sync call in a thread that outlives the main thread (the interpreter is shutting
    down: thread pools take no new work) still gets its slot from Redis: the first call
    of a batch sends it from its own thread."""
    script = textwrap.dedent(
        f"""
        import threading, time
        import compat
        from compat.retry.pacing import Limits
        state = compat.RedisState.from_url({server.url!r}, prefix="shutdown")
        def worker():
            time.sleep(0.3)  # the main thread has returned by now
            try:
                verdict = state.acquire("t", time.monotonic(), Limits(), 1.0)[0]
                print("ANSWER", verdict, state.fallbacks)
            except BaseException as exc:
                print("RAISED", type(exc).__name__, exc)
        threading.Thread(target=worker).start()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert "ANSWER 0 0" in done.stdout, done.stdout + done.stderr


def test_a_batch_goes_even_when_no_thread_can_be_had(server: RedisServer) -> None:
    """When the state's threads refuse work (closed under a running call), an asyncio
    call's batch is sent from the call itself: it gets its slot from Redis, and the
    target is not left waiting for a sender that never started."""
    state = make_state(server, timeout=0.5)
    limits = Limits(100, 60.0)
    threads = state._threads

    def closed_meanwhile() -> concurrent.futures.ThreadPoolExecutor:
        executor = threads()
        executor.shutdown(wait=True)  # as close() racing the call does
        return executor

    try:
        state.acquire("warm", time.monotonic(), limits, INF)
        with mock.patch.object(state, "_threads", closed_meanwhile):
            verdict, _, _, ticket = asyncio.run(state.aacquire("t", time.monotonic(), limits, 1.0))
        assert GO == verdict
        assert not ticket & compat.retry.redis.LOCAL_TICKET
        verdict, _, _, ticket = state.acquire("t", time.monotonic(), limits, 1.0)
        assert GO == verdict
        assert not ticket & compat.retry.redis.LOCAL_TICKET
        assert 0 == state.fallbacks
    finally:
        state.close()


def test_calls_with_two_limits_on_one_target_share_round_trips(server: RedisServer) -> None:
    """Two policies with different slow starts calling one target at once: their calls
    interleave in the queue, and each round trip still carries all the calls of one
    policy's limits, not one call."""
    state = make_state(server)
    one, two = Limits(100, 60.0), Limits(99, 60.0)

    async def main() -> list[tuple[int, float, str, int]]:
        return await asyncio.gather(
            *(state.aacquire("t", time.monotonic(), one if i % 2 else two, INF) for i in range(50))
        )

    try:
        state.acquire("warm", time.monotonic(), one, INF)
        before = state.round_trips
        answers = asyncio.run(main())
        assert [GO] * 50 == [verdict for verdict, *_ in answers]
        assert state.round_trips - before <= 10, state.round_trips - before
    finally:
        state.close()


def test_a_local_slot_reported_once_redis_is_back_keeps_its_pace(
    own_server: RedisServer,
) -> None:
    """A slot granted by the local fallback while Redis was down, reported as a success
    once it is back: the local record keeps the pace slot the request used (only its
    slow start and probe slots are given back)."""
    state = compat.RedisState.from_url(own_server.url, timeout=0.1, rejoin_after=0.0)
    limits = Limits()
    try:
        state.acquire("warm", time.monotonic(), limits, INF)
        own_server.stop()
        now = time.monotonic()
        for reset in (0.5, 0.9):  # the local record learns a pace while Redis is down
            seen = Observation(
                OK, limit_requests=10.0, remaining_requests=5.0, reset_requests=reset
            )
            state.report("t", now, limits, seen, 0)
        verdict, _, _, ticket = state.acquire("t", now, limits, INF)
        assert GO == verdict
        assert ticket & compat.retry.redis.LOCAL_TICKET
        assert ticket & pacing.PACED
        local = state._local.target("t")
        assert local is not None
        tat = local.tat
        own_server.start()
        state.report("t", time.monotonic(), limits, Observation(OK), ticket)
        assert tat == local.tat
    finally:
        state.close()


def test_a_flushed_script_cache_is_filled_again(server: RedisServer) -> None:
    """After SCRIPT FLUSH (what a restarted server has), the next call sends the script
    again (EVAL) and goes on: no fallback, no warning."""
    state = make_state(server)
    policy = compat.RetryPolicy(state=state)
    try:
        policy.call(lambda: None, target="t")
        server.flush()
        before = state.round_trips
        policy.call(lambda: None, target="t")
        assert before + 3 == state.round_trips  # NOSCRIPT, then EVAL; then the report
        assert 0 == state.fallbacks
    finally:
        state.close()


def test_a_ready_client_is_accepted(server: RedisServer) -> None:
    """``compat.RedisState(redis.Redis(...))`` talks to the server and database that
    client is set up for."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=server.port, db=3)
    state = compat.RedisState(client, prefix="ready")
    try:
        compat.RetryPolicy(state=state).call(lambda: None, target="t")
        assert 1 == client.exists(state.key("t"))
        assert 0 == redis.Redis(host="127.0.0.1", port=server.port, db=0).exists(state.key("t"))
        assert "127.0.0.1" in repr(state)
    finally:
        state.close()
        client.close()


def test_options_are_checked() -> None:
    """Nonsense options, and clients it cannot use, are refused when the state is made."""
    pytest.importorskip("redis")
    for options in ({"clock": "wall"}, {"timeout": 0}, {"ttl": -1}, {"workers": 0}):
        with pytest.raises(ValueError):  # noqa: PT011 - each names its option
            compat.RedisState.from_url("redis://127.0.0.1:1/0", **options)
    with pytest.raises(TypeError, match=r"redis\.Redis client"):
        compat.RedisState(object())


# ------------------------------------------------------------------ without redis-py


def test_import_compat_does_not_import_redis() -> None:
    """``import compat`` and even ``compat.RedisState`` import no redis-py."""
    code = (
        "import sys, compat; compat.RedisState;"
        " print(sorted(m for m in sys.modules if m == 'redis' or m.startswith('redis.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "[]" == out.stdout.strip()


def test_without_redis_py_the_error_names_the_extra() -> None:
    """Without redis-py, making a RedisState raises an ImportError that says what to
    install; compat itself works."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import compat\n"
        "compat.RetryPolicy()\n"
        "try:\n"
        "    compat.RedisState.from_url('redis://localhost:6379/0')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install compat[redis]" in out.stdout


# ------------------------------------------------------------------ many processes


def run_processes(
    openai_url: str, redis_url: str | None, processes: int, calls: int
) -> list[tuple[int, int, int, int]]:
    """*processes* processes of *calls* concurrent calls each, started together."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes + 1)
    results = context.Queue()
    prefix = "procs" + uuid.uuid4().hex[:8]
    workers = [
        context.Process(
            target=redis_server.calls_in_a_process,
            args=(openai_url, redis_url, prefix, calls, start, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        start.wait(60)
        return [results.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():  # pragma: no cover - a hang, reported by the asserts
                worker.kill()


@pytest.mark.skipif(not V1, reason="compat.wrap(AsyncOpenAI) needs openai>=1")
def test_processes_share_one_limit(server: RedisServer, fault_server: FaultServer) -> None:
    """Three processes, each with its own state, against one bucket of 20/s (burst 5):
    with their own state each paces to the whole limit and they collect 429s; through
    one Redis they pace together, all succeed and waste almost nothing."""
    fault_server.add_rule(TokenBucket(rate=20, burst=5))
    alone = run_processes(fault_server.openai_url, None, 3, 12)
    limited_alone = fault_server.count(status=429)
    fault_server.clear()
    fault_server.add_rule(TokenBucket(rate=20, burst=5))
    together = run_processes(fault_server.openai_url, server.url, 3, 12)
    limited_together = fault_server.count(status=429)
    assert [12, 12, 12] == [successes for successes, *_ in together], together
    assert all(round_trips > 0 and fallbacks == 0 for _, _, round_trips, fallbacks in together)
    assert limited_together <= 3, (limited_together, limited_alone)
    assert limited_alone > 3 * limited_together, (limited_together, limited_alone, alone)


# ------------------------------------------------------------------ faults


def call_until(policy: compat.RetryPolicy, done: Any, guard: float = 30.0) -> int:
    """Make calls through *policy* until ``done()``; give up (failing) after *guard* s."""
    calls = 0
    give_up = time.monotonic() + guard
    while not done():
        assert time.monotonic() < give_up, "never happened"
        assert "ok" == policy.call(lambda: "ok", target="t")
        calls += 1
        time.sleep(0.01)
    return calls


def test_redis_down_at_start(own_server: RedisServer, redis_log: list[logging.LogRecord]) -> None:
    """With nothing listening at the state's address, calls go on with the process's own
    state, with one WARNING (a log record, not a Python warning); when Redis starts, the
    state rejoins it (one INFO) and the target's record is kept there again."""
    own_server.stop()
    state = compat.RedisState.from_url(own_server.url, rejoin_after=0.1)
    policy = compat.RetryPolicy(state=state, deadline=5.0)
    try:
        for _ in range(30):
            assert "ok" == policy.call(lambda: "ok", target="t")
        assert ["WARNING"] == levels(redis_log)
        assert "unavailable" in redis_log[0].getMessage()
        assert 60 <= state.fallbacks
        own_server.start()
        call_until(policy, lambda: len(redis_log) > 1)
        assert ["WARNING", "INFO"] == levels(redis_log)
        policy.call(lambda: "ok", target="t")
        assert state.target("t") is not None
    finally:
        state.close()


@pytest.mark.skipif(not V1, reason="compat.wrap(OpenAI) needs openai>=1")
def test_killed_mid_run_and_restarted_empty(
    own_server: RedisServer, fault_server: FaultServer, redis_log: list[logging.LogRecord]
) -> None:
    """Four threads call through compat.wrap(OpenAI) while Redis is killed (SIGKILL) and
    later restarted empty: every call succeeds, none ends past its deadline, Redis's
    going and coming back are one WARNING and one INFO, and once back the target's
    record is rebuilt there (the script sent again to the new server)."""
    deadline = 5.0
    state = compat.RedisState.from_url(own_server.url, rejoin_after=0.1)
    policy = compat.RetryPolicy(state=state, deadline=deadline)
    client = track(
        compat.wrap(openai.OpenAI(base_url=fault_server.openai_url, api_key="sk-test"), policy)
    )
    stop = threading.Event()
    outcomes: list[tuple[str, float]] = []

    def work() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                outcome = reply.choices[0].message.content
            except Exception as exc:
                outcome = repr(exc)
            outcomes.append((outcome, time.monotonic() - started))

    def wait_for(condition: Any) -> None:
        give_up = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < give_up, "never happened"
            time.sleep(0.01)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(outcomes) >= 20)
        before = state.round_trips
        own_server.kill()
        wait_for(lambda: len(redis_log) >= 1)
        killed_at = len(outcomes)
        wait_for(lambda: len(outcomes) >= killed_at + 20)
        own_server.start()
        wait_for(lambda: len(redis_log) >= 2)
        back_at = len(outcomes)
        wait_for(lambda: len(outcomes) >= back_at + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    try:
        assert before > 0
        assert {REPLY} == {outcome for outcome, _ in outcomes}
        assert max(took for _, took in outcomes) < deadline
        assert ["WARNING", "INFO"] == levels(redis_log)
        (key,) = state.client.keys("*")  # the target's record, made again after the restart
        assert key.decode().startswith("compat:target:")
    finally:
        state.close()


def test_a_slow_redis_never_holds_a_call(
    own_server: RedisServer, redis_log: list[logging.LogRecord]
) -> None:
    """While Redis holds every answer for 3 s (CLIENT PAUSE), calls with a 1 s deadline
    go on with the process's own state after the state's 0.1 s timeout: each ends well
    within its deadline; one WARNING; when the pause ends, the state rejoins."""
    state = compat.RedisState.from_url(own_server.url, timeout=0.1, rejoin_after=0.2)
    policy = compat.RetryPolicy(state=state, deadline=1.0)
    try:
        policy.call(lambda: "ok", target="t")
        own_server.pause(3000)
        paused_at = time.monotonic()
        took = []
        while time.monotonic() - paused_at < 1.5:
            started = time.monotonic()
            assert "ok" == policy.call(lambda: "ok", target="t")
            took.append(time.monotonic() - started)
        assert max(took) < 1.0
        assert ["WARNING"] == levels(redis_log)
        call_until(policy, lambda: len(redis_log) > 1)
        assert ["WARNING", "INFO"] == levels(redis_log)
    finally:
        state.close()


def test_a_slow_redis_never_holds_an_asyncio_call(
    own_server: RedisServer, redis_log: list[logging.LogRecord]
) -> None:
    """The same for 20 concurrent asyncio calls, whose Redis round trips run in the
    state's threads: while Redis holds its answers, every call ends well within its 1 s
    deadline, and the event loop is never blocked on Redis."""
    state = compat.RedisState.from_url(own_server.url, timeout=0.1, rejoin_after=0.2)
    policy = compat.RetryPolicy(state=state, deadline=1.0)

    async def one() -> float:
        started = time.monotonic()
        assert "ok" == await policy.acall(asyncio.sleep, 0.01, "ok", target="t")
        return time.monotonic() - started

    async def main() -> tuple[list[float], float]:
        await one()
        own_server.pause(3000)
        ticks = 0

        async def tick() -> None:  # counts how often the loop gets to run
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.ensure_future(tick())
        started = time.monotonic()
        took = []
        while time.monotonic() - started < 1.5:
            took += await asyncio.gather(*(one() for _ in range(20)))
        ticking.cancel()
        return took, ticks / (time.monotonic() - started)

    try:
        took, ticks_per_second = asyncio.run(main())
        assert max(took) < 1.0
        assert ticks_per_second > 10  # 100 when free; a loop blocked on Redis would not tick
        assert ["WARNING"] == levels(redis_log)
    finally:
        state.close()


def test_a_call_never_waits_for_redis_past_its_deadline(
    own_server: RedisServer, redis_log: list[logging.LogRecord]
) -> None:
    """With a Redis timeout (20 s) far longer than the call's whole deadline (0.3 s), a
    Redis paused for 30 s still cannot hold a call past its deadline: the reservation,
    the report and the budget all give up on Redis when the call's time is up. Running
    out of the call's own time is not Redis failing: no WARNING."""
    state = compat.RedisState.from_url(own_server.url, timeout=20.0)
    policy = compat.RetryPolicy(state=state, deadline=0.3)
    try:
        policy.call(lambda: "ok", target="t")
        own_server.pause(30_000)
        for _ in range(3):
            started = time.monotonic()
            assert "ok" == policy.call(lambda: "ok", target="t")
            # Ten times the deadline, as a bound that two busy cores cannot trip; waiting
            # for Redis would take the pause's 30 s.
            assert time.monotonic() - started < 3.0
        assert [] == levels(redis_log)
    finally:
        state.close()


def test_an_attempt_longer_than_its_reservations_wait_still_reports(
    server: RedisServer,
) -> None:
    """An attempt may outlast the wait its reservation was allowed (here 0.05 s, the
    policy's max_server_wait, against an answer taking 0.2 s): its report still reaches
    Redis, so the other processes learn from it."""
    state = make_state(server)
    policy = compat.RetryPolicy(state=state, max_server_wait=0.05, deadline=None)
    try:
        for _ in range(3):
            assert "ok" == policy.call(lambda: time.sleep(0.2) or "ok", target="t")
        record = state.target("t")
        assert record is not None
        assert (0, 3.0, 5.0) == (record.inflight, record.wcount, record.window)
        assert 0 == state.fallbacks
    finally:
        state.close()


def test_a_cancelled_reservation_is_given_back(own_server: RedisServer) -> None:
    """An asyncio call cancelled while Redis was granting its slot gives the slot back
    once Redis answers: the target's slow start is not left one call short."""
    state = compat.RedisState.from_url(own_server.url, timeout=2.0)
    limits = Limits()

    async def main() -> None:
        own_server.pause(300)
        task = asyncio.ensure_future(state.aacquire("t", time.monotonic(), limits, 10.0))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
        give_up = time.monotonic() + 10
        while True:
            record = state.target("t")
            if record is not None and record.first_seen > 0 and record.inflight == 0:
                break
            assert time.monotonic() < give_up, record
            time.sleep(0.02)
        assert 0 == state.fallbacks
    finally:
        state.close()


def test_retry_testing_runs_on_the_callers_clock(server: RedisServer) -> None:
    """Under compat.retry_testing (a virtual clock), a state on the caller's clock makes
    the same decisions without sleeping: 20 concurrent calls through a slow start (two at
    once, one more per success) all succeed, never more at once than the start allows."""
    state = make_state(server, clock="caller")
    policy = compat.RetryPolicy(state=state, probe_window=60.0)
    running = 0
    most = 0

    async def work() -> str:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001)
        running -= 1
        return "ok"

    async def main() -> list[str]:
        return await asyncio.gather(*(policy.acall(work, target="t") for _ in range(20)))

    try:
        with compat.retry_testing():
            assert ["ok"] * 20 == asyncio.run(main())
        # Two at once to start with, one more per success: when the 20th starts, at
        # least 9 have finished, so never more than 11 run at once.
        assert 2 <= most <= 11
        record = state.target("t")
        assert record is not None
        assert 22.0 == record.window  # two to start with, one more per success
        assert 0 == state.fallbacks
    finally:
        state.close()
