"""How long translation takes: compat.translate on real SDK exceptions, from_response on raw answers.

Run: python benchmarks/translate.py  (with the openai SDK of your choice installed)

Prints µs per error as median and range over repeated runs, beside the floor
(raising and catching an exception) measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _figures import per_call, spread

import compat
from compat._errors import ERROR_CLASSES
from compat._kinds import ErrorKind
from compat._sources import tables
from compat.testing import FaultServer
from tests.bodies import CASES


def us_per_call(fn: Callable[[], Any], number: int) -> list[float]:
    """µs per call of *fn*, one figure per run."""
    return [seconds * 1e6 for seconds in per_call(fn, number)]


def show(label: str, figures: list[float], floor: float | None = None) -> None:
    ratio = f"  {statistics.median(figures) / floor:6.1f}x floor" if floor else ""
    print(f"  {label:<44} {spread(figures, width=8, unit=' µs')}{ratio}")


def sdk_exceptions() -> list[tuple[str, BaseException]]:
    """Real exceptions of the installed SDK, raised by its client against a loopback server."""
    import openai

    server = FaultServer()
    found = []
    try:
        for name, status, headers, body, _ in CASES:
            server.push(status, headers, body)
            try:
                if hasattr(openai, "OpenAI"):
                    client = openai.OpenAI(
                        base_url=server.url + "/v1", api_key="sk-x", max_retries=0
                    )
                    client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": "x"}]
                    )
                else:
                    openai.api_base, openai.api_key = server.url + "/v1", "sk-x"
                    openai.ChatCompletion.create(
                        model="m", messages=[{"role": "user", "content": "x"}], timeout=0
                    )
            except Exception as exc:
                found.append((name, exc))
    finally:
        server.close()
    return found


def litellm_cost(
    cases: list[tuple[str, BaseException]], reference: float, compat_median: float
) -> None:
    """LiteLLM's exception mapping on the same exceptions, where LiteLLM is installed."""
    try:
        import litellm
        from litellm.litellm_core_utils.exception_mapping_utils import exception_type
    except ImportError:
        print("\nLiteLLM exception_type: not installed, skipped")
        return

    litellm.suppress_debug_info = True  # else it prints a help banner for every exception

    def mapped(exc: BaseException) -> str:
        try:
            exception_type(model="gpt-4o", original_exception=exc, custom_llm_provider="openai")
        except Exception as raised:
            return type(raised).__name__
        return "(returned)"

    print("\nLiteLLM exception_type(same SDK exception)  [class it raises]")
    figures_all = []
    for name, exc in cases:
        figures = us_per_call(lambda exc=exc: mapped(exc), 50)
        figures_all.append(statistics.median(figures))
        compat_kind = compat.translate(exc)
        kind = compat_kind.kind.value if compat_kind else None
        show(f"{name[:30]} -> {mapped(exc)[:12]} (compat: {kind})"[:44], figures, reference)
    median = statistics.median(figures_all)
    print(
        f"  {'median over all cases':<44} {median:8.2f} µs  ({median / compat_median:.1f}x compat)"
    )


def least_reading(exc: Any) -> Any:
    """The least any translation of a v1+ SDK error does, for reference beside the floor:
    the status, the error object's code, type, param and message, two headers (the wait
    and the request id), one table lookup (the code's row, else the status's), and the
    error built. No phrase table, no nested errors, no envelopes, no provider marks, no
    wait read from the text: every such reading compat does is on top of this."""
    rows = tables()
    status = exc.status_code
    body = exc.body
    error = body["error"] if type(body.get("error")) is dict else body
    headers = {}
    for _, name, value in exc.response.headers._list:
        if name in (b"retry-after", b"x-request-id"):
            headers[name] = value.decode("latin-1")
    code = error.get("code")
    found = rows.codes.get(code.lower()) if type(code) is str else None
    row = found[0] if found else rows.statuses.get(status)
    kind = row.kind if row is not None else ErrorKind.SERVER_ERROR
    wait = headers.get(b"retry-after")
    return ERROR_CLASSES[kind]._make(
        {
            "kind": kind,
            "_message": error.get("message") or exc.message,
            "retryable": None if row is None else row.retryable,
            "status": status,
            "code": code,
            "request_id": headers.get(b"x-request-id"),
            "retry_after": float(wait) if wait and wait.isdigit() else None,
            "provider": "openai",
            "type": error.get("type"),
            "param": error.get("param"),
            "_raw_headers": exc.response.headers,
            "_raw_body": body,
        }
    )


def least(cases: list[tuple[str, BaseException]]) -> None:
    """:func:`least_reading` beside compat.translate, on the cases whose body the SDK
    parsed into an object (the others have no error object to read)."""
    parsed = [exc for _, exc in cases if isinstance(getattr(exc, "body", None), dict)]
    if not parsed or not hasattr(parsed[0], "response"):
        return
    lows = [statistics.median(us_per_call(lambda e=e: least_reading(e), 2000)) for e in parsed]
    full = [statistics.median(us_per_call(lambda e=e: compat.translate(e), 2000)) for e in parsed]
    print(f"\nthe least reading, for reference ({len(parsed)} cases whose body is an object)")
    print(f"  {'status, code, 2 headers, 1 row, the error':<44} {statistics.median(lows):8.2f} µs")
    print(f"  {'compat.translate on the same cases':<44} {statistics.median(full):8.2f} µs")


def floor() -> list[float]:
    def raise_and_catch() -> None:
        try:
            raise ValueError("x")
        except ValueError:
            pass

    return us_per_call(raise_and_catch, 20000)


def main() -> None:
    base = floor()
    reference = statistics.median(base)
    import openai

    print(f"python {sys.version.split()[0]}, openai {openai.version.VERSION}")
    print("\nfloor")
    show("raise + catch an exception", base)
    print("\ncompat.translate(real SDK exception)")
    all_figures = []
    for name, exc in sdk_exceptions():
        figures = us_per_call(lambda exc=exc: compat.translate(exc), 2000)
        all_figures.append(statistics.median(figures))
        show(name[:44], figures, reference)
    print(f"  {'median over all cases':<44} {statistics.median(all_figures):8.2f} µs")
    least(sdk_exceptions())
    litellm_cost(sdk_exceptions(), reference, statistics.median(all_figures))
    print("\ncompat.from_response(raw bytes)")
    raw_figures = []
    for name, status, headers, body, _ in CASES:
        raw = (
            body.encode()
            if isinstance(body, str)
            else body
            if isinstance(body, bytes)
            else json.dumps(body).encode()
        )
        figures = us_per_call(
            lambda s=status, h=headers, b=raw: compat.from_response(s, h, b), 2000
        )
        raw_figures.append(statistics.median(figures))
        show(f"{name[:34]} ({len(raw)} B)", figures, reference)
    big = json.dumps({"error": {"message": "x" * 50_000, "type": "server_error"}}).encode()
    show(
        f"50 KB body ({len(big)} B)",
        us_per_call(lambda: compat.from_response(500, {}, big), 200),
        reference,
    )
    print(f"  {'median over all cases':<44} {statistics.median(raw_figures):8.2f} µs")
    sdk_median = statistics.median(all_figures)
    raw_median = statistics.median(raw_figures)
    print(f"\ntargets (on this machine, whose floor is {reference:.2f} µs)")
    print(
        f"  translate <= 5 µs per SDK error: {sdk_median:.2f} µs ({sdk_median / reference:.1f}x floor)"
        f" -> {'met' if sdk_median <= 5 else 'MISSED'}"
    )
    print(
        f"  from_response <= 20 µs per answer: {raw_median:.2f} µs ({raw_median / reference:.1f}x floor)"
        f" -> {'met' if raw_median <= 20 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
