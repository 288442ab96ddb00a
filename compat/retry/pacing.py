"""Per-target pacing as pure functions over one flat record of numbers.

A *target* is what one limit applies to (provider, endpoint, key, model). Its state is a
:class:`TargetState`: a record of numbers only, so that the same record can live in a dict
in this process (:class:`compat.LocalState`) or in a Redis hash (``compat.RedisState``
runs this very algorithm as a Lua script). Three functions change it:

* :func:`acquire`, before a request is sent: wait for the target's outage hold, slow
  start, cooldown and pace, or refuse when the slot lies beyond what the call may wait;
* :func:`report`, after the answer: learn from it;
* :func:`release`, for a slot taken and never used (a cancelled call).

What the pacer learns, and from what:

* **Rate-limit headers** (``x-ratelimit-limit-requests`` L, ``-remaining-requests`` r,
  ``-reset-requests`` T) bound the refill rate by (L - r) / T and give a burst of L;
  the tightest bound seen is kept (``r`` is a whole number, so one answer may overstate
  the rate), used at :data:`HEADROOM`. The same for ``-tokens``: requests then also
  reserve their estimated tokens.
* **429s without such headers** are often not ours: another process on the same key, a
  token limit, a gateway's concurrency cap, plain noise. So a header-less 429 alone
  changes nothing for other calls; the *pressure*, a slowly moving average of the
  share of answers that are 429s, decides. Only when it passes :data:`PRESSURE_BINDING`
  (a limit that binds, not noise) does the pacer pace, at the rate of successes the
  target was seen to deliver; it then grows only after a quiet second, and cuts again
  only when the pressure is binding again.
* **Cooldowns**: a 429's wait stops every call to the target only when it is
  information about the target, not about one request: from a target whose limit is
  known (headers) or binding, or that answered :data:`STREAK` 429s in a row, and
  precise (a whole-second ``retry-after: 1`` is mostly rounding); or long
  (:data:`LONG_WAIT`).
* **Outages**: after :data:`DOWN_AFTER` consecutive failures that say the target is down
  (overloaded, server error, timeout, connection), calls are *held*: they wait (each up
  to its deadline) while one probe at a time tests the target, every
  :data:`PROBE_FIRST` growing to :data:`PROBE_EVERY` seconds; the first answer that is
  not such a failure releases them, through a slow start. A target whose quota is used
  up is held at once when calls can go elsewhere (a failover), probed every
  :data:`PROBE_QUOTA` seconds.
* **Slow start**: until a target's limits are known, ``probe_concurrency`` calls go at
  once, one more for each success, for at most ``probe_window`` seconds.

Every time is a ``now`` passed in: the functions read no clock, so tests give them
explicit times.
"""

from __future__ import annotations

import math

#: How often a call waiting in a slow start or an outage hold looks again.
PROBE_POLL = 0.01
#: The longest wait promised on an estimated rate; past it, callers ask again, since the
#: estimate may rise meanwhile.
SLICE = 0.05
#: A rate learned from headers is used at this fraction, to leave room for the requests
#: already on their way when the headers were written.
HEADROOM = 0.98
#: Weight of one answer in the pressure (the moving share of 429s): small, so that a
#: few per cent of stray 429s never look like a binding limit.
PRESSURE_WEIGHT = 1 / 32
#: The pressure at which a limit without headers is taken to bind.
PRESSURE_BINDING = 0.3
#: A 429 asking for at least this many seconds cools the whole target down.
LONG_WAIT = 2.0
#: So do this many 429s in a row, with no success between them: the target is closed.
STREAK = 3
#: Successes are counted over windows this long to measure the rate a target delivers.
DELIVERY_WINDOW = 1.0
#: An estimated rate grows after this long without a 429, by :data:`GROWTH` per success.
QUIET = 1.0
GROWTH = 1.01
#: After a cut, the estimate is not cut again for this long (its effect must show first).
SETTLE = 1.0
#: Consecutive failures saying the target is down that start an outage hold.
DOWN_AFTER = 3
#: During a hold, the first probe goes after this long, later ones every PROBE_EVERY.
PROBE_FIRST = 0.5
PROBE_EVERY = 2.0
#: A probe that has not reported after this long no longer holds the probe slot.
PROBE_LEASE = 30.0
#: A target whose quota is used up is probed this often (quotas come back slowly).
PROBE_QUOTA = 30.0
MIN_RATE = 0.01
MAX_RATE = 100_000.0
# Sums of intervals gather rounding errors; a slot this close is now.
_EPSILON = 1e-9

# Verdicts of acquire().
GO = 0  # send after the wait
AGAIN = 1  # wait, then ask again
REFUSE = 2  # the slot lies beyond what the call may wait: fail now

# Tickets: which slots a granted request holds, to give back when it reports.
SLOW = 1
PROBE = 2
PACED = 4  # a slot of the target's pace

# Outcomes that report() learns from.
OK = 0  # a success
LIMITED = 1  # a 429 rate limit
DOWN = 2  # overloaded, server error, timeout, connection: the target may be down
ANSWERED = 3  # any other failure: the target is up and answering
EXHAUSTED = 4  # its quota is used up: hold it at once (calls that can go elsewhere do)

# Modes of a target's rate.
UNPACED = 0
ESTIMATED = 1
FROM_HEADERS = 2


class TargetState:
    """The live state of one target: numbers only (see the module docstring)."""

    __slots__ = (
        "burst",
        "cap",
        "cool",
        "cut_at",
        "delivered",
        "down",
        "fails",
        "first_seen",
        "floor",
        "inflight",
        "last_429",
        "limit_bound",
        "mode",
        "next_probe",
        "pressure",
        "prev_r",
        "prev_s",
        "probe_every",
        "probe_until",
        "rate",
        "rate_bound",
        "slow",
        "streak",
        "tat",
        "token_bound",
        "token_burst",
        "token_cap",
        "token_limit_bound",
        "token_prev_r",
        "token_prev_s",
        "token_rate",
        "token_tat",
        "used",
        "wcount",
        "window",
        "wstart",
    )

    def __init__(self, probe_concurrency: int = 2) -> None:
        self.cool = 0.0  # cooldown until
        self.rate = 0.0  # requests per second; 0: not paced
        self.burst = 1.0
        self.tat = 0.0  # GCRA's theoretical arrival time
        self.floor = 0.0  # the least tat the server's count or a 429 allows
        self.mode = UNPACED
        self.limit_bound = 0.0  # the limit the tightest header bound was read under
        self.rate_bound = 0.0  # the tightest header bound on the rate
        self.cap = 0.0  # a bucket smaller than the stated limit, when answers show one
        self.prev_r = 0.0  # the last answer's remaining and reset, to find that bucket
        self.prev_s = 0.0
        self.pressure = 0.0
        self.streak = 0
        self.last_429 = -math.inf
        self.cut_at = -math.inf
        self.wstart = -1.0  # delivery window
        self.wcount = 0.0
        self.delivered = 0.0
        self.slow = 1  # in slow start
        self.first_seen = -1.0
        self.inflight = 0
        self.window = float(probe_concurrency)
        self.down = 0  # outage hold
        self.fails = 0
        self.probe_until = 0.0
        self.next_probe = 0.0
        self.probe_every = PROBE_FIRST
        self.token_rate = 0.0  # tokens per second; 0: tokens not paced
        self.token_burst = 0.0
        self.token_tat = 0.0
        self.token_limit_bound = 0.0
        self.token_bound = 0.0
        self.token_cap = 0.0
        self.token_prev_r = 0.0
        self.token_prev_s = 0.0
        self.used = 0.0

    def as_dict(self) -> dict[str, float]:
        """The record as a dict (for tests and for the Redis hash)."""
        return {name: float(getattr(self, name)) for name in self.__slots__}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:g}" for k, v in self.as_dict().items() if v)
        return f"TargetState({shown})"


class Limits:
    """What a policy says about pacing: its slow start and whether outages hold calls."""

    __slots__ = ("hold", "probe_concurrency", "probe_window")

    def __init__(self, probe_concurrency: int = 2, probe_window: float = 2.0, hold: bool = True):
        self.probe_concurrency = probe_concurrency
        self.probe_window = probe_window
        self.hold = hold


class Observation:
    """What one answer said, as the pacer needs it."""

    __slots__ = (
        "coarse",
        "limit_requests",
        "limit_tokens",
        "outcome",
        "remaining_requests",
        "remaining_tokens",
        "reset_requests",
        "reset_tokens",
        "retry_after",
        "tokens",
        "tokens_used",
        "tpm",
    )

    def __init__(
        self,
        outcome: int,
        *,
        retry_after: float | None = None,
        coarse: bool = False,
        limit_requests: float | None = None,
        remaining_requests: float | None = None,
        reset_requests: float | None = None,
        limit_tokens: float | None = None,
        remaining_tokens: float | None = None,
        reset_tokens: float | None = None,
        tokens: float = 0.0,
        tokens_used: float | None = None,
        tpm: tuple[float, float] | None = None,
    ) -> None:
        self.outcome = outcome
        self.retry_after = retry_after
        self.coarse = coarse
        self.limit_requests = limit_requests
        self.remaining_requests = remaining_requests
        self.reset_requests = reset_requests
        self.limit_tokens = limit_tokens
        self.remaining_tokens = remaining_tokens
        self.reset_tokens = reset_tokens
        self.tokens = tokens  # what the request reserved
        self.tokens_used = tokens_used  # what the answer's usage says it cost
        self.tpm = tpm  # (limit, used) tokens per minute, from a 429's own words


# ---------------------------------------------------------------------------- acquire


def acquire(
    t: TargetState, now: float, limits: Limits, max_wait: float, tokens: float = 0.0
) -> tuple[int, float, str, int]:
    """Ask to send one request of *tokens* estimated tokens at *now*.

    Returns ``(verdict, wait, why, ticket)``: with :data:`GO` the caller sends after
    *wait* seconds (its slot is reserved: *ticket* says which slots it holds); with
    :data:`AGAIN` it waits *wait* seconds and asks again; with :data:`REFUSE` the slot
    lies *wait* seconds away, beyond *max_wait*, and nothing was reserved. *why* names
    what the wait is for: ``"cooldown"``, ``"pacing"``, ``"tokens"``, ``"slow start"``,
    ``"held"`` (or ``""`` when there is none).
    """
    t.used = now
    ticket = 0
    if t.down:
        if t.probe_until <= now and now >= t.next_probe:
            t.probe_until = now + PROBE_LEASE
            ticket = PROBE
        else:
            if max_wait <= 0:
                return REFUSE, max(t.next_probe - now, 0.0), "held", 0
            return AGAIN, min(max(t.next_probe - now, PROBE_POLL), 0.25, max_wait), "held", 0
    elif t.slow:
        if t.first_seen < 0:
            t.first_seen = now
        if now - t.first_seen >= limits.probe_window:
            t.slow = 0
        elif t.inflight >= t.window:
            if max_wait <= 0:
                return REFUSE, PROBE_POLL, "slow start", 0
            return AGAIN, min(PROBE_POLL, max_wait), "slow start", 0
        else:
            t.inflight += 1
            ticket = SLOW

    start = now if t.cool <= now else t.cool
    go_at = start
    why = "cooldown" if start > now else ""
    interval = 0.0
    if t.rate > 0:
        interval = 1.0 / t.rate
        earliest = t.tat - (t.burst - 1.0) * interval
        if earliest > go_at + _EPSILON:
            go_at, why = earliest, "pacing"
    token_interval = 0.0
    if t.token_rate > 0 and tokens > 0:
        if tokens > t.token_burst:
            _give_back(t, ticket)
            return REFUSE, math.inf, "too large", 0
        token_interval = tokens / t.token_rate
        earliest = t.token_tat - t.token_burst / t.token_rate + token_interval
        if earliest > go_at + _EPSILON:
            go_at, why = earliest, "tokens"
    wait = go_at - now
    if wait > max_wait:
        _give_back(t, ticket)
        return REFUSE, wait, why, 0
    if t.mode == ESTIMATED and why == "pacing" and wait > SLICE:
        _give_back(t, ticket)
        return AGAIN, SLICE, why, 0
    if interval:
        t.tat = max(t.tat, go_at) + interval
        ticket |= PACED
    if token_interval:
        t.token_tat = max(t.token_tat, go_at) + token_interval
    return GO, wait, why, ticket


def _give_back(t: TargetState, ticket: int) -> None:
    if ticket & SLOW and t.inflight > 0:
        t.inflight -= 1
    if ticket & PROBE:
        t.probe_until = 0.0


def release(t: TargetState, ticket: int, tokens: float = 0.0) -> None:
    """Give back the slots of a request that was granted and never sent."""
    _give_back(t, ticket)
    if ticket & PACED and t.rate > 0:
        _pace_slot_back(t)
    if tokens and t.token_rate > 0:
        t.token_tat -= tokens / t.token_rate


# ---------------------------------------------------------------------------- report


def report(t: TargetState, now: float, limits: Limits, seen: Observation, ticket: int) -> bool:
    """Learn from one answer to a request that held *ticket*.

    Returns whether the target is held for an outage after this answer.
    """
    t.used = now
    _give_back(t, ticket)
    outcome = seen.outcome
    if outcome == EXHAUSTED:
        t.fails += 1
        t.down = 1
        t.probe_until = 0.0
        t.probe_every = PROBE_QUOTA
        t.next_probe = now + max(seen.retry_after or 0.0, PROBE_QUOTA)
        return True
    if seen.tokens and t.token_rate > 0:
        if outcome != OK:
            # A failed request is taken as not charged: its reservation comes back (the
            # server's remaining-tokens headers correct what this gets wrong).
            t.token_tat -= seen.tokens / t.token_rate
        elif seen.tokens_used is not None:
            # The answer's usage corrects the estimate the request reserved.
            t.token_tat += (seen.tokens_used - seen.tokens) / t.token_rate
    if ticket & PACED and t.rate > 0 and outcome in (DOWN, ANSWERED):
        # So does the slot of a request that failed without a word about the limit (a
        # server error, a timeout, a refused request): taken as not counted against it,
        # as a request that never came. When the server did count it, the next answer's
        # remaining-requests header says so, and the server's count wins (also the count
        # it gave before this answer: see _pace_slot_back).
        _pace_slot_back(t)
    if outcome == DOWN:
        t.fails += 1
        if t.down:
            if ticket & PROBE:
                t.next_probe = now + t.probe_every
                t.probe_every = min(t.probe_every * 2, PROBE_EVERY)
        elif limits.hold and t.fails >= DOWN_AFTER:
            t.down = 1
            wait = seen.retry_after if seen.retry_after is not None else 0.0
            t.probe_every = PROBE_FIRST
            t.next_probe = now + max(wait, PROBE_FIRST)
            t.probe_until = 0.0
        return bool(t.down)
    t.fails = 0
    if t.down:
        # The target answers again: release the held calls through a slow start.
        t.down = 0
        t.probe_until = 0.0
        if t.mode == UNPACED:
            t.slow = 1
            t.first_seen = now
            t.inflight = 0
            t.window = float(limits.probe_concurrency)

    if seen.limit_tokens is not None:
        _learn_tokens(t, now, seen)
    elif seen.tpm is not None:
        _learn_tpm(t, now, *seen.tpm)
    if seen.limit_requests is not None:
        _learn_requests(t, now, seen)

    if outcome == LIMITED:
        _limited(t, now, seen)
    elif outcome == OK:
        _succeeded(t, now)
    return False


def _pace_slot_back(t: TargetState) -> None:
    """One slot of the pace back, never below what the server's last count or a 429 said
    (a count that may already include the request whose slot comes back)."""
    t.tat = max(t.tat - 1.0 / t.rate, t.floor)


def _limited(t: TargetState, now: float, seen: Observation) -> None:
    t.last_429 = now
    t.streak += 1
    t.pressure += (1.0 - t.pressure) * PRESSURE_WEIGHT
    wait = seen.retry_after
    binding = t.pressure >= PRESSURE_BINDING
    if t.mode == UNPACED and binding:
        estimate = _delivered(t, now)
        if estimate <= 0 and wait:
            estimate = 1.0 / wait
        if estimate > 0:
            t.mode = ESTIMATED
            t.slow = 0
            _set_rate(t, now, estimate, 1.0)
            t.cut_at = now + SETTLE
    elif t.mode == ESTIMATED and binding and now >= t.cut_at:
        estimate = _delivered(t, now)
        _set_rate(t, now, min(t.rate, max(estimate, t.rate * 0.5)), 1.0)
        t.cut_at = now + SETTLE
    if wait is not None and wait > 0:
        known = t.mode == FROM_HEADERS or (t.mode == ESTIMATED and binding) or t.streak >= STREAK
        if wait >= LONG_WAIT or (known and not seen.coarse):
            t.cool = max(t.cool, now + wait)
    if t.rate > 0:
        # No slot is free now: the next one is a whole interval away.
        interval = 1.0 / t.rate
        t.floor = max(t.floor, now + interval + (t.burst - 1.0) * interval)
        t.tat = max(t.tat, t.floor)


def _succeeded(t: TargetState, now: float) -> None:
    t.pressure *= 1.0 - PRESSURE_WEIGHT
    t.streak = 0
    if t.wstart < 0:
        t.wstart = now
    t.wcount += 1
    if now - t.wstart >= DELIVERY_WINDOW:
        t.delivered = t.wcount / (now - t.wstart)
        t.wstart = now
        t.wcount = 0
    if t.mode == ESTIMATED:
        if now - t.last_429 >= QUIET:
            _set_rate(t, now, min(t.rate * GROWTH, MAX_RATE), 1.0)
    elif t.slow:
        t.window += 1  # a success that says nothing of limits: one more may go


def _delivered(t: TargetState, now: float) -> float:
    """Successes per second the target delivered lately."""
    current = 0.0
    if t.wstart >= 0 and t.wcount:
        current = t.wcount / max(now - t.wstart, 0.25)
    return max(t.delivered, current)


def _bucket(
    limit: float, remaining: float, reset: float, prev_r: float, prev_s: float, cap: float
) -> float:
    """The size of the bucket rate-limit headers describe.

    ``reset`` is the time until the bucket is full again, so (size - remaining) / reset is
    the refill rate. The size is the stated limit, unless the limit is enforced over
    shorter periods (OpenAI: "60,000 requests/minute may be enforced as 1,000
    requests/second"): then two answers with different resets tell the true size, which
    is kept (*cap*) until the limit changes.
    """
    if prev_s > 0 and abs(reset - prev_s) >= 0.02:
        size = (prev_r * reset - remaining * prev_s) / (reset - prev_s)
        # Remaining counts are whole numbers: one more or less moves the size by this much;
        # only a size known to within 5 % is believed (a token limit's, not a small bucket's).
        spread = (prev_s + reset) / abs(reset - prev_s)
        if max(remaining, prev_r) < size < 0.9 * limit and spread <= 0.05 * size:
            return size
    return cap if 0 < cap < limit else limit


def _learn_requests(t: TargetState, now: float, seen: Observation) -> None:
    limit, remaining, reset = seen.limit_requests, seen.remaining_requests, seen.reset_requests
    if limit is None or remaining is None or limit <= 0:
        return
    if t.limit_bound != limit:
        t.cap = t.prev_s = 0.0  # a new limit: learn its bucket afresh
    if reset is not None and reset > 0 and limit > remaining:
        size = _bucket(limit, remaining, reset, t.prev_r, t.prev_s, t.cap)
        t.cap = size if size < limit else 0.0
        if t.prev_s > 0:
            t.slow = 0  # two answers have told the bucket's shape: the slow start may end
        t.prev_r, t.prev_s = remaining, reset
        bound = (size - remaining) / reset
        if t.rate_bound > 0 and t.limit_bound == limit:
            rose = (size - remaining - 1) / reset > t.rate_bound
            bound = bound if rose else min(bound, t.rate_bound)
        t.limit_bound, t.rate_bound = limit, bound
        _set_rate(t, now, bound * HEADROOM, size)
        t.mode = FROM_HEADERS
    if t.rate > 0:
        # The server's count wins when it has fewer left than we think.
        interval = 1.0 / t.rate
        t.floor = max(t.floor, now + (t.burst - max(remaining, 0.0)) * interval)
        t.tat = max(t.tat, t.floor)


def _learn_tokens(t: TargetState, now: float, seen: Observation) -> None:
    limit, remaining, reset = seen.limit_tokens, seen.remaining_tokens, seen.reset_tokens
    if limit is None or remaining is None or limit <= 0:
        return
    if t.token_limit_bound != limit:
        t.token_cap = t.token_prev_s = 0.0
    if reset is not None and reset > 0 and limit > remaining:
        size = _bucket(limit, remaining, reset, t.token_prev_r, t.token_prev_s, t.token_cap)
        t.token_cap = size if size < limit else 0.0
        if t.token_prev_s > 0:
            t.slow = 0
        t.token_prev_r, t.token_prev_s = remaining, reset
        bound = (size - remaining) / reset
        if t.token_bound > 0 and t.token_limit_bound == limit:
            rose = (size - remaining - 1) / reset > t.token_bound
            bound = bound if rose else min(bound, t.token_bound)
        t.token_limit_bound, t.token_bound = limit, bound
        rate = bound * HEADROOM
        t.token_tat = _reshape(t.token_tat, now, t.token_rate, t.token_burst, rate, size)
        t.token_rate, t.token_burst = rate, size
    if t.token_rate > 0:
        t.token_tat = max(t.token_tat, now + (t.token_burst - max(remaining, 0.0)) / t.token_rate)


def _learn_tpm(t: TargetState, now: float, limit: float, used: float) -> None:
    """A token limit told only in a 429's words: *limit* tokens a minute, *used* of them."""
    if limit <= 0 or t.token_limit_bound > 0:
        return  # headers, when a target sends them, say more
    rate = limit / 60.0 * HEADROOM
    t.token_tat = _reshape(t.token_tat, now, t.token_rate, t.token_burst, rate, limit)
    t.token_rate, t.token_burst = rate, limit
    t.token_tat = max(t.token_tat, now + max(used, 0.0) / rate)
    t.slow = 0


def _reshape(
    tat: float, now: float, rate: float, burst: float, new_rate: float, new_burst: float
) -> float:
    """A GCRA's arrival time when its rate and size change: what is free now stays free
    (up to the new size), and what was promised ahead stays promised."""
    if rate <= 0:
        return now  # a full bucket
    free = min(burst - (tat - now) * rate, new_burst)
    return now + (new_burst - free) / new_rate


def _set_rate(t: TargetState, now: float, rate: float, burst: float) -> None:
    rate = min(max(rate, MIN_RATE), MAX_RATE)
    burst = max(burst, 1.0)
    t.tat = _reshape(t.tat, now, t.rate, t.burst, rate, burst)
    t.rate, t.burst = rate, burst
