"""Retry quality in worlds of rate limits: compat against the SDK's and other libraries' retries.

Run: python benchmarks/retry_quality.py [--quick] [--repeats 3] [--strategies ...]
                                         [--modes precise,integer,message] [--outage 20]
                                         [--worlds noise,slow,tokens] [--json RESULTS.json]
     (every world's sizes have flags of their own: --help lists them)

Concurrent calls go through the real ``openai.AsyncOpenAI`` to compat's fault
server (``python -m compat serve``, in a process of its own). Every figure is
the median and range of ``--repeats`` runs; strategies take turns within each
repeat, so that the machine's drift falls on all of them alike. The worlds:

* precise, integer, message: N calls at once against a token bucket whose 429s
  tell their wait in headers, in whole seconds only, or only in the message;
  time is given over the ideal (N - burst) / rate.
* outage: every call starts during a full 503 outage; strategies side by side,
  each in a process of its own against a server of its own.
* noise: a steady load (M calls, C at a time, each success taking 0.25 s, as a
  model's answer does, so that the load is bound by that rather than by how busy
  the machine is) at a capacity it never reaches, with about 10 % stray 429s that
  reveal no limit and ask for 15-20 ms; the same load without them runs beside
  it, and successes per second are given against it. Beside the others runs the
  barest retry that honours the server's wait (``bare``): retry a retryable failure
  after exactly the wait asked for, nothing more.
* slow: x-ratelimit-* headers reveal a limit far below N calls at once, and each
  call has a deadline shorter than the queue: successes, failures, and how late
  calls end past their deadline (max and p99). compat's policy gets ``deadline=``;
  the SDK its ``timeout=``, tenacity ``stop_after_delay``, stamina ``timeout=``.
* tokens: a tokens-per-minute limit charged as OpenAI does, enforced over each
  second, scaled so that the calls' tokens take about 20 s; N calls of mixed sizes
  (seeded); ideal = total tokens / TPM. Calls still running at 4 times the ideal
  are stopped and counted as unfinished. Beside the others runs a
  reimplementation of the approach of the OpenAI cookbook's
  api_request_parallel_processor.py (``cookbook``).

Every world also gives successes per second, and compares compat's with the
SDK's without retries (``sdk0``). Where all calls start at once, successes are
counted per second of the longer of the run and the world's floor (the ideal
time, the outage, the deadline): a strategy that gives up at once has not
delivered its successes any faster. Under the noise world's steady load the
floor is 0: successes per second of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

import compat

MESSAGES = [{"role": "user", "content": "hi"}]
#: compat's targets per header mode: (most time / ideal, most wasted 429s per call).
TARGETS = {
    "precise": (1.05, 0.10),
    "integer": (1.15, float("inf")),
    "message": (1.05, float("inf")),
}
#: compat's target in the noise world: successes per second against the same load
#: without the stray 429s.
NOISE_TARGET = 0.90
Params = dict[str, Any]
Call = Callable[[Params], Awaitable[Any]]
STRATEGIES = (
    "compat",
    "compat-failfast",
    "sdk",
    "sdk0",
    "sdk10",
    "tenacity",
    "stamina",
    "cookbook",
    "bare",
)
#: Who runs in which world: the cookbook's approach needs a known token limit, so it runs
#: in the token world only; there the SDK with 10 retries gives way to it.
EVERYWHERE = ("compat", "sdk", "sdk0", "sdk10", "tenacity", "stamina")
#: compat-failfast runs in the outage only (elsewhere it is compat).
IN_TOKENS = ("compat", "sdk", "sdk0", "tenacity", "stamina", "cookbook")
#: The noise world adds the barest retry that honours the server (``bare``): what any
#: strategy that retries the stray 429s and waits as asked pays there, beside sdk0.
IN_NOISE = (*EVERYWHERE, "bare")
#: The sizes of --quick: every world small, a minute or two in all.
QUICK = {
    "calls": 30,
    "repeats": 1,
    "outage": 5.0,
    "noise_calls": 100,
    "noise_latency": 0.1,
    "slow_calls": 16,
    "slow_rate": 4.0,
    "slow_burst": 4.0,
    "slow_deadline": 1.5,
    "token_calls": 50,
    "token_seconds": 3.0,
}


# ---------------------------------------------------------------------- the cookbook's approach


def cookbook_tokens(params: Params) -> int:
    """A request's tokens as the cookbook's script estimates them before sending: the
    prompt plus ``max_tokens`` times ``n``. The prompt is counted at 4 characters a token
    (the script counts with tiktoken; the fault server charges 4 characters a token, and
    an estimate that matches the server's is the approach at its best)."""
    characters = sum(len(str(m.get("content", ""))) for m in params.get("messages", ()))
    completion = int(params.get("max_tokens") or 15) * int(params.get("n") or 1)
    return math.ceil(characters / 4) + completion


class Cookbook:
    """The approach of the OpenAI cookbook's ``api_request_parallel_processor.py``,
    reimplemented around one client: request and token capacity, each starting at one
    minute's worth and refilling per second up to it; each request, in turn, waits until
    both cover it, reserves them and is sent; after a 429 every request pauses 15 s;
    a failed request is tried again, up to 5 attempts in all. It is told the server's
    true tokens-per-minute limit and a request limit that never binds (the server has
    none), where the script's users set theirs by hand.

    The script (https://github.com/openai/openai-cookbook/blob/main/examples/
    api_request_parallel_processor.py) tells a rate limit by ``error.code == "429"``,
    which Azure's 429s carry and OpenAI's ("rate_limit_exceeded") do not; this pauses
    after any 429, as the approach means to.
    """

    PAUSE_AFTER_RATE_LIMIT = 15.0
    ATTEMPTS = 5
    LOOP_SLEEP = 0.001

    def __init__(self, client: Any, requests_per_minute: float, tokens_per_minute: float) -> None:
        self.client = client
        self.rpm, self.tpm = requests_per_minute, tokens_per_minute
        self.requests, self.tokens = requests_per_minute, tokens_per_minute
        self.stamp = time.monotonic()
        self.last_rate_limit = -math.inf
        self.turn = asyncio.Lock()  # requests reserve capacity one at a time, in order

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed, self.stamp = now - self.stamp, now
        self.requests = min(self.rpm, self.requests + self.rpm * elapsed / 60)
        self.tokens = min(self.tpm, self.tokens + self.tpm * elapsed / 60)

    async def _reserve(self, cost: int) -> None:
        async with self.turn:
            while True:
                pause = self.last_rate_limit + self.PAUSE_AFTER_RATE_LIMIT - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                    continue
                self._refill()
                if self.requests >= 1 and self.tokens >= cost:
                    self.requests -= 1
                    self.tokens -= cost
                    return
                await asyncio.sleep(self.LOOP_SLEEP)

    async def __call__(self, params: Params) -> Any:
        cost = cookbook_tokens(params)
        failure: Exception | None = None
        for _ in range(self.ATTEMPTS):
            await self._reserve(cost)
            try:
                return await self.client.chat.completions.create(**params)
            except openai.RateLimitError as exc:
                self.last_rate_limit = time.monotonic()
                failure = exc
            except openai.APIError as exc:
                failure = exc
        assert failure is not None
        raise failure


# ---------------------------------------------------------------------- strategies


def make_strategy(name: str, base_url: str, world: dict[str, Any]) -> tuple[Call, Any]:
    """A coroutine function making one call under *name*, and its raw client.

    With a ``deadline`` in *world*, each strategy bounds a call by its own means: compat's
    policy ``deadline=``, the SDK's ``timeout=``, tenacity's ``stop_after_delay``,
    stamina's ``timeout=``.
    """
    if name not in STRATEGIES:
        raise ValueError(name)
    deadline = world.get("deadline")
    # The SDK's own retries for "sdk" (its default), "sdk0" and "sdk10"; none under the
    # others (compat.wrap turns them off itself).
    retries = {"sdk0": 0, "sdk10": 10, "tenacity": 0, "stamina": 0, "cookbook": 0, "bare": 0}.get(
        name, 2
    )
    options: dict[str, Any] = {"max_retries": retries}
    if deadline is not None and name.startswith("sdk"):
        options["timeout"] = deadline
    raw = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", **options)
    if name.startswith("compat"):
        # compat-failfast: holding calls through an outage off, as compat did before it held.
        policy = compat.RetryPolicy(
            hold=name == "compat", **({} if deadline is None else {"deadline": deadline})
        )
        client = compat.wrap(raw, policy)
    else:
        client = raw

    async def call(params: Params) -> Any:
        return await client.chat.completions.create(**params)

    if name == "tenacity":
        import tenacity

        # The OpenAI cookbook's recipe; with a deadline, its stop_after_delay too.
        stop: Any = tenacity.stop_after_attempt(6)
        if deadline is not None:
            stop = stop | tenacity.stop_after_delay(deadline)
        call = tenacity.retry(wait=tenacity.wait_random_exponential(min=1, max=60), stop=stop)(call)
    elif name == "stamina":
        import stamina
        import stamina.instrumentation

        stamina.instrumentation.set_on_retry_hooks([])  # its default hook prints every retry
        call = stamina.retry(
            on=(openai.RateLimitError, openai.InternalServerError),
            **({} if deadline is None else {"timeout": deadline}),
        )(call)
    elif name == "cookbook":
        call = Cookbook(raw, world["cookbook_rpm"], world["cookbook_tpm"])
    elif name == "bare":
        call = bare(call)
    return call, raw


def bare(call: Call) -> Callable[[Params], Coroutine[Any, Any, Any]]:
    """The barest retry that honours the server: a retryable failure is retried after
    exactly the wait the server asked for (headers or words, as compat reads them; none
    when it asked none), up to 6 attempts; no backoff, no pacing, no budget."""

    async def retried(params: Params) -> Any:
        for attempt in range(6):
            try:
                return await call(params)
            except Exception as exc:
                error = compat.translate(exc)
                if error is None or not error.retryable or attempt == 5:
                    raise
                await asyncio.sleep(error.retry_after or 0.0)
        raise AssertionError("unreachable")

    return retried


# ---------------------------------------------------------------------- the load


def token_load(calls: int, low: int, high: int, seed: int) -> list[Params]:
    """*calls* chat requests of *low* to *high* tokens each (seeded): a fifth of each is
    ``max_tokens``, the rest prompt at 4 characters a token."""
    rng = random.Random(seed)
    load = []
    for _ in range(calls):
        size = rng.randint(low, high)
        completion = max(1, size // 5)
        words = ("lorem ipsum dolor sit amet " * (size // 4 + 1))[: 4 * (size - completion)]
        load.append(
            {
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": words}],
                "max_tokens": completion,
            }
        )
    return load


def params_of(world: dict[str, Any]) -> list[Params]:
    """The calls of one run of *world*."""
    if "tokens" in world:
        spec = world["tokens"]
        return token_load(spec["calls"], spec["low"], spec["high"], spec["seed"])
    return [{"model": "gpt-4o", "messages": MESSAGES}] * world["calls"]


async def run(call: Call, load: list[Params], world: dict[str, Any]) -> dict[str, Any]:
    """Make every call of *load* (all at once, or ``concurrency`` at a time)."""
    latencies: list[float] = []
    late: list[float] = []
    successes = 0
    failures: dict[str, int] = {}
    deadline = world.get("deadline")
    gate = asyncio.Semaphore(world.get("concurrency") or len(load))

    async def one(params: Params) -> None:
        nonlocal successes
        async with gate:
            started = time.monotonic()
            try:
                await call(params)
            except Exception as exc:
                error = compat.translate(exc)
                name = f"{type(exc).__name__}({error.kind.value})" if error else type(exc).__name__
                failures[name] = failures.get(name, 0) + 1
                return
            finally:
                ended = time.monotonic()
                latencies.append(ended - started)
                if deadline is not None:
                    late.append(ended - (started + deadline))
            successes += 1

    started = time.monotonic()
    tasks = [asyncio.ensure_future(one(params)) for params in load]
    _, pending = await asyncio.wait(tasks, timeout=world.get("cap"))
    for task in pending:  # still running at the cap: stopped, and counted as such
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    elapsed = time.monotonic() - started
    if pending:
        failures["unfinished at the cap"] = len(pending)
    return {
        "elapsed": elapsed,
        "latencies": latencies,
        "late": late,
        "successes": successes,
        "failures": failures,
    }


def control(port: int, path: str, options: dict[str, Any] | None = None) -> Any:
    """The fault server's control endpoints: GET stats, or POST a configuration."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_compat/{path}",
        method="GET" if options is None else "POST",
        data=None if options is None else json.dumps(options).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class Server:
    """compat's fault server in a process of its own (``python -m compat serve``).

    Its own process, so that it does not share a GIL with the client under test;
    each run reconfigures it through its control endpoint.
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compat", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline().strip().rsplit(":", 1)[1])

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))] if ordered else 0.0


def measure(
    name: str, port: int, world: dict[str, Any], ready: Callable[[], None] | None = None
) -> dict[str, Any]:
    """One run of *world* (its calls, the server set by its ``options``) under *name*.

    The raw client makes one call first, on a server without rules: the SDK's first
    call costs over half a second (lazy imports, model building) in any strategy, and
    would otherwise weigh on the figures of runs of a few seconds. compat's pacer
    learns nothing from it: it does not go through compat. *ready*, when given, is
    called after that call and before the server is configured (side-by-side runs
    start together there).
    """
    call, raw = make_strategy(name, f"http://127.0.0.1:{port}/v1", world)
    load = params_of(world)

    async def main() -> dict[str, Any]:
        try:
            control(port, "config", {})
            await raw.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            if ready is not None:
                ready()
            control(port, "config", world["options"])
            return await run(call, load, world)
        finally:
            await raw.close()

    done = asyncio.run(main())
    counts = {int(k): v for k, v in control(port, "stats")["by_status"].items()}
    calls = len(load)
    figures = {
        "elapsed": done["elapsed"],
        "successes": done["successes"],
        "rate": done["successes"] / max(done["elapsed"], world.get("floor", 0.0)),
        "attempts": sum(counts.values()) / calls,
        "wasted": counts.get(429, 0) / calls,
        "p99": percentile(done["latencies"], 0.99),
        "failures": done["failures"],
    }
    if done["late"]:
        figures["late_max"] = max(done["late"])
        figures["late_p99"] = percentile(done["late"], 0.99)
    return figures


def worker(name: str, port: int, world: dict[str, Any]) -> None:
    """One strategy's run for :func:`side_by_side`: say ``ready`` once warmed up, start
    on the next line of standard input, print the figures as JSON."""

    def ready() -> None:
        print("ready", flush=True)
        sys.stdin.readline()

    print(json.dumps(measure(name, port, world, ready)), flush=True)


def side_by_side(strategies: list[str], world: dict[str, Any]) -> dict[str, Any]:
    """One run of every strategy at once, each in a process of its own against a server
    process of its own (``--worker``), all starting together once all are warmed up.

    Used where clients mostly wait (an outage, a token limit): run one after the
    other, their strategies would take minutes per repeat.
    """
    servers = [Server() for _ in strategies]
    workers: list[subprocess.Popen[str]] = []
    try:
        for name, server in zip(strategies, servers):
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--worker",
                        name,
                        "--port",
                        str(server.port),
                        "--world",
                        json.dumps(world),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for name, process in zip(strategies, workers):
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {name} worker failed before it was ready")
        for process in workers:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = {}
        for name, process in zip(strategies, workers):
            out, _ = process.communicate()
            if process.returncode:
                raise RuntimeError(f"the {name} worker failed with exit code {process.returncode}")
            results[name] = json.loads(out)
        return results
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
        for server in servers:
            server.close()


# ---------------------------------------------------------------------- showing


def spread(values: list[float], width: int, digits: int = 2) -> str:
    """Median and range of *values*: ``1.06 (1.04-1.09)``, or one figure for one run."""
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:{width}.{digits}f}"
    text = f"{median:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
    return f"{text:>{width}}"


def successes(values: list[int], calls: int, width: int) -> str:
    """Calls that succeeded: ``300/300``, with the range when the runs differ."""
    text = f"{statistics.median(values):g}/{calls}"
    if min(values) != max(values):
        text += f" ({min(values)}-{max(values)})"
    return f"{text:>{width}}"


def failures_note(runs: list[dict[str, Any]]) -> str:
    """What the failed calls of *runs* were, summed over the runs."""
    total: dict[str, int] = {}
    for r in runs:
        for name, count in r["failures"].items():
            total[name] = total.get(name, 0) + count
    return ", ".join(f"{name}: {count}" for name, count in sorted(total.items()))


#: A column: its title, its width, what it shows of one run, and its digits.
Column = tuple[str, int, Callable[[dict[str, Any]], float], int]


def table(
    title: str,
    strategies: list[str],
    runs: dict[str, list[dict[str, Any]]],
    calls: int,
    columns: list[Column],
) -> None:
    """Print one world's table: per strategy, each column's median and range over runs,
    and the calls that succeeded."""
    print(title)
    head = f"  {'strategy':<15} {'success':>15}"
    for name, width, _, _ in columns:
        head += f" {name:>{width}}"
    print(head)
    for name in strategies:
        rs = runs[name]
        line = f"  {name:<15} {successes([r['successes'] for r in rs], calls, 15)}"
        for _, width, figure, digits in columns:
            line += f" {spread([figure(r) for r in rs], width, digits)}"
        print(line)
        note = failures_note(rs)
        if note:
            print(f"  {'':<15} failed calls over {len(rs)} runs: {note}")


def target(text: str, ok: bool) -> None:
    print(f"  target: {text} -> {'met' if ok else 'MISSED'}")


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def against_sdk0(runs: dict[str, list[dict[str, Any]]]) -> None:
    """The target of every world: compat makes as many successes per second as the SDK
    without retries."""
    if "compat" in runs and "sdk0" in runs:
        ours, theirs = median_of(runs["compat"], "rate"), median_of(runs["sdk0"], "rate")
        target(
            f"compat's successes/s >= sdk0's (medians: {ours:.1f} against {theirs:.1f})",
            ours >= theirs,
        )


def by_turns(
    strategies: list[str], repeats: int, one: Callable[[str], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """*repeats* runs of each strategy, strategies taking turns within each repeat."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in strategies}
    for _ in range(repeats):
        for name in strategies:
            runs[name].append(one(name))
    return runs


RATE: Column = ("successes/s", 20, lambda r: r["rate"], 1)
ATTEMPTS: Column = ("attempts/call", 18, lambda r: r["attempts"], 2)
WASTED: Column = ("429s/call", 18, lambda r: r["wasted"], 2)
P99: Column = ("p99 s", 20, lambda r: r["p99"], 2)


# ---------------------------------------------------------------------- the worlds


def bucket_modes(args: argparse.Namespace, strategies: list[str], port: int) -> dict[str, Any]:
    ideal = (args.calls - args.burst) / args.rate
    report = {}
    for mode in args.modes.split(","):
        world = {
            "calls": args.calls,
            "floor": ideal,
            "options": {"rate": args.rate, "burst": args.burst, "signal": mode},
        }
        runs = by_turns(
            strategies, args.repeats, lambda name, world=world: measure(name, port, world)
        )
        print()
        time_ratio: Column = ("time/ideal", 18, lambda r: r["elapsed"] / ideal, 2)
        table(
            f"mode: {mode} ({args.calls} calls at once, bucket {args.rate:g}/s, burst"
            f" {args.burst:g}; ideal {ideal:.2f} s; successes/s over at least the ideal)",
            strategies,
            runs,
            args.calls,
            [time_ratio, RATE, ATTEMPTS, WASTED, P99],
        )
        report[mode] = runs
        if "compat" in runs and mode in TARGETS:
            most, wasted = TARGETS[mode]
            rs = runs["compat"]
            ratio = median_of(rs, "elapsed") / ideal
            all_succeeded = all(r["successes"] == args.calls for r in rs)
            ok = ratio <= most and all_succeeded and median_of(rs, "wasted") <= wasted
            limits = f"<= {most} x ideal, 100% success" + (
                f", <= {wasted} wasted 429s per call" if wasted != float("inf") else ""
            )
            target(f"{limits} (medians; success in every run)", ok)
        against_sdk0(runs)
    return report


def outage(args: argparse.Namespace, strategies: list[str]) -> dict[str, Any]:
    strategies = [*strategies, "compat-failfast"] if "compat" in strategies else strategies
    world = {
        "calls": args.calls,
        "floor": args.outage,
        "deadline": args.outage_deadline,
        "options": {"outage": args.outage},
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in strategies}
    for _ in range(args.repeats):
        together = side_by_side(strategies, world)
        for name in strategies:
            runs[name].append(together[name])
    print()
    table(
        f"outage: {args.outage:g} s of 503 from the start, {args.calls} calls at once, each"
        f" with a {args.outage_deadline:g} s deadline (strategies side by side, each in its"
        " own process against its own server process; successes/s over at least the outage;"
        " compat-failfast is compat with hold=False)",
        strategies,
        runs,
        args.calls,
        [
            ("time s", 18, lambda r: r["elapsed"], 2),
            RATE,
            ATTEMPTS,
            ("late max s", 20, lambda r: r["late_max"], 2),
            P99,
        ],
    )
    if "compat" in runs:
        attempts = median_of(runs["compat"], "attempts")
        served = median_of(runs["compat"], "successes") / args.calls
        late = max(r["late_max"] for r in runs["compat"])
        target(
            f">= 95% succeed at <= 1.3 attempts per call (medians: {served:.0%} at {attempts:.2f})",
            served >= 0.95 and attempts <= 1.3,
        )
        target(
            f"no call ends later than its deadline plus 1 s (latest: {late:+.2f} s)", late <= 1.0
        )
    return runs


def noise(args: argparse.Namespace, strategies: list[str], port: int) -> dict[str, Any]:
    capacity = {
        "rate": args.noise_capacity,
        "burst": args.noise_capacity,
        "latency": args.noise_latency,
    }
    clean_world = {
        "calls": args.noise_calls,
        "concurrency": args.noise_concurrency,
        "options": capacity,
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in strategies}
    for repeat in range(args.repeats):
        for name in strategies:
            noisy_world = {
                **clean_world,
                "options": {**capacity, "noise": args.noise_share, "seed": repeat},
            }
            clean = measure(name, port, clean_world)
            noisy = measure(name, port, noisy_world)
            runs[name].append({**noisy, "clean_rate": clean["rate"]})
    print()
    table(
        f"noise: {args.noise_calls} calls, {args.noise_concurrency} at a time, each success"
        f" taking {args.noise_latency:g} s, against a capacity of {args.noise_capacity:g}/s"
        " they never reach, with"
        f" {args.noise_share:.0%} stray header-less 429s (20 ms in retry-after-ms, or 15 ms"
        " only in the message); beside it the same load without them",
        strategies,
        runs,
        args.noise_calls,
        [
            RATE,
            ("clean successes/s", 20, lambda r: r["clean_rate"], 1),
            ("of clean", 18, lambda r: r["rate"] / r["clean_rate"], 2),
            ATTEMPTS,
            WASTED,
        ],
    )
    if "compat" in runs:
        share = statistics.median(r["rate"] / r["clean_rate"] for r in runs["compat"])
        target(
            f"compat's successes/s >= {NOISE_TARGET:.0%} of the same load without noise"
            f" (median: {share:.0%})",
            share >= NOISE_TARGET,
        )
    against_sdk0(runs)
    if "bare" in runs and "sdk0" in runs:
        print(
            "  the barest retry that honours the server's wait (bare):"
            f" {median_of(runs['bare'], 'rate'):.1f} successes/s against sdk0's"
            f" {median_of(runs['sdk0'], 'rate'):.1f}"
        )
    return runs


def slow(args: argparse.Namespace, strategies: list[str], port: int) -> dict[str, Any]:
    world = {
        "calls": args.slow_calls,
        "deadline": args.slow_deadline,
        "floor": args.slow_deadline,
        "options": {"rate": args.slow_rate, "burst": args.slow_burst, "signal": "precise"},
    }
    runs = by_turns(strategies, args.repeats, lambda name: measure(name, port, world))
    queue = (args.slow_calls - args.slow_burst) / args.slow_rate
    print()
    table(
        f"slow limit: {args.slow_calls} calls at once, each with a {args.slow_deadline:g} s"
        f" deadline, against a limit of {args.slow_rate:g}/s (burst {args.slow_burst:g}) that"
        f" x-ratelimit-* headers reveal (the queue: {queue:.1f} s); lateness is"
        " end - (start + deadline), over all calls; successes/s over at least the deadline",
        strategies,
        runs,
        args.slow_calls,
        [
            ("failed", 10, lambda r: args.slow_calls - r["successes"], 0),
            RATE,
            ("late max s", 20, lambda r: r["late_max"], 2),
            ("late p99 s", 20, lambda r: r["late_p99"], 2),
            ATTEMPTS,
            WASTED,
        ],
    )
    against_sdk0(runs)
    return runs


def tokens(args: argparse.Namespace, strategies: list[str], port: int) -> dict[str, Any]:
    spec = {
        "calls": args.token_calls,
        "low": args.token_min,
        "high": args.token_max,
        "seed": args.token_seed,
    }
    load = token_load(args.token_calls, args.token_min, args.token_max, args.token_seed)
    total = sum(cookbook_tokens(p) for p in load)
    tpm = math.ceil(total * 60 / args.token_seconds)
    ideal = total / tpm * 60
    world = {
        "tokens": spec,
        "floor": ideal,
        "cap": args.token_cap * ideal,
        "options": {"tpm": tpm, "period": args.token_period, "signal": "precise"},
        "cookbook_tpm": tpm,
        "cookbook_rpm": 60 * args.token_calls,
    }
    runs = by_turns(strategies, args.repeats, lambda name: measure(name, port, world))
    print()
    time_ratio: Column = ("time/ideal", 18, lambda r: r["elapsed"] / ideal, 2)
    table(
        f"tokens: {args.token_calls} calls at once of {args.token_min} to {args.token_max}"
        f" tokens (seed {args.token_seed}), {total} in all, against {tpm} tokens per minute"
        f" enforced over each {args.token_period:g} s; ideal = total / TPM = {ideal:.1f} s"
        f" (the bucket starts with {args.token_period:g} s of tokens, so a perfect client"
        f" ends that much sooner); calls stopped at {args.token_cap:g} x ideal; successes/s"
        " over at least the ideal",
        strategies,
        runs,
        args.token_calls,
        [time_ratio, RATE, ATTEMPTS, WASTED, P99],
    )
    against_sdk0(runs)
    return {"total_tokens": total, "tpm": tpm, "ideal": ideal, "runs": runs}


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="every world small: " + ", ".join(QUICK)
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per strategy and world")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--json", default=None, help="also write every run's figures here")
    bucket = parser.add_argument_group("precise, integer, message: a token bucket")
    bucket.add_argument("--modes", default="precise,integer,message", help="'' skips them")
    bucket.add_argument("--calls", type=int, default=120, help="calls at once (and the outage's)")
    bucket.add_argument("--rate", type=float, default=20.0)
    bucket.add_argument("--burst", type=float, default=5.0)
    bucket.add_argument(
        "--outage", type=float, default=20.0, help="seconds of outage; 0 skips that world"
    )
    worlds = parser.add_argument_group("the noise, slow-limit and token worlds")
    worlds.add_argument("--worlds", default="noise,slow,tokens", help="'' skips them")
    worlds.add_argument("--noise-calls", type=int, default=400)
    worlds.add_argument("--noise-concurrency", type=int, default=20)
    worlds.add_argument("--noise-share", type=float, default=0.1)
    worlds.add_argument("--noise-capacity", type=float, default=10000.0, help="requests/s")
    worlds.add_argument(
        "--noise-latency", type=float, default=0.25, help="seconds each success takes"
    )
    worlds.add_argument("--slow-calls", type=int, default=60)
    worlds.add_argument("--slow-rate", type=float, default=5.0)
    worlds.add_argument("--slow-burst", type=float, default=5.0)
    worlds.add_argument("--slow-deadline", type=float, default=3.0, help="seconds per call")
    worlds.add_argument("--token-calls", type=int, default=300)
    worlds.add_argument("--token-min", type=int, default=100)
    worlds.add_argument("--token-max", type=int, default=8000)
    worlds.add_argument("--token-seed", type=int, default=7)
    worlds.add_argument(
        "--token-seconds", type=float, default=20.0, help="the TPM is scaled to take this long"
    )
    worlds.add_argument(
        "--token-period", type=float, default=1.0, help="seconds the limit is enforced over"
    )
    worlds.add_argument(
        "--token-cap", type=float, default=4.0, help="calls are stopped at this many x ideal"
    )
    parser.add_argument(
        "--outage-deadline", type=float, default=60.0, help="each call's deadline in the outage"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one strategy's run, as JSON
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--world", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.port, json.loads(args.world))
        return
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)

    chosen = args.strategies.split(",")
    unknown = [name for name in chosen if name not in STRATEGIES]
    if unknown:
        parser.error(f"unknown strategies: {', '.join(unknown)}")
    everywhere = [name for name in chosen if name in EVERYWHERE]
    in_noise = [name for name in chosen if name in IN_NOISE]
    in_tokens = [name for name in chosen if name in IN_TOKENS]
    world_names = [w for w in args.worlds.split(",") if w]
    report: dict[str, Any] = {
        "calls": args.calls,
        "rate": args.rate,
        "burst": args.burst,
        "ideal": (args.calls - args.burst) / args.rate,
        "repeats": args.repeats,
        "outage_seconds": args.outage,
        "modes": {},
    }
    print(
        f"openai {openai.version.VERSION}; each figure the median (and range) of"
        f" {args.repeats} run(s)" + (" (--quick)" if args.quick else "")
    )
    server = Server()
    try:
        if args.modes:
            report["modes"] = bucket_modes(args, everywhere, server.port)
        if args.outage:
            report["outage"] = outage(args, everywhere)
        if "noise" in world_names:
            report["noise"] = noise(args, in_noise, server.port)
        if "slow" in world_names:
            report["slow"] = slow(args, everywhere, server.port)
        if "tokens" in world_names and in_tokens:
            report["tokens"] = tokens(args, in_tokens, server.port)
    finally:
        server.close()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
