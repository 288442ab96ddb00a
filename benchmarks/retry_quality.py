"""Retry quality on a token-bucket server: compat against the SDK's and other libraries' retries.

Run: python benchmarks/retry_quality.py [--calls 120] [--rate 20] [--burst 5] [--repeats 3]
                                         [--strategies compat,sdk,sdk10,tenacity,stamina]
                                         [--modes precise,integer,message] [--outage 20]
                                         [--json RESULTS.json]

N concurrent calls go through the real ``openai.AsyncOpenAI`` to compat's fault
server (``python -m compat serve``, in a process of its own) with a token bucket.
For each header mode and strategy it prints completion time divided by the ideal
(N - burst) / rate, calls that succeeded, attempts and wasted 429s per call, and
p99 latency, each as the median and range of ``--repeats`` runs (strategies take
turns within each repeat). The outage run starts every call during a full 503
outage; its strategies run side by side, each in a process of its own against a
server of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

import compat

MESSAGES = [{"role": "user", "content": "hi"}]
#: compat's targets per header mode: (most time / ideal, most wasted 429s per call).
TARGETS = {"precise": (1.10, 0.10), "message": (1.30, float("inf"))}
Call = Callable[[], Awaitable[Any]]
STRATEGIES = ("compat", "sdk", "sdk10", "tenacity", "stamina")


def make_strategy(name: str, base_url: str) -> tuple[Call, Any]:
    """A zero-argument coroutine function making one call under *name*, and its raw client."""
    if name not in STRATEGIES:
        raise ValueError(name)
    # The SDK's own retries for "sdk" (its default) and "sdk10"; none under the others
    # (compat.wrap turns them off itself).
    retries = {"sdk10": 10, "tenacity": 0, "stamina": 0}.get(name, 2)
    raw = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=retries)
    client = compat.wrap(raw, compat.RetryPolicy()) if name == "compat" else raw

    async def call() -> Any:
        return await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    if name == "tenacity":
        import tenacity

        # The OpenAI cookbook's recipe.
        call = tenacity.retry(
            wait=tenacity.wait_random_exponential(min=1, max=60),
            stop=tenacity.stop_after_attempt(6),
        )(call)
    elif name == "stamina":
        import stamina
        import stamina.instrumentation

        stamina.instrumentation.set_on_retry_hooks([])  # its default hook prints every retry
        call = stamina.retry(on=(openai.RateLimitError, openai.InternalServerError))(call)
    return call, raw


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


async def run(call: Call, calls: int) -> tuple[float, list[float], int, dict[str, int]]:
    latencies: list[float] = []
    successes = 0
    failures: dict[str, int] = {}

    async def one() -> None:
        nonlocal successes
        started = time.monotonic()
        try:
            await call()
        except Exception as exc:
            error = compat.translate(exc)
            name = f"{type(exc).__name__}({error.kind.value})" if error else type(exc).__name__
            failures[name] = failures.get(name, 0) + 1
            return
        finally:
            latencies.append(time.monotonic() - started)
        successes += 1

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(calls)))
    return time.monotonic() - started, latencies, successes, failures


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


def measure(name: str, port: int, options: dict[str, Any], calls: int) -> dict[str, Any]:
    """One run of *calls* concurrent calls under strategy *name*, the server set by *options*.

    The raw client makes one call first, on a server without rules: the SDK's
    first call costs over half a second (lazy imports, model building) in any
    strategy, and would otherwise weigh on the figures of runs of a few seconds.
    compat's pacer learns nothing from it: it does not go through compat.
    """
    call, raw = make_strategy(name, f"http://127.0.0.1:{port}/v1")

    async def main() -> tuple[float, list[float], int, dict[str, int]]:
        try:
            control(port, "config", {})
            await raw.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            control(port, "config", options)
            return await run(call, calls)
        finally:
            await raw.close()

    elapsed, latencies, successes, failures = asyncio.run(main())
    counts = {int(k): v for k, v in control(port, "stats")["by_status"].items()}
    latencies.sort()
    return {
        "elapsed": elapsed,
        "successes": successes,
        "attempts": sum(counts.values()) / calls,
        "wasted": counts.get(429, 0) / calls,
        "p99": latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0,
        "failures": failures,
    }


def side_by_side(strategies: list[str], options: dict[str, Any], calls: int) -> dict[str, Any]:
    """One run of every strategy at once, each in a process of its own against a server
    process of its own (``--worker``).

    Used for the outage, where clients mostly sleep between attempts: run one after
    the other, its strategies would take a minute and a half per repeat.
    """
    servers = [Server() for _ in strategies]
    try:
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    name,
                    "--port",
                    str(server.port),
                    "--options",
                    json.dumps(options),
                    "--calls",
                    str(calls),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for name, server in zip(strategies, servers)
        ]
        results = {}
        for name, worker in zip(strategies, workers):
            out, _ = worker.communicate()
            if worker.returncode:
                raise RuntimeError(f"the {name} worker failed with exit code {worker.returncode}")
            results[name] = json.loads(out)
        return results
    finally:
        for server in servers:
            server.close()


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


def table(
    title: str,
    strategies: list[str],
    runs: dict[str, list[dict[str, Any]]],
    calls: int,
    ideal: float | None,
) -> None:
    print(title)
    first = "time/ideal" if ideal else "time s"
    print(
        f"  {'strategy':<10} {first:>18} {'success':>17} {'attempts/call':>18}"
        f" {'429s/call':>18} {'p99 s':>20}"
    )
    for name in strategies:
        rs = runs[name]
        times = [r["elapsed"] / ideal if ideal else r["elapsed"] for r in rs]
        print(
            f"  {name:<10} {spread(times, 18)} {successes([r['successes'] for r in rs], calls, 17)}"
            f" {spread([r['attempts'] for r in rs], 18)} {spread([r['wasted'] for r in rs], 18)}"
            f" {spread([r['p99'] for r in rs], 20)}"
        )
        note = failures_note(rs)
        if note:
            print(f"  {'':<10} failed calls over {len(rs)} runs: {note}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per strategy and mode")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--modes", default="precise,integer,message")
    parser.add_argument(
        "--outage", type=float, default=20.0, help="seconds of outage; 0 skips that run"
    )
    parser.add_argument("--json", default=None, help="also write every run's figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one strategy's run, as JSON
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--options", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.port, json.loads(args.options), args.calls)))
        return

    strategies = args.strategies.split(",")
    server = Server()
    bucket = {"rate": args.rate, "burst": args.burst}
    ideal = (args.calls - args.burst) / args.rate
    report: dict[str, Any] = {
        "calls": args.calls,
        "rate": args.rate,
        "burst": args.burst,
        "ideal": ideal,
        "repeats": args.repeats,
        "outage_seconds": args.outage,
        "modes": {},
    }
    try:
        print(
            f"openai {openai.version.VERSION}; {args.calls} concurrent calls; bucket {args.rate:g}/s,"
            f" burst {args.burst:g}; ideal {ideal:.2f} s; each figure the median (and range)"
            f" of {args.repeats} runs"
        )
        for mode in args.modes.split(","):
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in strategies}
            for _ in range(args.repeats):
                # Strategies take turns within each repeat, so that the machine's
                # drift over the run falls on all of them alike.
                for name in strategies:
                    runs[name].append(
                        measure(name, server.port, {**bucket, "signal": mode}, args.calls)
                    )
            print()
            table(f"mode: {mode}", strategies, runs, args.calls, ideal)
            report["modes"][mode] = runs
            if "compat" in runs and mode in TARGETS:
                most, wasted = TARGETS[mode]
                rs = runs["compat"]
                time_ratio = statistics.median(r["elapsed"] for r in rs) / ideal
                wasted_median = statistics.median(r["wasted"] for r in rs)
                all_succeeded = all(r["successes"] == args.calls for r in rs)
                ok = time_ratio <= most and all_succeeded and wasted_median <= wasted
                limits = f"<= {most} x ideal, 100% success" + (
                    f", <= {wasted} wasted 429s per call" if wasted != float("inf") else ""
                )
                print(
                    f"  target: {limits} (medians; success in every run)"
                    f" -> {'met' if ok else 'MISSED'}"
                )
        if args.outage:
            runs = {name: [] for name in strategies}
            for _ in range(args.repeats):
                outage = side_by_side(strategies, {"outage": args.outage}, args.calls)
                for name in strategies:
                    runs[name].append(outage[name])
            print()
            table(
                f"outage: {args.outage:g} s of 503 from the start (strategies side by side, each in"
                " its own process against its own server process)",
                strategies,
                runs,
                args.calls,
                None,
            )
            report["outage"] = runs
            if "compat" in runs:
                attempts = statistics.median(r["attempts"] for r in runs["compat"])
                print(
                    f"  target: <= 1.2 attempts per call (median) -> {'met' if attempts <= 1.2 else 'MISSED'}"
                )
    finally:
        server.close()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
