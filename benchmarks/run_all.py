"""Run every benchmark and write BENCHMARKS.md (the command of `tox -e bench`).

Run: python benchmarks/run_all.py [--output BENCHMARKS.md] [--quick]

Each benchmark runs in its own interpreter and prints its tables; this script
adds the machine, the versions and the command that produced them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from _figures import spread

HERE = Path(__file__).resolve().parent


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


#: (label, code run first and not timed, code timed) of the import-cost table.
IMPORTS = [
    ("import compat", "", "import compat"),
    ("import compat; compat.LLMError", "", "import compat; compat.LLMError"),
    ("  of which: import attrs (a dependency)", "", "import attrs"),
    ("  of which: compat's own, attrs loaded", "import attrs", "import compat; compat.LLMError"),
    ("import compat.adapters.openai_v1", "", "import compat.adapters.openai_v1"),
    ("import openai", "", "import openai"),
    ("import litellm", "", "import litellm"),
]
IMPORT_RUNS = 5


def import_costs() -> str:
    """Milliseconds an import adds to a fresh interpreter, timed inside it; and the
    interpreter's own start-up, timed from outside, for scale."""
    timed = (
        "import time; {setup}; t = time.perf_counter(); {code};"
        " print((time.perf_counter() - t) * 1000)"
    )
    lines = []
    starts = []
    for _ in range(IMPORT_RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        starts.append((time.perf_counter() - start) * 1000)
    lines.append(
        f"  {'a bare interpreter starts in':<44} {spread(starts, digits=1, width=8, unit=' ms')}"
    )
    medians = {}
    for label, setup, code in IMPORTS:
        runs = []
        for _ in range(IMPORT_RUNS):
            done = subprocess.run(
                [sys.executable, "-c", timed.format(setup=setup or "pass", code=code)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                break
            runs.append(float(done.stdout))
        if len(runs) < IMPORT_RUNS:
            lines.append(f"  {label:<44} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        medians[label] = statistics.median(runs)
        ratio = medians[label] / statistics.median(starts)
        lines.append(
            f"  {label:<44} {spread(runs, digits=1, width=8, unit=' ms')}  {ratio:6.2f}x the start-up"
        )
    for label in ("import compat", "import compat; compat.LLMError"):
        if label in medians:
            verdict = "met" if medians[label] <= 20 else "MISSED"
            lines.append(f"  target: {label} adds <= 20 ms: {medians[label]:.1f} ms -> {verdict}")
    return "\n".join(lines)


def run(script: str, *args: str) -> str:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False
    )
    took = time.monotonic() - start
    out = done.stdout.rstrip()
    if done.returncode:
        out += f"\n(failed with exit code {done.returncode}: {done.stderr.strip()[-500:]})"
    return f"{out}\n\n({script} took {took:.0f} s)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", default=str(HERE.parent / "BENCHMARKS.md"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short retry benchmark: one run of every world, each small",
    )
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    began = time.monotonic()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    chart = output.with_suffix(".png")
    results = output.with_suffix(".retry.json")
    retry_args = ["--json", str(results)]
    processes_args = ["--repeats", "2"]
    if args.quick:
        retry_args += ["--quick"]
        processes_args = ["--calls", "25", "--repeats", "1"]
    sections = [
        (
            "Translation cost",
            "Question 1: µs per error, median and range of 7 runs; the floor is raising and"
            " catching an exception.",
            run("translate.py"),
        ),
        (
            "Import cost",
            f"Question 2: ms added to a fresh interpreter, timed inside it; median and range of"
            f" {IMPORT_RUNS} interpreters. `import compat` alone loads almost nothing (its names"
            " load on first use); touching `compat.LLMError` (as any `except compat.LLMError`"
            " does) loads the error model and attrs.",
            import_costs(),
        ),
        (
            "Classification accuracy",
            "The share of the corpus of real error answers of OpenAI-compatible servers"
            " (tests/data/compatible/, with their sources) that each reader gets right, per"
            " server family: compat on the raw answer and on the exception the v1 SDK raises"
            " (and the legacy SDK's, when `COMPAT_LEGACY_PYTHON` names an interpreter with"
            " openai<1), LiteLLM's `exception_type` and the SDK's own classes on that same"
            ' exception. "kind" counts the kind alone, "all" every labelled field (kind,'
            " retryable, retry_after, code, request_id, provider). The labels were written"
            " beside compat's rows: read compat's figures as a regression check, the peers'"
            " as the measure.",
            run("accuracy.py"),
        ),
        (
            "Success path, deadlines, cancellation",
            "Questions 3 and 6: per-call figures are median and range of 7 runs, the deadline"
            " and cancellation figures of 3.",
            run("overhead.py"),
        ),
        (
            "Retry quality and outage",
            "Questions 4 and 5: concurrent calls through the real AsyncOpenAI against compat's"
            " fault server (`python -m compat serve`, a process of its own) with a token bucket"
            " of 20/s, burst 5; every figure the median and range of 3 runs. 120 calls rather"
            " than 300 and the outage's strategies side by side keep those worlds short: at 300"
            " calls one run of the rate-limit modes alone takes four minutes."
            " Then the worlds pacing is measured in: stray header-less 429s at a capacity never"
            " reached (noise, beside the same load without them), a limit far below the load"
            " with deadlines shorter than the queue (slow limit: how late calls end), and a"
            " tokens-per-minute limit charged as OpenAI does (tokens, beside a reimplementation"
            " of the OpenAI cookbook's parallel processor); in every world, successes per"
            " second beside the SDK without retries (sdk0).",
            run("retry_quality.py", *retry_args),
        ),
        (
            "Failover",
            "Two deployments behind one client: the primary in a 20 s outage while 300 calls"
            " start at once, then a trickle of calls around its recovery; then its quota"
            " exhausted. compat.wrap([primary, secondary]) beside LiteLLM's router with"
            " fallbacks.",
            run("failover.py", *(["--calls", "60", "--outage", "5"] if args.quick else [])),
        ),
    ]
    if results.exists():
        drawn = subprocess.run(
            [sys.executable, str(HERE / "chart.py"), str(results), str(chart)],
            capture_output=True,
            text=True,
            check=False,
        )
        results.unlink()
        if drawn.returncode == 0:
            sections[-1] = (
                sections[-1][0],
                sections[-1][1]
                + f"\n\n![Completion time and wasted 429s per strategy]({chart.name})",
                sections[-1][2],
            )
        else:
            print(f"chart not drawn: {drawn.stderr.strip()[-300:]}", file=sys.stderr)
    sections.append(
        (
            "Many processes, one limit",
            "4 processes of 75 concurrent calls each through the real AsyncOpenAI against one"
            " token bucket of 20/s, burst 5 (`python -m compat serve`), with the policy's state"
            " shared through `compat.RedisState` (a redis-server of the benchmark's own), kept in"
            " each process, or stamina's retries; and, for reference, all 300 calls from one"
            " process. World `noise` adds 5 % stray 429s and 500s that say nothing about the"
            " rate. Every figure the median and range of 2 runs (4 strategies, 2 worlds).",
            run("redis_limit.py", *processes_args),
        )
    )
    machine = (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"compat {version('compat')}, openai {version('openai')}, litellm {version('litellm')}, "
        f"tenacity {version('tenacity')}, stamina {version('stamina')}"
    )
    lines = [
        "# Benchmarks",
        "",
        "Generated by `tox -e bench` (`python benchmarks/run_all.py`) on "
        f"{datetime.date.today().isoformat()}; every figure of a table was measured in the same run.",
        "",
        f"Machine and versions: {machine}.",
        "",
        "The machine is shared: figures move between runs, so read the spreads and the ratios",
        "to the reference measured beside them rather than the absolute numbers.",
        "",
        f"The whole run took {(time.monotonic() - began) / 60:.1f} minutes"
        + (" (`--quick`)." if args.quick else "."),
    ]
    for title, what, body in sections:
        lines += ["", f"## {title}", "", what, "", "```", body, "```"]
    Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
