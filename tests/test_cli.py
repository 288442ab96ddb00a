"""python -m compat explain and serve: answers explained, and the errors of the commands."""

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


def test_explain_a_missing_file_says_so(tmp_path: Path) -> None:
    done = run("explain", str(tmp_path / "absent.txt"))
    assert 2 == done.returncode
    assert "cannot read" in done.stderr
    assert "absent.txt" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_on_a_taken_port_says_so() -> None:
    from compat.testing import FaultServer

    with FaultServer() as server:
        done = subprocess.run(
            [sys.executable, "-m", "compat", "serve", "--port", str(server.port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert 2 == done.returncode
    assert f"cannot listen on 127.0.0.1:{server.port}" in done.stderr
    assert "Traceback" not in done.stderr
