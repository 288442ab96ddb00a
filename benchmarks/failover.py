"""Failover between two deployments: compat.wrap([primary, secondary]) beside LiteLLM's
router with fallbacks (when LiteLLM is installed).

Run: python benchmarks/failover.py [--calls 300] [--outage 20] [--repeats 1]

Two fault servers stand for two deployments of one model. In the **outage** world the
primary answers every request with a 503 for ``--outage`` seconds from the start while
``--calls`` calls start at once; then, from a few seconds before the primary recovers
until well after, a trickle of calls (``--trickle`` a second) shows when traffic comes
back to it. In the **quota** world the primary's quota is exhausted for the whole run.
Reported per strategy: calls served, attempts on the primary per call during the outage,
how long after the primary's recovery it served again, and requests the primary saw in
the quota world (compat's target: only the first and its probes, one every 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

import compat
from compat.testing import FaultServer, Latency, Outage, Quota

MESSAGES = [{"role": "user", "content": "hi"}]
MODEL = "gpt-4o"


def compat_client(primary: FaultServer, secondary: FaultServer) -> tuple[Any, Any]:
    raws = [
        openai.AsyncOpenAI(base_url=s.openai_url, api_key="sk-bench") for s in (primary, secondary)
    ]
    client = compat.wrap(raws, compat.RetryPolicy(deadline=60.0))

    async def call() -> Any:
        return await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    return call, client


def litellm_client(primary: FaultServer, secondary: FaultServer) -> tuple[Any, Any]:
    import litellm

    litellm.suppress_debug_info = True
    router = litellm.Router(
        model_list=[
            {
                "model_name": "primary",
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": primary.openai_url,
                    "api_key": "sk-bench",
                },
            },
            {
                "model_name": "secondary",
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": secondary.openai_url,
                    "api_key": "sk-bench",
                },
            },
        ],
        fallbacks=[{"primary": ["secondary"]}],
        num_retries=2,
        timeout=60,
    )

    async def call() -> Any:
        return await router.acompletion(model="primary", messages=MESSAGES)

    return call, router


STRATEGIES = {"compat": compat_client, "litellm": litellm_client}


async def load(call: Any, calls: int) -> tuple[int, float]:
    """*calls* calls at once; returns the successes and the seconds they took."""
    started = time.monotonic()

    async def one() -> bool:
        try:
            await call()
        except Exception:
            return False
        return True

    served = await asyncio.gather(*(one() for _ in range(calls)))
    return sum(served), time.monotonic() - started


async def trickle(call: Any, per_second: float, seconds: float) -> None:
    """Calls at a steady pace for *seconds*, each on its own."""
    tasks = []
    for _ in range(int(per_second * seconds)):
        tasks.append(asyncio.ensure_future(call()))
        await asyncio.sleep(1.0 / per_second)
    await asyncio.gather(*tasks, return_exceptions=True)


async def close(client: Any) -> None:
    closing = getattr(client, "close", None)
    if closing is not None:
        result = closing()
        if asyncio.iscoroutine(result):
            await result


def outage_world(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        FaultServer(rules=[Outage(args.outage), Latency(0.05)]) as primary,
        FaultServer(rules=[Latency(0.05)]) as secondary,
    ):
        began = time.monotonic()

        async def main() -> tuple[int, float]:
            call, client = STRATEGIES[name](primary, secondary)
            served, _ = await load(call, args.calls)
            during = len(primary.requests)
            wait = args.outage - (time.monotonic() - began) - 3.0
            if wait > 0:
                await asyncio.sleep(wait)
            await trickle(call, args.trickle, 10.0)
            await close(client)
            return served, during

        served, during = asyncio.run(main())
        recovered = began + args.outage
        back = [
            r.at - recovered
            for r in primary.requests
            if r.at >= recovered and r.answer is not None and r.answer.status == 200
        ]
        return {
            "served": served,
            "primary_per_call": during / args.calls,
            "back_after": min(back) if back else float("inf"),
        }


def quota_world(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        FaultServer(rules=[Quota(0), Latency(0.05)]) as primary,
        FaultServer(rules=[Latency(0.05)]) as secondary,
    ):

        async def main() -> int:
            call, client = STRATEGIES[name](primary, secondary)
            served, _ = await load(call, args.calls)
            await close(client)
            return served

        served = asyncio.run(main())
        return {"served": served, "primary_requests": len(primary.requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--outage", type=float, default=20.0)
    parser.add_argument("--trickle", type=float, default=20.0, help="calls a second near recovery")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--strategies", default="compat,litellm")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    names = []
    for name in args.strategies.split(","):
        if name == "litellm":
            try:
                import litellm  # noqa: F401
            except ImportError:
                print("litellm is not installed: its router is left out")
                continue
        names.append(name)
    print(
        f"openai {openai.version.VERSION}; {args.calls} calls at once; primary in a"
        f" {args.outage:g} s outage (503s) from the start, then {args.trickle:g} calls a second"
        " around its recovery; every success takes 50 ms; median (and range) of"
        f" {args.repeats} run(s)"
    )
    header = (
        f"  {'strategy':<10} {'served':>10} {'primary attempts/call':>22}"
        f" {'back on primary after s':>24} {'quota: primary requests':>24}"
    )
    print(header)
    for name in names:
        outages = [outage_world(name, args) for _ in range(args.repeats)]
        quotas = [quota_world(name, args) for _ in range(args.repeats)]

        def med(rows: list[dict[str, Any]], key: str) -> float:
            return statistics.median(r[key] for r in rows)

        print(
            f"  {name:<10} {med(outages, 'served'):>6.0f}/{args.calls:<3}"
            f" {med(outages, 'primary_per_call'):>22.3f} {med(outages, 'back_after'):>24.2f}"
            f" {med(quotas, 'primary_requests'):>24.0f}"
        )
        if name == "compat":
            ok = (
                med(outages, "served") >= args.calls - 1
                and med(outages, "primary_per_call") <= 1.1
                and med(outages, "back_after") <= 2.0
                and med(quotas, "primary_requests") <= 1 + args.outage // 30 + 1
            )
            print(
                "  target: >= calls - 1 served, <= 1.1 primary attempts per call during the"
                " outage, back on the primary within 2 s of its recovery, the exhausted primary"
                f" tried only by its probes -> {'met' if ok else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
