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
from typing import TYPE_CHECKING, Any, NoReturn

from compat._parse import shown_seconds
from compat._redact import redact_text
from compat._translate import from_response

if TYPE_CHECKING:
    from compat._errors import LLMError

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


def _is_binary(data: bytes) -> bool:
    """Whether *data* is binary rather than text: a NUL byte, many control bytes, or
    much that is not UTF-8 (a page in Latin-1 with a few accents is still text)."""
    sample = data[:4096]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(
        1 for byte in sample if (byte < 32 and byte not in b"\t\n\r\f\x1b") or byte == 127
    )
    if controls > len(sample) // 20:
        return True
    text = sample.decode("utf-8", "replace")
    return text.count("\ufffd") > len(text) // 10


def _excerpt(data: bytes, limit: int = 48) -> str:
    """The start of binary *data*, every byte that is not printable ASCII escaped."""
    shown = repr(data[:limit])[2:-1]
    return redact_text(shown) + ("…" if len(data) > limit else "")


#: Characters shown escaped: C0 and C1 controls and DEL (a terminal acts on them), the
#: bidirectional controls (they reorder what is shown) and lone surrogates (undecodable
#: input; they cannot be printed).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _safe(text: str) -> str:
    """*text* with every control character escaped, so that printing it cannot drive the
    terminal or break a line."""
    return _UNSAFE.sub(
        lambda m: _NAMED.get(
            m.group(),
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
        ),
        text,
    )


#: What ``json.dumps`` leaves unescaped of :data:`_UNSAFE` (it escapes C0 controls itself).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _json_safe(text: str) -> str:
    """JSON *text* with the characters of :data:`_UNSAFE` that ``json.dumps`` leaves as
    they are escaped too."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _verdict(error: LLMError) -> str:
    """What the default policy does after a first attempt failed with *error*, in words."""
    from compat.retry.policy import RetryPolicy

    policy = RetryPolicy()
    soonest = policy.decide(error, 1, 0.0, random=lambda: 0.0)
    if not soonest.retry:
        return f"raise now: {soonest.reason}"
    latest = policy.decide(error, 1, 0.0, random=lambda: 1.0)
    if error.retry_after is None:
        return (
            f"retry after a backoff of {shown_seconds(soonest.wait)} to {shown_seconds(latest.wait)} s, chosen at"
            " random: no server wait was given"
        )
    return f"retry after {shown_seconds(soonest.wait)} to {shown_seconds(latest.wait)} s ({soonest.reason}; jitter only adds to it)"


def explain(text: str | bytes, status: int | None, provider: str | None) -> dict[str, Any]:
    """What compat makes of one answer (a body, or a ``curl -i`` transcript), as a dict
    ready to print. A binary body is shown as an escaped excerpt."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    found_status, headers, body_text = parse_transcript(text)
    status = found_status if found_status is not None else status
    body = body_text.encode("utf-8", "surrogateescape")
    error = from_response(status, headers, body, provider=provider)
    if error is None:
        return {"status": status, "error": None, "verdict": "success: not an error"}
    message = error.message
    shown: dict[str, Any] = {}
    if _is_binary(body):
        where = f"HTTP {error.status}" if error.status is not None else "An answer"
        message = f"{where} with a binary body ({len(body)} bytes) instead of JSON"
        shown["body"] = f"binary, {len(body)} bytes: {_excerpt(body)}"
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
        **shown,
        "message": message,
        "default policy": _verdict(error),
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


_ROLE = re.compile(r":[a-z]+:`([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``")


def plain(text: str) -> str:
    """reST *text* (a docstring) as plain text for ``--help``: ``code`` and
    :role:`name` become code and name."""
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text)).replace("`", "")


def main(argv: list[str] | None = None) -> int:
    from compat.testing._faults import SIGNALS

    parser = _Parser(prog="python -m compat", description=plain(__doc__ or ""))
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
        "--tpm",
        type=float,
        default=None,
        help="token limit: tokens per minute, charged as OpenAI does",
    )
    serve_cmd.add_argument(
        "--rpm", type=float, default=None, help="token limit: also requests per minute"
    )
    serve_cmd.add_argument(
        "--period",
        type=float,
        default=None,
        help="token limit: seconds over which it is enforced (default 60: a whole minute's tokens at once)",
    )
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
        "--noise",
        type=float,
        default=None,
        help="share of requests (0-1) that get a stray 429 asking for 15-20 ms, with no limit behind it",
    )
    serve_cmd.add_argument(
        "--latency", type=float, default=None, help="seconds every success is held back"
    )
    serve_cmd.add_argument(
        "--seed", type=int, default=None, help="seed of the random faults and the noise (default 0)"
    )
    serve_cmd.add_argument("--api-key", default=None, help="answer 401 unless this key is sent")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from compat._demo import main as demo

        return demo(json_output=args.json)
    if args.command == "serve":
        return _serve(args)
    if args.command == "scan":
        from compat.migration.scan import run as scan

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
    if not raw.strip():
        where = "the input" if args.file == "-" else args.file
        print(f"compat explain: nothing to explain: {where} is empty", file=sys.stderr)
        return 2
    result = explain(raw, args.status, args.provider)
    if args.json:
        print(_json_safe(json.dumps(result, indent=2, ensure_ascii=False)))
    else:
        width = max(len(key) for key in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {_safe(str(value))}")
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
        "noise": args.noise,
        "seed": args.seed,
        "tpm": args.tpm,
        "rpm": args.rpm,
        "period": args.period,
        "latency": args.latency,
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
