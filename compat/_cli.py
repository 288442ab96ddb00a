"""``python -m compat``: command-line tools.

``explain`` reads an error as a server sent it (a JSON body, or a whole
``curl -i`` transcript with its status line and headers) and prints what compat
makes of it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from compat._translate import from_response

_STATUS_LINE = re.compile(r"^HTTP/[\d.]+\s+(\d{3})")


def parse_transcript(text: str) -> tuple[int | None, list[tuple[str, str]], str]:
    """Split a ``curl -i`` (or ``curl -v``) transcript into status, headers and body.

    Text without a status line is all body.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    start = None
    for index, line in enumerate(lines):
        if _STATUS_LINE.match(line.lstrip("< ").strip()):
            start = index  # the last status line wins: curl prints one per redirect or 100
    if start is None:
        return None, [], text
    status = int(_STATUS_LINE.match(lines[start].lstrip("< ").strip()).group(1))  # type: ignore[union-attr]
    headers: list[tuple[str, str]] = []
    index = start + 1
    while index < len(lines):
        line = lines[index].lstrip("<").strip() if lines[index].startswith("<") else lines[index]
        index += 1
        if not line.strip():
            break
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    body = "\n".join(
        line for line in lines[index:] if not line.startswith(("* ", "> ", "{ [", "} ["))
    )
    return status, headers, body.strip()


def explain(text: str, status: int | None, provider: str | None) -> dict[str, Any]:
    """What compat makes of one answer, as a dict ready to print."""
    found_status, headers, body = parse_transcript(text)
    status = found_status if found_status is not None else status
    error = from_response(status, headers, body, provider=provider)
    if error is None:
        return {"status": status, "error": None, "verdict": "success: not an error"}
    from compat._retry import RetryPolicy

    decision = RetryPolicy().decide(error, 1, 0.0, random=lambda: 0.0)
    if decision.retry:
        verdict = f"retry after {decision.wait:.3g} s or more ({decision.reason})"
    else:
        verdict = f"raise now: {decision.reason}"
    return {
        "status": error.status,
        "kind": error.kind.value,
        "class": f"compat.{type(error).__name__}",
        "retryable": error.retryable,
        "retry_after": error.retry_after,
        "code": error.code,
        "type": error.type,
        "request_id": error.request_id,
        "provider": error.provider,
        "message": error.message,
        "default policy": verdict,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    explain_cmd = commands.add_parser(
        "explain", help="explain an error answer (JSON body or curl -i transcript)"
    )
    explain_cmd.add_argument(
        "file", nargs="?", default="-", help="file to read; - or nothing for stdin"
    )
    explain_cmd.add_argument(
        "--status", type=int, default=None, help="HTTP status when the input has no status line"
    )
    explain_cmd.add_argument(
        "--provider", default=None, help="who sent it, when the shape does not tell"
    )
    explain_cmd.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    if args.file == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as handle:
            raw = handle.read()
    result = explain(raw.decode("utf-8", "replace"), args.status, args.provider)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        width = max(len(key) for key in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0
