"""``compat.RedisState``: the policy's shared state kept in Redis, so that processes on
many hosts (gunicorn and Celery workers, pods) pace themselves to one limit together.

What is shared, per target (provider, endpoint, key fingerprint, model): the cooldown
after a 429, the rate learned from ``x-ratelimit-*`` headers or from 429 pressure, the
slot reservations that pace requests (and tokens, where token limits are paced), the
slow start, the outage hold with its one probe at a time; and the retry budget, one per
``prefix``. Each is a hash (the budget a string) under ``prefix`` plus a SHA-256 of the
target's ``repr``: no key, endpoint or model name is stored in clear. Idle targets
expire after ``ttl`` seconds.

How: :mod:`compat.retry.pacing` is the algorithm, as pure functions over a record of
numbers; ``pacing.lua``, beside this module, is the same algorithm ported line by line to
a Redis script, run atomically by the server: one round trip per reservation, one per
report (which also credits the budget). The script's constants and fields are read from
:mod:`compat.retry.pacing` when it is loaded; the algorithm itself is a port, and
``pacing.py`` is the reference. tests/test_redis_state.py drives random sequences of
acquire, report and release through both, with explicit times, and asserts the same
verdicts, waits and records: **when pacing.py changes, that test fails until pacing.lua
follows.** The script is loaded once and called by its SHA (and sent again when the
server answers ``NOSCRIPT``, as a restarted one does).

Clocks: by default the script reads the server's ``TIME``, which every process on every
host shares (their monotonic clocks share nothing); waits come back as durations.
``clock="caller"`` uses the times the engine passes instead (its monotonic clock: one
host only; tests and :func:`compat.retry_testing` need it).

Faults: whatever goes wrong with Redis (refused, reset, a timeout, ``READONLY``, a script
error), the operation is answered by a :class:`~compat.LocalState` of this object
instead, so a call goes on with per-process state and never fails because of Redis. One
WARNING on the ``compat.retry`` logger says Redis went away, one INFO that it is back;
meanwhile one operation at a time tries Redis again, every ``rejoin_after`` seconds.
Every operation waits at most ``timeout`` seconds for Redis's answer, and none longer
than its call may still wait (the engine's ``max_wait`` at the reservation, remembered
for the report and budget operations that follow it), so Redis never keeps a call past
its deadline (beyond :data:`MIN_WAIT_FOR_REDIS` for a reservation, or
:data:`MIN_WAIT_FOR_REPORT` for the report of an attempt that outlasted it).

Round trips: an attempt costs at most one reservation and one report. The calls of one
process that ask for the same target while a round trip for it is on its way are sent
together in the next (up to :data:`BATCH`), the script answering each as if it had asked
in turn: 75 calls starting at once cost a few round trips, not 75. A call told to wait
and ask again (a full slow start, an outage hold, an estimated rate) would ask Redis
every few milliseconds; the calls of one process instead let one of them ask for all, the
others waiting without a round trip.

What is lost when Redis is: cooldowns, learned rates and reservations made by other
processes (each process paces alone until it is back, as if it owned the limit), and
with a restart, the records themselves (targets start again with a slow start).

redis-py is an optional dependency (``pip install compat[redis]``); this module imports
it only when a :class:`RedisState` is made.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import hashlib
import importlib
import inspect
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from importlib import resources
from typing import Any, TypeVar

from compat.retry import pacing
from compat.retry.pacing import Limits, Observation, TargetState
from compat.retry.state import LocalState

T = TypeVar("T")

log = logging.getLogger("compat.retry")

#: Seconds subtracted from the server's clock, so that times keep 10 ns of precision.
EPOCH = 1_700_000_000
#: A bit of the tickets handed out by the local fallback, to give their slots back there.
LOCAL_TICKET = 1 << 8
#: The least time Redis is given to answer a reservation, even for a call at its deadline.
MIN_WAIT_FOR_REDIS = 0.002
#: The least time Redis is given to take a report (or a budget operation), even after
#: its call's deadline: an attempt may outlast the wait its reservation was allowed (a
#: long answer), and what it learned must still reach the other processes.
MIN_WAIT_FOR_REPORT = 0.05
#: The most reservations one round trip makes: the calls of this process that ask for one
#: target while a round trip for it is on its way go together in the next.
BATCH = 64

# When the call in this thread or task must be done: set by each reservation (its time
# allowed to wait), read by the report, release and budget operations that follow it,
# so that none of them waits for Redis past the call's deadline.
_call_ends: contextvars.ContextVar[float] = contextvars.ContextVar(
    "compat_redis_call_ends", default=math.inf
)

# The script's constants, read from pacing.py when the script is loaded.
_CONSTANTS = (
    "PROBE_POLL",
    "SLICE",
    "HEADROOM",
    "PRESSURE_WEIGHT",
    "PRESSURE_BINDING",
    "LONG_WAIT",
    "STREAK",
    "DELIVERY_WINDOW",
    "QUIET",
    "GROWTH",
    "SETTLE",
    "DOWN_AFTER",
    "PROBE_FIRST",
    "PROBE_EVERY",
    "PROBE_LEASE",
    "MIN_RATE",
    "MAX_RATE",
    "GO",
    "AGAIN",
    "REFUSE",
    "SLOW",
    "PROBE",
    "PACED",
    "OK",
    "LIMITED",
    "DOWN",
    "ANSWERED",
    "EXHAUSTED",
    "PROBE_QUOTA",
    "UNPACED",
    "ESTIMATED",
    "FROM_HEADERS",
)
# The connection settings of a client given to RedisState that its own connections keep
# (besides every ssl_* setting); timeouts and retries are the state's own.
_SETTINGS = frozenset(
    {
        "host",
        "port",
        "db",
        "username",
        "password",
        "path",
        "credential_provider",
        "client_name",
        "socket_keepalive",
        "socket_keepalive_options",
        "socket_type",
    }
)

_INSTALL = "compat.RedisState needs redis-py, an optional dependency: pip install compat[redis]"


def _redis() -> Any:
    try:
        return importlib.import_module("redis")
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc


def _lua_number(value: float) -> str:
    if math.isinf(value):
        return "math.huge" if value > 0 else "-math.huge"
    return repr(float(value))


@functools.cache
def script() -> tuple[str, str]:
    """The script's text, its constants and fields taken from :mod:`compat.retry.pacing`,
    and its SHA-1 (the name Redis caches it under)."""
    lines = ["-- generated by compat.retry.redis from compat/retry/pacing.py"]
    lines += [f"local {name} = {_lua_number(getattr(pacing, name))}" for name in _CONSTANTS]
    lines.append(f"local EPSILON = {_lua_number(pacing._EPSILON)}")
    lines.append(f"local EPOCH = {EPOCH}")
    initial = TargetState().as_dict()
    lines.append("local FIELDS = {" + ", ".join(f'"{name}"' for name in initial) + "}")
    lines.append(
        "local INITIAL = {"
        + ", ".join(f"{name} = {_lua_number(value)}" for name, value in initial.items())
        + "}"
    )
    body = resources.files("compat.retry").joinpath("pacing.lua").read_text(encoding="utf-8")
    text = "\n".join(lines) + "\n" + body
    return text, hashlib.sha1(text.encode()).hexdigest()


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _NoAnswer(Exception):
    """Redis did not answer in time."""


class _Waiting:
    """A target whose calls Redis told to wait and ask again (a full slow start, an
    outage hold, an estimated rate): until *until*, or while one call of this process
    asks again, the others are told to wait without a round trip."""

    __slots__ = ("asked_at", "asking", "until", "why")

    def __init__(self, until: float, why: str) -> None:
        self.until = until
        self.why = why
        self.asking = False
        self.asked_at = -math.inf

    def ask(self, now: float) -> None:
        self.asking, self.asked_at = True, now


class _Ask:
    """One call's reservation, waiting for its target's next round trip; *future* gets
    its answer."""

    __slots__ = ("future", "limits", "max_wait", "now", "queued_at", "started", "tokens")

    def __init__(
        self, now: float, limits: Limits, max_wait: float, tokens: float, started: float
    ) -> None:
        self.now = now  # the engine's clock when the call asked
        self.limits = limits
        self.max_wait = max_wait
        self.tokens = tokens
        self.started = started  # time.monotonic() when the call asked
        self.queued_at: float | None = None  # when it was queued for a round trip
        self.future: concurrent.futures.Future[tuple[int, float, str, int]] = (
            concurrent.futures.Future()
        )

    def same_limits(self, other: _Ask) -> bool:
        a, b = self.limits, other.limits
        return (a.probe_concurrency, a.probe_window, a.hold) == (
            b.probe_concurrency,
            b.probe_window,
            b.hold,
        )


def _connections(redis: Any, client: Any, timeout: float) -> tuple[Any, dict[str, Any]]:
    """The connection class and settings for the server *client* talks to (its address,
    database, credentials and TLS), with the state's timeouts and no retries (falling
    back to local state is the state's retry) and no client metadata to send on connect
    (so that a connection is ready as soon as its socket is)."""
    pool: Any = getattr(client, "connection_pool", None)
    kind = getattr(pool, "connection_class", None)
    if kind not in (redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection):
        raise TypeError(
            "compat.RedisState needs a redis.Redis client of one server (TCP, TLS or a"
            f" Unix socket), not {type(client).__name__}"
            + (f" with {kind.__name__} connections" if kind is not None else "")
        )
    settings = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in _SETTINGS or name.startswith("ssl_")
    }
    accepts = {
        name
        for cls in kind.__mro__
        if "__init__" in vars(cls)
        for name in inspect.signature(vars(cls)["__init__"]).parameters
    }
    if kind is redis.UnixDomainSocketConnection:
        settings.pop("host", None)
        settings.pop("port", None)
    else:
        settings["socket_connect_timeout"] = timeout
    if "protocol" in accepts:  # RESP2: no HELLO to wait for on connect
        settings["protocol"] = 2
    if "driver_info" in accepts:  # redis-py 7.1 and later
        settings["driver_info"] = None
    elif "lib_name" in accepts:  # 5.0 to 7.0
        settings.update(lib_name=None, lib_version=None)
    retry = importlib.import_module("redis.retry").Retry
    no_backoff = importlib.import_module("redis.backoff").NoBackoff
    settings.update(socket_timeout=timeout, retry=retry(no_backoff(), 0))
    return kind, settings


def _address(settings: dict[str, Any]) -> str:
    if settings.get("path"):
        where = str(settings["path"])
    else:
        where = f"{settings.get('host', 'localhost')}:{settings.get('port', 6379)}"
    return f"{where}/{settings.get('db', 0)}"


def _why(exc: BaseException) -> str:
    from compat._redact import redact_text

    text = redact_text(str(exc))[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class RedisState:
    """The state calls through a policy share (per-target cooldown, pacing, slow start,
    outage hold, and the retry budget), kept in Redis for every process that uses the
    same server and ``prefix``::

        state = compat.RedisState.from_url("redis://redis.internal:6379/0")
        client = compat.wrap(openai.AsyncOpenAI(), compat.RetryPolicy(state=state))

    *client* is a ``redis.Redis``: the state connects to the server, database and
    credentials it is set up for, through connections of its own with its own timeouts.
    *timeout* bounds each wait for Redis (and each connect); *ttl* is how long an idle
    target's record is kept; *rejoin_after* how often Redis is tried again after it
    failed; *clock* ``"redis"`` (the server's clock) or ``"caller"`` (the times the
    engine passes: one host only, for tests). Sync and asyncio calls may share one
    state; asyncio calls reach Redis through a few threads of the state's own (at most
    *workers*), so that a slow Redis never blocks an event loop. *coalesce* lets one
    call of this process ask Redis for all its calls told to wait (off: each asks).

    :attr:`round_trips` counts the commands sent to Redis, :attr:`fallbacks` the
    operations answered by the local fallback instead.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "compat",
        timeout: float = 0.25,
        ttl: float = 3600.0,
        rejoin_after: float = 1.0,
        clock: str = "redis",
        workers: int = 8,
        coalesce: bool = True,
    ) -> None:
        redis = _redis()
        if clock not in ("redis", "caller"):
            raise ValueError(f"clock must be 'redis' or 'caller', not {clock!r}")
        if not (timeout > 0):
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        if not (ttl > 0):
            raise ValueError(f"ttl must be positive, not {ttl!r}")
        if not (rejoin_after >= 0):
            raise ValueError(f"rejoin_after must be at least 0, not {rejoin_after!r}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers!r}")
        self.client = client
        self.prefix = prefix
        self.timeout = float(timeout)
        self.ttl = float(ttl)
        self.rejoin_after = float(rejoin_after)
        self.clock = clock
        self.workers = workers
        self.coalesce = coalesce
        self.round_trips = 0
        self.fallbacks = 0
        self._redis = redis
        self._kind, self._settings = _connections(redis, client, self.timeout)
        self._where = _address(self._settings)
        self._idle: list[Any] = []  # connections ready for a command
        self._pid = os.getpid()
        self._text, self._sha = script()
        self._loaded = False  # whether the server was sent the script (as far as we know)
        self._budget_key = f"{prefix}:budget"
        self._local = LocalState()
        self._waiting: dict[str, _Waiting] = {}  # targets whose calls are told to wait
        self._asks: dict[str, list[_Ask]] = {}  # reservations waiting for a round trip
        self._sending: set[str] = set()  # targets with a round trip on its way
        self._asks_pid = os.getpid()
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0
        self._changed_at = -math.inf  # when Redis last went away or came back
        self._probing = False  # an operation is trying Redis again
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._executor_pid = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "compat",
        timeout: float = 0.25,
        ttl: float = 3600.0,
        rejoin_after: float = 1.0,
        clock: str = "redis",
        workers: int = 8,
        coalesce: bool = True,
        **options: Any,
    ) -> RedisState:
        """A state on the Redis server at *url* (``redis://``, ``rediss://``,
        ``unix://``); *options* go to ``redis.Redis.from_url``."""
        client = _redis().Redis.from_url(url, **options)
        return cls(
            client,
            prefix=prefix,
            timeout=timeout,
            ttl=ttl,
            rejoin_after=rejoin_after,
            clock=clock,
            workers=workers,
            coalesce=coalesce,
        )

    def __repr__(self) -> str:
        shared = "unavailable, local until it is back" if self._down else "shared"
        return f"RedisState({self._where}, prefix={self.prefix!r}, {shared})"

    def close(self) -> None:
        """Stop the state's threads and close its connections."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None and self._executor_pid == os.getpid():
            executor.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.disconnect()

    # ------------------------------------------------------------------ talking to Redis

    def key(self, target: Hashable) -> str:
        """The Redis key of *target*'s record: the prefix and a SHA-256 of its ``repr``
        (so a target must have the same ``repr`` in every process: strings, tuples,
        :class:`compat.Target` do)."""
        digest = hashlib.sha256(repr(target).encode("utf-8", "backslashreplace")).hexdigest()
        return f"{self.prefix}:target:{digest[:32]}"

    def _checkout(self, deadline: float) -> Any:
        """A connection ready for a command: an idle one still in step, or a new one,
        connected within *deadline*."""
        pid = os.getpid()
        with self._lock:
            if self._pid != pid:  # forked: the parent's sockets are not this process's
                self._idle, self._pid = [], pid
            connection = self._idle.pop() if self._idle else None
        if connection is not None:
            try:
                stale = connection.can_read(timeout=0)  # an answer or EOF nobody asked for
            except Exception:  # noqa: BLE001 - closed by the server: connect again
                stale = True
            if not stale:
                return connection
            connection.disconnect()
        else:
            connection = self._kind(**self._settings)
        if "socket_connect_timeout" in self._settings:
            connection.socket_connect_timeout = max(deadline - time.monotonic(), 0.001)
        connection.connect()
        return connection

    def _command(self, deadline: float, *args: Any) -> Any:
        """Send one command and read its answer, or raise; never wait past *deadline*."""
        connection = self._checkout(deadline)
        try:
            with self._lock:
                self.round_trips += 1
            connection.send_command(*args)
            # A busy process may run this thread late: an answer already there counts
            # as in time (a zero timeout only looks).
            if not connection.can_read(timeout=max(deadline - time.monotonic(), 0.0)):
                raise _NoAnswer("Redis did not answer in time")
            reply = connection.read_response()
        except self._redis.ResponseError:
            self._checkin(connection)  # an error answer: the connection is still in step
            raise
        except BaseException:
            connection.disconnect()  # an answer may still come: not to be read by another
            raise
        self._checkin(connection)
        return reply

    def _checkin(self, connection: Any) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._idle.append(connection)

    def _eval(self, deadline: float, keys: Sequence[str], args: Sequence[str]) -> Any:
        if self._loaded:
            try:
                return self._command(deadline, "EVALSHA", self._sha, len(keys), *keys, *args)
            except self._redis.exceptions.NoScriptError:
                pass  # a restarted or flushed server: send the script again
        # EVAL runs the script and caches it under its SHA for the EVALSHAs to come.
        reply = self._command(deadline, "EVAL", self._text, len(keys), *keys, *args)
        self._loaded = True
        return reply

    def _head(self, now: float, limits: Limits) -> tuple[str, ...]:
        return (
            "" if self.clock == "redis" else repr(float(now)),
            repr(self.ttl * 1000.0),
            str(int(limits.probe_concurrency)),
            repr(float(limits.probe_window)),
            "1" if limits.hold else "0",
        )

    def _available(self) -> bool:
        """Whether Redis may be asked now (up, or time to try it again)."""
        return not self._down or time.monotonic() >= self._retry_at

    def _shared(self, bound: float, shared: Callable[[float], T], local: Callable[[], T]) -> T:
        """*shared* on Redis within *bound* seconds; *local* when Redis fails or is down.

        While Redis is down, one operation at a time tries it again, every
        ``rejoin_after`` seconds; the others are answered locally meanwhile."""
        probing = False
        if self._down:
            with self._lock:
                if self._down and time.monotonic() >= self._retry_at and not self._probing:
                    self._probing = probing = True
        if probing or not self._down:
            started = time.monotonic()
            try:
                result = shared(started + bound)
            except Exception as exc:  # noqa: BLE001 - Redis must never make a call fail
                timed_out = isinstance(exc, (_NoAnswer, socket.timeout, self._redis.TimeoutError))
                if not (timed_out and bound < self.timeout):
                    self._lost(exc, started)
                # else: the call's own deadline was shorter than Redis's timeout: not a fault
            else:
                if self._down:
                    self._back(started)
                return result
            finally:
                if probing:
                    self._probing = False
        with self._lock:
            self.fallbacks += 1
        return local()

    def _lost(self, exc: BaseException, started: float) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self.rejoin_after
            if self._down or started < self._changed_at:
                return  # already down, or a failure older than Redis's coming back
            self._down = True
            self._changed_at = time.monotonic()
        log.warning(
            "the Redis state at %s is unavailable (%s); calls go on with this"
            " process's own pacing, cooldowns and retry budget until it answers again",
            self._where,
            _why(exc),
        )

    def _back(self, started: float) -> None:
        with self._lock:
            if not self._down or started < self._changed_at:
                return  # already back, or an answer older than Redis's going away
            self._down = False
            self._changed_at = time.monotonic()
        log.info("the Redis state at %s answers again: calls share it again", self._where)

    def _bound(self) -> float:
        """How long the calling call's report, release or budget operation may wait for
        Redis: what its reservation was allowed to wait and is left, at least
        :data:`MIN_WAIT_FOR_REPORT`, at most :attr:`timeout`."""
        left = _call_ends.get() - time.monotonic()
        return min(self.timeout, max(left, MIN_WAIT_FOR_REPORT))

    # ------------------------------------------------------------------ targets

    def acquire(
        self, key: Hashable, now: float, limits: Limits, max_wait: float, tokens: float = 0.0
    ) -> tuple[int, float, str, int]:
        """:func:`compat.retry.pacing.acquire` on *key*'s record, in one round trip (shared
        with the other calls of this process asking for *key* at the same time)."""
        started = time.monotonic()
        _call_ends.set(started + max_wait)
        name = self.key(key)
        waiting = self._told_to_wait(name, now, max_wait)
        if waiting is not None:
            return waiting
        ask = _Ask(now, limits, max_wait, tokens, started)
        if not self.coalesce or not self._available():
            return self._acquire_one(key, name, ask)
        if self._queue(name, ask) and self._send_one(key, name):
            # This thread sent its own batch; the calls queued meanwhile go from another.
            self._start_sending(key, name)
        try:
            return ask.future.result(timeout=self._patience(ask))
        except concurrent.futures.TimeoutError:
            return self._gave_up(key, name, ask)

    def acquire_many(
        self, key: Hashable, now: float, limits: Limits, asks: Sequence[tuple[float, float]]
    ) -> list[tuple[int, float, str, int]]:
        """Several reservations on *key*, each a ``(max_wait, tokens)``, in one round trip:
        answered as :func:`compat.retry.pacing.acquire` answers them one after another.
        (What calls of this process asking together are sent as.)"""
        if not asks:
            return []
        started = time.monotonic()
        return self._acquire_all(
            key, self.key(key), [_Ask(now, limits, wait, tokens, started) for wait, tokens in asks]
        )

    def _acquire_all(
        self, key: Hashable, name: str, asks: list[_Ask]
    ) -> list[tuple[int, float, str, int]]:
        """One round trip for *asks* (calls with the same limits), in order; each answered
        here instead when Redis fails."""
        started = time.monotonic()
        now = max(ask.now for ask in asks)
        limits = asks[0].limits
        # What each may still wait: its own allowance, less its time in the queue.
        lefts = [
            ask.max_wait
            if ask.queued_at is None
            else max(ask.max_wait - (started - ask.queued_at), 0.0)
            for ask in asks
        ]

        def shared(deadline: float) -> list[tuple[int, float, str, int]]:
            pairs = [
                text
                for ask, left in zip(asks, lefts)
                for text in (_number(left), _number(ask.tokens))
            ]
            reply = self._eval(deadline, (name,), ("acquire", *self._head(now, limits), *pairs))
            answers = []
            for i, left in enumerate(lefts):
                verdict, wait = int(float(reply[4 * i])), float(reply[4 * i + 1])
                if verdict != pacing.REFUSE and self.clock == "redis":
                    # The wait counts from when the script read the server's clock; the
                    # answer's way back took some of the time the call may wait. (With
                    # the caller's clock, waits count from its `now`, as pacing.py's.)
                    wait = min(wait, max(left - (time.monotonic() - started), 0.0))
                answers.append(
                    (verdict, wait, _text(reply[4 * i + 2]), int(float(reply[4 * i + 3])))
                )
            return answers

        def local() -> list[tuple[int, float, str, int]]:
            return [self._local_acquire(key, ask) for ask in asks]

        bound = min(self.timeout, max(max(lefts), MIN_WAIT_FOR_REDIS))
        answers = [(pacing.REFUSE, 0.0, "", 0)] * len(asks)
        try:
            answers = self._shared(bound, shared, local)
        finally:
            if self.coalesce:
                self._heard(name, now + (time.monotonic() - started), answers[-1])
        return answers

    def _local_acquire(self, key: Hashable, ask: _Ask) -> tuple[int, float, str, int]:
        """*ask* answered by this process's own state."""
        spent = time.monotonic() - ask.started
        verdict, wait, why, ticket = self._local.acquire(
            key, ask.now + spent, ask.limits, max(ask.max_wait - spent, 0.0), ask.tokens
        )
        return verdict, wait, why, ticket | LOCAL_TICKET if verdict == pacing.GO else 0

    def _queue(self, name: str, ask: _Ask) -> bool:
        """Put *ask* in *name*'s queue. True when no round trip for *name* is on its way:
        the caller then starts sending (else the one on its way sends the queue next)."""
        pid = os.getpid()
        with self._lock:
            if self._asks_pid != pid:  # forked: the parent's queues have no sender here
                self._asks, self._sending, self._asks_pid = {}, set(), pid
            ask.queued_at = time.monotonic()
            self._asks.setdefault(name, []).append(ask)
            if name in self._sending:
                return False
            self._sending.add(name)
            return True

    def _start_sending(self, key: Hashable, name: str) -> None:
        """Send *name*'s queue from one of the state's threads; from this one when no
        thread can be had (an interpreter shutting down, a closed state)."""
        try:
            self._threads().submit(self._send, key, name)
        except RuntimeError:
            while self._send_one(key, name):
                pass

    def _send(self, key: Hashable, name: str) -> None:
        """Send a batch of *name*'s queue; the calls queued meanwhile go in a batch of
        their own, sent after what is waiting for the state's threads (the reports)."""
        if self._send_one(key, name):
            self._start_sending(key, name)

    def _send_one(self, key: Hashable, name: str) -> bool:
        """Send one batch of *name*'s queue: up to :data:`BATCH` calls with the limits of
        the first in the queue. Returns whether more are queued (else *name* no longer
        has a round trip on its way)."""
        batch: list[_Ask] = []
        try:
            with self._lock:
                queue = self._asks.get(name, [])
                if queue:
                    first = queue[0]
                    batch = [ask for ask in queue if ask.same_limits(first)][:BATCH]
                    taken = {id(ask) for ask in batch}
                    queue[:] = [ask for ask in queue if id(ask) not in taken]
            # A call that stopped waiting before its turn is not sent.
            batch = [ask for ask in batch if ask.future.set_running_or_notify_cancel()]
            if batch:
                for ask, answer in zip(batch, self._acquire_all(key, name, batch)):
                    ask.future.set_result(answer)
                batch = []
            with self._lock:
                if self._asks.get(name):
                    return True
                self._asks.pop(name, None)
                self._sending.discard(name)
                return False
        except BaseException as exc:  # pragma: no cover - _acquire_all answers locally
            with self._lock:
                left = self._asks.pop(name, [])
                self._sending.discard(name)
            for ask in batch:
                ask.future.set_exception(exc)
            for ask in left:
                if ask.future.set_running_or_notify_cancel():
                    ask.future.set_exception(exc)
            raise

    def _patience(self, ask: _Ask) -> float:
        """How long a queued call waits for its answer: what it may still wait (at least
        :data:`MIN_WAIT_FOR_REDIS`), and no more than two round trips' timeouts (the one
        on its way when it was queued, and its own)."""
        left = ask.max_wait - (time.monotonic() - ask.started)
        return min(2 * self.timeout, max(left, MIN_WAIT_FOR_REDIS))

    def _gave_up(self, key: Hashable, name: str, ask: _Ask) -> tuple[int, float, str, int]:
        """A queued call that waited for its answer as long as it may: answered by this
        process's state (a slot Redis still grants it is given back)."""
        if ask.future.done() and not ask.future.cancelled():
            return ask.future.result()
        self._abandon(key, name, ask)
        with self._lock:
            self.fallbacks += 1
        return self._local_acquire(key, ask)

    def _abandon(self, key: Hashable, name: str, ask: _Ask) -> None:
        """The call of *ask* no longer waits for it: unsent, it is not sent; sent, the
        slot it is granted is given back."""
        ask.future.cancel()
        give_back = functools.partial(
            self._give_back, key, name, ask.limits, ask.tokens, self._bound()
        )
        ask.future.add_done_callback(functools.partial(self._later, give_back))

    def _told_to_wait(
        self, name: str, now: float, max_wait: float
    ) -> tuple[int, float, str, int] | None:
        """Ask again later, without a round trip, when Redis told another call of this
        process to (or that call is asking again right now); ``None`` to ask Redis.
        Times are the engine's (*now*), so that :func:`compat.retry_testing` moves them."""
        if not self.coalesce or max_wait <= 0:
            return None
        with self._lock:
            waiting = self._waiting.get(name)
            if waiting is None:
                return None
            # An asker that has not heard back within a timeout and a poll is lost (its
            # call was cancelled before it asked): another asks.
            asking = waiting.asking and now - waiting.asked_at < self.timeout + pacing.PROBE_POLL
            if now >= waiting.until and not asking:
                waiting.ask(now)  # this call asks for all of them
                return None
            wait = waiting.until - now if now < waiting.until else pacing.PROBE_POLL
            wait = max(wait, 0.0)
            why = waiting.why
        return pacing.AGAIN, min(wait, max_wait), why, 0

    def _heard(self, name: str, now: float, answer: tuple[int, float, str, int]) -> None:
        verdict, wait, why, _ = answer
        with self._lock:
            if verdict == pacing.AGAIN:
                if len(self._waiting) >= 4096:
                    self._waiting.clear()
                self._waiting[name] = _Waiting(now + wait, why)
            else:
                self._waiting.pop(name, None)

    def _news(self, key: Hashable) -> None:
        """A slot was given back or an answer learned from: calls told to wait for
        *key* ask Redis again at their next turn."""
        if self._waiting:
            with self._lock:
                self._waiting.pop(self.key(key), None)

    def release(self, key: Hashable, limits: Limits, ticket: int, tokens: float = 0.0) -> None:
        """:func:`compat.retry.pacing.release` where the slot was granted."""
        self._release(key, limits, ticket, tokens, self._bound())

    def _release(
        self, key: Hashable, limits: Limits, ticket: int, tokens: float, bound: float
    ) -> None:
        self._news(key)
        if ticket & LOCAL_TICKET:
            self._local.release(key, limits, ticket & ~LOCAL_TICKET, tokens)
            return

        def shared(deadline: float) -> None:
            self._eval(
                deadline,
                (self.key(key),),
                ("release", *self._head(time.monotonic(), limits), str(ticket), _number(tokens)),
            )

        self._shared(bound, shared, lambda: None)  # a slot in Redis ends with its lease

    def report(
        self,
        key: Hashable,
        now: float,
        limits: Limits,
        seen: Observation,
        ticket: int,
        budget: tuple[float, float] | None = None,
    ) -> tuple[bool, float]:
        """:func:`compat.retry.pacing.report` on *key*'s record and, for a success, the
        budget credited: one round trip. Returns whether the target is held for an
        outage and the budget's tokens left."""
        return self._report(key, now, limits, seen, ticket, budget, self._bound())

    def _report(
        self,
        key: Hashable,
        now: float,
        limits: Limits,
        seen: Observation,
        ticket: int,
        budget: tuple[float, float] | None,
        bound: float,
    ) -> tuple[bool, float]:
        self._news(key)
        local_ticket = ticket & ~LOCAL_TICKET if ticket & LOCAL_TICKET else 0
        shared_ticket = 0 if ticket & LOCAL_TICKET else ticket

        def shared(deadline: float) -> tuple[bool, float]:
            capacity, refill = budget if budget is not None else (None, None)
            reply = self._eval(
                deadline,
                (self.key(key), self._budget_key),
                (
                    "report",
                    *self._head(now, limits),
                    str(shared_ticket),
                    str(int(seen.outcome)),
                    _number(seen.retry_after),
                    "1" if seen.coarse else "0",
                    _number(seen.limit_requests),
                    _number(seen.remaining_requests),
                    _number(seen.reset_requests),
                    _number(seen.limit_tokens),
                    _number(seen.remaining_tokens),
                    _number(seen.reset_tokens),
                    _number(seen.tokens),
                    _number(seen.tokens_used),
                    _number(seen.tpm[0] if seen.tpm is not None else None),
                    _number(seen.tpm[1] if seen.tpm is not None else None),
                    _number(capacity),
                    _number(refill),
                ),
            )
            if local_ticket:
                # The slow start's and the probe's local slots; the pace slot was used.
                self._local.release(key, limits, local_ticket & ~pacing.PACED)
            return _text(reply[0]) == "1", float(reply[1])

        def local() -> tuple[bool, float]:
            return self._local.report(key, now, limits, seen, local_ticket, budget)

        return self._shared(bound, shared, local)

    def target(self, key: Hashable) -> TargetState | None:
        """The record of *key* as Redis holds it (for inspection), or ``None``; raises
        what redis-py raises when Redis cannot be reached."""
        deadline = time.monotonic() + self.timeout
        flat = self._command(deadline, "HGETALL", self.key(key))
        if isinstance(flat, dict):  # RESP3
            flat = [item for pair in flat.items() for item in pair]
        if not flat:
            return None
        record = TargetState()
        for name, value in zip(flat[::2], flat[1::2]):
            field = _text(name)
            if field in TargetState.__slots__:
                number = float(_text(value))
                is_int = isinstance(getattr(record, field), int)
                setattr(record, field, int(number) if is_int else number)
        return record

    # ------------------------------------------------------------------ budget

    def budget_tokens(self, capacity: float) -> float:
        """Retry tokens left under a budget of *capacity*."""

        def shared(deadline: float) -> float:
            stored = self._command(deadline, "GET", self._budget_key)
            budget = -1.0 if stored is None else float(_text(stored))
            return capacity if budget < 0 else min(budget, capacity)

        return self._shared(self._bound(), shared, lambda: self._local.budget_tokens(capacity))

    def budget_take(self, capacity: float) -> bool:
        """Spend one retry token; ``False`` (nothing spent) when fewer than one is left."""
        return self._take(capacity, self._bound())

    def _take(self, capacity: float, bound: float) -> bool:
        def shared(deadline: float) -> bool:
            reply = self._eval(deadline, (self._budget_key,), ("take", _number(capacity)))
            return int(reply) == 1

        return self._shared(bound, shared, lambda: self._local.budget_take(capacity))

    def budget_give(self, capacity: float, refill: float) -> None:
        """Credit a success with *refill* tokens, up to *capacity*."""
        self._give(capacity, refill, self._bound())

    def _give(self, capacity: float, refill: float, bound: float) -> None:
        def shared(deadline: float) -> None:
            self._eval(deadline, (self._budget_key,), ("give", _number(capacity), _number(refill)))

        self._shared(bound, shared, lambda: self._local.budget_give(capacity, refill))

    # ------------------------------------------------------------------ asyncio twins
    # A Redis round trip runs in one of the state's threads, bounded by the time the
    # task's call has left; when Redis is known to be down, the local answer comes at
    # once, without a thread.

    def _threads(self) -> concurrent.futures.ThreadPoolExecutor:
        pid = os.getpid()
        with self._lock:
            if self._executor is None or self._executor_pid != pid:  # none yet, or forked
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="compat-redis"
                )
                self._executor_pid = pid
            return self._executor

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if not self._available():
            return fn(*args)
        return await asyncio.wrap_future(self._threads().submit(fn, *args))

    async def aacquire(
        self, key: Hashable, now: float, limits: Limits, max_wait: float, tokens: float = 0.0
    ) -> tuple[int, float, str, int]:
        started = time.monotonic()
        _call_ends.set(started + max_wait)
        name = self.key(key)
        waiting = self._told_to_wait(name, now, max_wait)
        if waiting is not None:
            return waiting
        ask = _Ask(now, limits, max_wait, tokens, started)
        if not self._available():
            return self._acquire_one(key, name, ask)
        if self.coalesce:
            if self._queue(name, ask):
                self._start_sending(key, name)
        else:
            ask.future = self._threads().submit(self._acquire_one, key, name, ask)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(ask.future), self._patience(ask))
        except asyncio.TimeoutError:
            return self._gave_up(key, name, ask)
        except asyncio.CancelledError:
            # Cancelled while Redis answered: give back the slot it may have granted.
            self._abandon(key, name, ask)
            raise

    def _acquire_one(self, key: Hashable, name: str, ask: _Ask) -> tuple[int, float, str, int]:
        return self._acquire_all(key, name, [ask])[0]

    def _later(
        self,
        give_back: Callable[[concurrent.futures.Future[tuple[int, float, str, int]]], None],
        future: concurrent.futures.Future[tuple[int, float, str, int]],
    ) -> None:
        """*give_back*, from one of the state's threads: not in the sender of a batch (the
        calls after this one wait for their answers) nor in an event loop."""
        if future.cancelled():
            give_back(future)  # no round trip
            return
        try:
            self._threads().submit(give_back, future)
        except RuntimeError:
            give_back(future)

    def _give_back(
        self,
        key: Hashable,
        name: str,
        limits: Limits,
        tokens: float,
        bound: float,
        future: concurrent.futures.Future[tuple[int, float, str, int]],
    ) -> None:
        if future.cancelled():  # never asked: let another call of this process ask
            with self._lock:
                waiting = self._waiting.get(name)
                if waiting is not None:
                    waiting.asking = False
            return
        if future.exception() is not None:
            return
        verdict, _, _, ticket = future.result()
        if verdict == pacing.GO and (ticket or tokens):
            self._release(key, limits, ticket, tokens, bound)

    async def arelease(
        self, key: Hashable, limits: Limits, ticket: int, tokens: float = 0.0
    ) -> None:
        bound = self._bound()
        if ticket & LOCAL_TICKET:
            self._release(key, limits, ticket, tokens, bound)
            return
        await self._in_thread(self._release, key, limits, ticket, tokens, bound)

    async def areport(
        self,
        key: Hashable,
        now: float,
        limits: Limits,
        seen: Observation,
        ticket: int,
        budget: tuple[float, float] | None = None,
    ) -> tuple[bool, float]:
        bound = self._bound()
        return await self._in_thread(self._report, key, now, limits, seen, ticket, budget, bound)

    async def abudget_take(self, capacity: float) -> bool:
        return await self._in_thread(self._take, capacity, self._bound())

    async def abudget_give(self, capacity: float, refill: float) -> None:
        await self._in_thread(self._give, capacity, refill, self._bound())
