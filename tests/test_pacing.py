"""The pacer's decisions, with explicit clocks: what it learns from answers, when it makes
calls wait, when it refuses them, and how it holds calls through an outage."""

from __future__ import annotations

import random
import threading

import pytest

from compat.retry import pacing
from compat.retry.pacing import (
    AGAIN,
    DOWN,
    GO,
    LIMITED,
    OK,
    PROBE_POLL,
    REFUSE,
    SLICE,
    Limits,
    Observation,
    TargetState,
)
from compat.retry.state import LocalState

INF = float("inf")


def headers_seen(limit: float, remaining: float, reset: float, outcome: int = OK) -> Observation:
    return Observation(
        outcome, limit_requests=limit, remaining_requests=remaining, reset_requests=reset
    )


def fresh(probe_concurrency: int = 2, probe_window: float = 2.0) -> tuple[TargetState, Limits]:
    return TargetState(probe_concurrency), Limits(probe_concurrency, probe_window)


def go_now(t: TargetState, now: float, limits: Limits) -> int:
    """Acquire a slot that must be granted at once; return its ticket."""
    verdict, wait, why, ticket = pacing.acquire(t, now, limits, INF)
    assert (GO, 0.0) == (verdict, wait), why
    return ticket


# ------------------------------------------------------------------ rate-limit headers


def test_rate_learned_from_headers() -> None:
    """limit 20, remaining 15, reset 250ms: 20 requests per second, used at 98 %; 15 left now
    (no slow start here: it has its own test)."""
    t, limits = fresh(probe_window=0.0)
    pacing.report(t, 100.0, limits, headers_seen(20, 15, 0.25), 0)
    assert 19.6 == pytest.approx(t.rate)
    waits = [pacing.acquire(t, 100.0, limits, INF)[1] for _ in range(17)]
    assert [0.0] * 15 == waits[:15]
    assert [1 / 19.6, 2 / 19.6] == pytest.approx(waits[15:])


def test_the_tightest_rate_bound_is_kept() -> None:
    """The whole-number remaining count lets one answer overstate the rate; the pacer keeps
    the lowest bound seen until an answer proves the rate rose or the limit changes."""
    t, limits = fresh()

    def answer(limit: int, remaining: int, reset: float) -> float:
        pacing.report(t, 100.0, limits, headers_seen(limit, remaining, reset), 0)
        return t.rate

    # A bucket of 5 at 20/s holding 0.9 of a request: remaining 0, full again in 205 ms.
    assert 5 / 0.205 * 0.98 == pytest.approx(answer(5, 0, 0.205))  # 24.4/s: too fast
    assert 20 * 0.98 == pytest.approx(answer(5, 0, 0.25))  # the same bucket holding 0.0
    assert 20 * 0.98 == pytest.approx(answer(5, 0, 0.205))  # overstating again: kept
    assert 50 * 0.98 == pytest.approx(answer(5, 0, 0.1))  # at least 40/s: the rate rose
    assert 10 * 0.98 == pytest.approx(answer(10, 0, 1.0))  # a new limit: start again


def test_slots_are_distinct_under_threads() -> None:
    """Reservations from many threads at once get slots at least 1/rate apart: none is
    lost, none is doubled."""
    state = LocalState()
    limits = Limits(10_000, 0.0)
    state.report("t", 0.0, limits, headers_seen(100, 0, 1.0), 0)
    rate = state.target("t").rate  # type: ignore[union-attr]
    slots: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            verdict, wait, _, _ = state.acquire("t", 0.0, limits, INF)
            assert GO == verdict
            with lock:
                slots.append(wait)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "deadlock"
    assert 400 == len(slots)
    slots.sort()
    assert min(b - a for a, b in zip(slots, slots[1:])) >= (1 / rate) * (1 - 1e-9)
    assert 400 / rate == pytest.approx(slots[-1])  # none left at first: the first is 1/rate away


# ------------------------------------------------------------------ 429s without headers


def test_stray_429s_do_not_slow_the_target() -> None:
    """A target that answers one request in ten with a header-less 429 asking for 20 ms,
    and could take every request, is not paced, and other calls almost never wait: the
    429s are not about the rate (the throughput collapse the pacer once had). Only three
    429s in a row, one answer in a thousand, cool it down for their 20 ms."""
    t, limits = fresh(probe_window=0.0)
    rng = random.Random(7)
    now = waited = 0.0
    for _ in range(20_000):
        now += 0.001
        verdict, wait, _, ticket = pacing.acquire(t, now, limits, INF)
        assert GO == verdict
        waited += wait
        now += wait
        outcome = LIMITED if rng.random() < 0.1 else OK
        pacing.report(t, now, limits, Observation(outcome, retry_after=0.02), ticket)
    assert pacing.UNPACED == t.mode
    assert 0.0 == t.rate
    assert t.pressure < 0.2
    assert waited / now < 0.03


def test_a_binding_limit_without_headers_is_paced_at_the_delivered_rate() -> None:
    """When most answers are 429s the limit binds: the pacer paces at the rate of successes
    the target delivered (here 20/s), not at a guess from the wait."""
    t, limits = fresh(probe_window=0.0)
    now = 0.0
    # 20 successes per second for two seconds, every other request a 429 meanwhile.
    for i in range(200):
        now = i * 0.025
        outcome = OK if i % 2 == 0 else LIMITED
        pacing.report(t, now, limits, Observation(outcome, retry_after=0.05), 0)
        if t.mode != pacing.UNPACED:
            break
    assert pacing.ESTIMATED == t.mode
    assert 20 == pytest.approx(t.rate, rel=0.15)
    # An estimated rate promises no slot further than SLICE: it may rise meanwhile.
    later = now + 1.0
    go_now(t, later, limits)
    assert GO == pacing.acquire(t, later, limits, INF)[0]  # 1/20.7 s away: within SLICE
    assert (AGAIN, SLICE) == pacing.acquire(t, later, limits, INF)[:2]


def test_an_estimated_rate_grows_only_after_a_quiet_second() -> None:
    """Successes raise an estimated rate by 1 % each, but only a second after the last 429."""
    t, limits = fresh(probe_window=0.0)
    for i in range(40):
        pacing.report(t, i * 0.01, limits, Observation(LIMITED, retry_after=0.1), 0)
    assert pacing.ESTIMATED == t.mode
    rate = t.rate
    pacing.report(t, 0.5, limits, Observation(OK), 0)
    assert rate == t.rate  # 0.1 s after a 429: no growth
    for _ in range(5):
        pacing.report(t, 2.0, limits, Observation(OK), 0)
    assert rate * 1.01**5 == pytest.approx(t.rate)


def test_three_429s_in_a_row_cool_the_target_down() -> None:
    """One 429 asking for 0.5 s is the request's own; three in a row, with no success
    between, say the target is closed: every call waits out the cooldown."""
    t, limits = fresh(probe_window=0.0)
    pacing.report(t, 10.0, limits, Observation(LIMITED, retry_after=0.5), 0)
    assert GO == pacing.acquire(t, 10.0, limits, INF)[0]
    pacing.report(t, 10.0, limits, Observation(OK), 0)  # a success between: no streak
    for _ in range(2):
        pacing.report(t, 10.1, limits, Observation(LIMITED, retry_after=0.5), 0)
        assert (GO, 0.0) == pacing.acquire(t, 10.1, limits, INF)[:2]
    pacing.report(t, 10.1, limits, Observation(LIMITED, retry_after=0.5), 0)
    verdict, wait, why, _ = pacing.acquire(t, 10.2, limits, INF)
    assert (GO, "cooldown") == (verdict, why)
    assert 0.4 == pytest.approx(wait)


def test_a_long_wait_cools_the_target_down_at_once() -> None:
    """A 429 asking for 2 s or more speaks for the whole target, even alone."""
    t, limits = fresh(probe_window=0.0)
    pacing.report(t, 10.0, limits, Observation(LIMITED, retry_after=5.0), 0)
    verdict, wait, why, _ = pacing.acquire(t, 11.0, limits, INF)
    assert (GO, 4.0, "cooldown") == (verdict, pytest.approx(wait), why)


def test_whole_second_waits_do_not_stop_the_target() -> None:
    """A binding limit whose 429s say only ``retry-after: 1`` (rounded up from 50 ms) is
    paced, not cooled down for a second at every 429."""
    t, limits = fresh(probe_window=0.0)
    for i in range(100):
        outcome = OK if i % 2 == 0 else LIMITED
        seen = Observation(outcome, retry_after=1.0, coarse=True)
        pacing.report(t, i * 0.025, limits, seen, 0)
    assert pacing.ESTIMATED == t.mode
    assert t.cool < 2.5  # no cooldown was set by the coarse waits
    verdict, _wait, why, _ = pacing.acquire(t, 2.5, limits, INF)
    assert GO == verdict
    assert why != "cooldown"


# ------------------------------------------------------------------ deadlines


def test_a_slot_beyond_the_wait_allowed_is_refused_and_nothing_is_reserved() -> None:
    """A limit far below the load: a call that may wait 1 s is refused when its slot is
    further away, and its refusal takes no slot from the calls behind it."""
    t, limits = fresh()
    pacing.report(t, 0.0, limits, headers_seen(2, 0, 1.0), 0)  # 1.96 per second, none left
    waits = [pacing.acquire(t, 0.0, limits, 1.5) for _ in range(3)]
    assert [GO, GO, REFUSE] == [w[0] for w in waits]
    assert 3 / 1.96 == pytest.approx(waits[2][1])
    assert "pacing" == waits[2][2]
    tat = t.tat
    assert REFUSE == pacing.acquire(t, 0.0, limits, 1.5)[0]
    assert tat == t.tat
    assert (GO, pytest.approx(3 / 1.96)) == pacing.acquire(t, 0.0, limits, 2.0)[:2]


def test_a_cooldown_longer_than_the_wait_allowed_is_refused() -> None:
    """A 429 asking for 1000 s: the next call may wait 5 s and is refused at once."""
    t, limits = fresh()
    pacing.report(t, 0.0, limits, Observation(LIMITED, retry_after=1000.0), 0)
    verdict, wait, why, _ = pacing.acquire(t, 1.0, limits, 5.0)
    assert (REFUSE, 999.0, "cooldown") == (verdict, pytest.approx(wait), why)


# ------------------------------------------------------------------ slow start


def test_slow_start_lets_a_few_go_until_limits_are_known() -> None:
    """Before limits are known, probe_concurrency calls go out, one more per success that
    tells nothing; the end of the window ends the slow start."""
    t, limits = fresh(probe_concurrency=2, probe_window=5.0)
    first = go_now(t, 0.0, limits)
    go_now(t, 0.0, limits)
    assert (AGAIN, PROBE_POLL, "slow start") == pacing.acquire(t, 0.0, limits, INF)[:3]
    pacing.report(t, 0.1, limits, Observation(OK), first)  # answered; the window grows to 3
    go_now(t, 0.1, limits)
    go_now(t, 0.1, limits)
    assert AGAIN == pacing.acquire(t, 0.1, limits, INF)[0]
    go_now(t, 6.0, limits)  # the window is over


def test_a_slot_never_used_is_given_back() -> None:
    """A call cancelled after its slot was granted gives the slot back: the next call does
    not wait for an answer that will never come."""
    t, limits = fresh(probe_concurrency=1, probe_window=10.0)
    ticket = go_now(t, 0.0, limits)
    assert AGAIN == pacing.acquire(t, 0.0, limits, INF)[0]
    pacing.release(t, ticket)
    go_now(t, 0.0, limits)


@pytest.mark.parametrize(
    ("outcome", "given_back"),
    [(DOWN, True), (pacing.ANSWERED, True), (LIMITED, False), (OK, False), (None, True)],
)
def test_the_pace_slot_of_a_request_that_did_not_count_comes_back(
    outcome: int | None, given_back: bool
) -> None:
    """A paced target (20/s from headers, no burst left): a request that failed without a
    word about the limit (a server error, a refused request), or was never sent, gives
    its slot of the pace back, so the next call takes it; a 429 or a success keeps it."""
    t, limits = fresh(probe_window=0.0)
    pacing.report(t, 100.0, limits, headers_seen(20, 0, 1.0), 0)
    verdict, wait, _, ticket = pacing.acquire(t, 100.0, limits, INF)
    assert GO == verdict
    assert ticket & pacing.PACED
    if outcome is None:
        pacing.release(t, ticket)
    else:
        pacing.report(t, 100.0, limits, Observation(outcome), ticket)
    after = pacing.acquire(t, 100.0, limits, INF)[1]
    interval = 1 / (20 * pacing.HEADROOM)
    expected = wait if given_back else wait + interval
    if outcome == LIMITED:  # a 429 also leaves no slot free before a whole interval
        expected = max(expected, interval)
    assert expected == pytest.approx(after)


def test_a_slot_given_back_never_undoes_the_servers_count() -> None:
    """Requests sent, then an answer saying none remain (a count that includes them),
    then one of them times out: its pace slot comes back only down to what the server's
    count allows, so the next call still waits as long as the count says."""
    t, limits = fresh(probe_window=0.0)
    for reset in (0.5, 0.9):  # paced from headers: ~10/s, a bucket of 10
        pacing.report(t, 100.0, limits, headers_seen(10, 5, reset), 0)
    t.tat = 100.0  # a full bucket
    tickets = [pacing.acquire(t, 100.0, limits, INF)[3] for _ in range(int(t.burst))]
    pacing.report(t, 100.0, limits, headers_seen(10, 0, 0.9), tickets.pop())
    verdict, counted_wait, _, ticket = pacing.acquire(t, 100.0, limits, INF)
    assert GO == verdict
    pacing.release(t, ticket)
    pacing.report(t, 100.0, limits, Observation(DOWN), tickets.pop())
    assert counted_wait == pytest.approx(pacing.acquire(t, 100.0, limits, INF)[1])


def test_targets_are_bounded() -> None:
    """The state keeps at most max_targets targets, forgetting the least recently used."""
    state = LocalState(max_targets=100)
    limits = Limits()
    for i in range(1000):
        state.acquire(("target", i), 0.0, limits, INF)
    assert 100 == len(state)
    assert state.target(("target", 999)) is not None
    assert state.target(("target", 0)) is None


# ------------------------------------------------------------------ outage hold


def test_an_outage_holds_calls_and_lets_one_probe_through() -> None:
    """After three failures that say the target is down, calls wait while one probe at a
    time tests it; a failed probe puts the next one off; a success releases everyone."""
    t, limits = fresh(probe_window=0.0)
    for _ in range(2):
        assert not pacing.report(t, 0.0, limits, Observation(DOWN), 0)
    assert pacing.report(t, 0.0, limits, Observation(DOWN), 0)  # the third: held
    verdict, wait, why, _ = pacing.acquire(t, 0.1, limits, INF)
    assert (AGAIN, "held") == (verdict, why)
    assert 0 < wait <= 0.4
    verdict, _, _, ticket = pacing.acquire(t, 0.5, limits, INF)  # the first probe
    assert (GO, pacing.PROBE) == (verdict, ticket)
    assert AGAIN == pacing.acquire(t, 0.6, limits, INF)[0]  # one probe at a time
    assert pacing.report(t, 0.7, limits, Observation(DOWN), ticket)  # the probe failed
    assert AGAIN == pacing.acquire(t, 1.0, limits, INF)[0]  # the next probe waits 0.5 s
    verdict, _, _, ticket = pacing.acquire(t, 1.3, limits, INF)
    assert GO == verdict
    assert not pacing.report(t, 1.4, limits, Observation(OK), ticket)  # up again
    assert GO == pacing.acquire(t, 1.5, limits, INF)[0]


def test_a_held_call_is_refused_when_it_may_wait_no_more() -> None:
    """A held call is refused once its deadline leaves no time."""
    t, limits = fresh(probe_window=0.0)
    for _ in range(3):
        pacing.report(t, 0.0, limits, Observation(DOWN), 0)
    verdict, _, why, _ = pacing.acquire(t, 0.1, limits, 0.0)
    assert (REFUSE, "held") == (verdict, why)


def test_holding_is_off_with_hold_false() -> None:
    """With hold off, failures never hold calls: the policy fails fast as before."""
    t = TargetState()
    limits = Limits(2, 0.0, hold=False)
    for _ in range(10):
        assert not pacing.report(t, 0.0, limits, Observation(DOWN), 0)
    assert GO == pacing.acquire(t, 0.0, limits, INF)[0]


def test_one_answer_does_not_end_the_slow_start() -> None:
    """A single answer cannot tell a per-minute limit from one enforced over each second
    (its bucket is smaller than the stated limit): until a second answer tells the shape,
    a burst of calls is still held to the slow start."""
    t, limits = fresh(probe_concurrency=2, probe_window=10.0)
    go_now(t, 0.0, limits)
    pacing.report(t, 0.1, limits, headers_seen(3_000_000, 50_000, 0.05), pacing.SLOW)
    assert t.slow
    verdicts = [pacing.acquire(t, 0.1, limits, INF)[0] for _ in range(4)]
    assert [GO, GO, GO, AGAIN] == verdicts  # the window grew by the one success to three


def test_a_limit_enforced_over_shorter_periods_is_found() -> None:
    """3,398,154 tokens a minute enforced over each second: the headers state the minute's
    limit, but their remaining and reset describe a bucket of about 56,636 tokens
    refilling at the same 56,636 a second; two answers tell it."""
    t, limits = fresh(probe_window=0.0)
    room, rate = 3_398_154 / 60, 3_398_154 / 60
    for remaining in (53_883, 46_134):
        seen = Observation(
            OK,
            limit_tokens=3_398_154,
            remaining_tokens=remaining,
            reset_tokens=round((room - remaining) / rate, 3),
        )
        pacing.report(t, 0.0, limits, seen, 0)
    assert room == pytest.approx(t.token_burst, rel=0.01)
    assert rate * 0.98 == pytest.approx(t.token_rate, rel=0.01)
    assert not t.slow
