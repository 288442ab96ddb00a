"""What ``compat.wrap`` costs a v1+ client: once (``wrap()``, the first call) and per
successful call, sync and async.

Run: python benchmarks/wrap_cost.py [RUNS]

Each run is a fresh process with a real ``openai.OpenAI`` / ``AsyncOpenAI`` answering from
an in-memory transport (a chat completion with ``x-ratelimit-*`` request headers), its own
first call already made (as a benchmark that warms the client would):

* ``wrap()``: ms of the first ``compat.wrap(client)`` of the process (it imports the
  retry engine, the error model and the sources' tables);
* first call: ms of wall time of the first call through the wrapped client, and of the
  second;
* per call: µs of process CPU a wrapped call takes beyond a bare one, batches of each
  alternating (the median of the batches' differences), and the Python function calls
  it makes beyond a bare one (counted by ``cProfile``: the same on every run, where the
  µs are at the mercy of the machine).

Numbers are the range over RUNS processes (default 5); the machine's noise is in them.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import asyncio, json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import httpx, openai
import compat

mode = sys.argv[2]
BODY = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
}).encode()
HEADERS = {"content-type": "application/json", "x-ratelimit-limit-requests": "10000",
           "x-ratelimit-remaining-requests": "9999", "x-ratelimit-reset-requests": "6ms"}
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence, please."}]
BATCH, BATCHES = 100, 15


def handler(request):
    return httpx.Response(200, content=BODY, headers=HEADERS)


def cpu():
    return time.process_time()


if mode == "sync":
    raw = openai.OpenAI(api_key="sk-bench", base_url="http://bench.invalid/v1", max_retries=0,
                        http_client=httpx.Client(transport=httpx.MockTransport(handler)))

    def run(client, n):
        for _ in range(n):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def drive(fn):
        return fn()
else:
    raw = openai.AsyncOpenAI(api_key="sk-bench", base_url="http://bench.invalid/v1",
                             max_retries=0,
                             http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))

    async def run(client, n):
        for _ in range(n):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    loop = asyncio.new_event_loop()

    def drive(fn):
        return loop.run_until_complete(fn())

drive(lambda: run(raw, 1))
start = time.perf_counter()
wrapped = compat.wrap(raw)
wrap_ms = (time.perf_counter() - start) * 1e3
start = time.perf_counter()
drive(lambda: run(wrapped, 1))
first_ms = (time.perf_counter() - start) * 1e3
start = time.perf_counter()
drive(lambda: run(wrapped, 1))
second_ms = (time.perf_counter() - start) * 1e3
diffs = []
for _ in range(BATCHES):
    start = cpu()
    drive(lambda: run(raw, BATCH))
    bare = cpu() - start
    start = cpu()
    drive(lambda: run(wrapped, BATCH))
    diffs.append((cpu() - start - bare) / BATCH * 1e6)
import cProfile, pstats


def calls(client):
    profile = cProfile.Profile()
    profile.enable()
    drive(lambda: run(client, 50))
    profile.disable()
    return pstats.Stats(profile).total_calls / 50


added = calls(wrapped) - calls(raw)
print(json.dumps({"wrap_ms": wrap_ms, "first_ms": first_ms, "second_ms": second_ms,
                  "per_call_us": statistics.median(diffs), "calls": added}))
"""


def measure(root: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def span(values: list[float], digits: int = 1) -> str:
    low, high = min(values), max(values)
    return f"{statistics.median(values):.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    roots = [Path(arg) for arg in sys.argv[2:]] or [ROOT]
    print("median (range) over", runs, "processes")
    for root in roots:
        for mode in ("sync", "async"):
            rows = [measure(root, mode) for _ in range(runs)]
            column = {key: [row[key] for row in rows] for key in rows[0]}
            print(
                f"{root} {mode:5}: wrap() {span(column['wrap_ms'])} ms;"
                f" first call {span(column['first_ms'])} ms,"
                f" second {span(column['second_ms'])} ms;"
                f" per call +{span(column['per_call_us'], 0)} µs CPU,"
                f" +{span(column['calls'], 0)} function calls",
                flush=True,
            )


if __name__ == "__main__":
    main()
