"""``python -m compat``: command-line tools.

``explain`` reads an error as a server sent it (a JSON body, or a whole
``curl -i`` transcript with its status line and headers) and prints what compat
makes of it. ``scan`` finds uses of the legacy ``openai.error`` module and
``--fix`` rewrites them to :mod:`compat.legacy`. ``demo`` runs the SDK and the gateway client through
``compat.wrap`` against the fault server under a storm of failures. ``serve``
runs the fault server standalone.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, NoReturn

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


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _port(text: str) -> int:
    """A TCP port for ``--port``: 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: 0 (any free one) to 65535")
    return port


def main(argv: list[str] | None = None) -> int:
    from compat.testing._faults import SIGNALS

    parser = _Parser(prog="python -m compat", description=__doc__)
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

    demo_cmd = commands.add_parser(
        "demo",
        help="run the SDK and the gateway client through compat.wrap under a storm of failures",
    )
    demo_cmd.add_argument("--json", action="store_true", help="print only the summary, as JSON")

    scan_cmd = commands.add_parser(
        "scan",
        help="find uses of the legacy openai.error module; --fix rewrites them to compat.legacy",
    )
    scan_cmd.add_argument("paths", nargs="+", help="files or directories")
    scan_cmd.add_argument("--fix", action="store_true", help="rewrite in place")
    scan_cmd.add_argument("--json", action="store_true", help="print JSON")

    serve_cmd = commands.add_parser("serve", help="run the fault server until interrupted")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=_port, default=8765, help="0 picks a free port")
    serve_cmd.add_argument(
        "--rate", type=float, default=None, help="token bucket: requests per second"
    )
    serve_cmd.add_argument("--burst", type=float, default=None, help="token bucket: size")
    serve_cmd.add_argument(
        "--signal",
        default=None,
        help="how a 429 tells its wait: precise (the default), " + ", ".join(SIGNALS[1:]),
    )
    serve_cmd.add_argument(
        "--quota", type=int, default=None, help="requests before the quota runs out"
    )
    serve_cmd.add_argument(
        "--outage", type=float, default=None, help="seconds of 503 from the start"
    )
    serve_cmd.add_argument(
        "--fault-rate", type=float, default=None, help="share of requests to fail (0-1)"
    )
    serve_cmd.add_argument(
        "--faults", default=None, help="comma-separated fault names (default: all)"
    )
    serve_cmd.add_argument(
        "--seed", type=int, default=None, help="seed of the random faults (default 0)"
    )
    serve_cmd.add_argument("--api-key", default=None, help="answer 401 unless this key is sent")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from compat._demo import main as demo

        return demo(json_output=args.json)
    if args.command == "serve":
        return _serve(args)
    if args.command == "scan":
        from compat._scan import run as scan

        return scan(args.paths, fix=args.fix, as_json=args.json)

    if args.file == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            print(
                f"compat explain: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr
            )
            return 2
    result = explain(raw.decode("utf-8", "replace"), args.status, args.provider)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        width = max(len(key) for key in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from compat.testing import FaultServer
    from compat.testing._faults import NAMED
    from compat.testing._options import flag_name, rules_from_options

    options = {
        "rate": args.rate,
        "burst": args.burst,
        "signal": args.signal,
        "quota": args.quota,
        "outage": args.outage,
        "fault_rate": args.fault_rate,
        "faults": args.faults,
        "seed": args.seed,
    }
    try:
        rules = rules_from_options(options, spell=flag_name)
    except ValueError as exc:
        print(f"compat serve: {exc}", file=sys.stderr)
        return 2
    try:
        server = FaultServer(host=args.host, port=args.port, rules=rules, api_key=args.api_key)
    except OSError as exc:
        print(
            f"compat serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    print(server.url, flush=True)
    print(
        f"OpenAI base_url   {server.openai_url}\n"
        f"Azure endpoint    {server.azure_endpoint}\n"
        f"gateway base_url  {server.gateway_url}\n"
        f"rules             {rules or 'none: every request succeeds'}\n"
        f"faults            {', '.join(NAMED)}\n"
        f"control           GET {server.url}/_compat/stats, POST {server.url}/_compat/config\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    server.serve_forever()
    return 0
