"""python -m compat explain: an answer as a server sent it, explained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from compat._cli import parse_transcript

DATA = Path(__file__).parent / "data" / "transcripts"


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compat", *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_explain_a_curl_transcript() -> None:
    """A curl -i transcript of a quota 429 is explained as quota_exceeded, not retryable."""
    done = run("explain", "--json", str(DATA / "openai_429_quota.txt"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["kind"], result["retryable"], result["status"]) == ("quota_exceeded", False, 429)
    assert result["request_id"] == "6d3b2b9a1c5e4f0d8a7b6c5d4e3f2a1b"
    assert result["default policy"].startswith("raise now: quota_exceeded")


def test_explain_a_body_from_stdin() -> None:
    """A bare JSON body with --status is read from standard input."""
    body = b'{"error": {"message": "Rate limit reached. Please try again in 1.5s", "code": "rate_limit_exceeded"}}'
    done = run("explain", "--status", "429", stdin=body)
    assert done.returncode == 0, done.stderr
    assert "rate_limited" in done.stdout
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines() if " " in line)
    assert "1.5" == lines["retry_after"].strip()
    assert "retry after 1.5 s or more" in done.stdout


def test_verbose_transcript_with_redirect_lines() -> None:
    """curl -v prefixes ('< ') and an interim status line are understood: the last status wins."""
    text = "< HTTP/1.1 100 Continue\n<\n< HTTP/1.1 503 Service Unavailable\n< Retry-After: 7\n<\n<html>down</html>"
    status, headers, body = parse_transcript(text)
    assert status == 503
    assert headers == [("Retry-After", "7")]
    assert body == "<html>down</html>"
