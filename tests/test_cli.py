"""python -m compat explain and serve: answers explained, and the errors of the commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "retry after 1.5 to 1.65 s (the server asked to wait 1.5 s" in done.stdout


def test_verbose_transcript_with_redirect_lines() -> None:
    """curl -v prefixes ('< ') and an interim status line are understood: the last status wins."""
    text = "< HTTP/1.1 100 Continue\n<\n< HTTP/1.1 503 Service Unavailable\n< Retry-After: 7\n<\n<html>down</html>"
    status, headers, body = parse_transcript(text)
    assert status == 503
    assert headers == [("Retry-After", "7")]
    assert body == "<html>down</html>"


def test_explain_a_missing_file_says_so(tmp_path: Path) -> None:
    """A file that cannot be read is said so in one line, with exit status 2."""
    done = run("explain", str(tmp_path / "absent.txt"))
    assert 2 == done.returncode
    assert "cannot read" in done.stderr
    assert "absent.txt" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_on_a_taken_port_says_so() -> None:
    """A port another server holds is said so in one line, with exit status 2."""
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


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "99999"], "--port"),
        (["--port", "-1"], "--port"),
        (["--port", "eighty"], "--port"),
        (["--rate", "5", "--burst", "0"], "--burst"),
        (["--burst", "3"], "--burst"),
        (["--rate", "0"], "--rate"),
        (["--rate", "nan"], "--rate"),
        (["--outage", "-5"], "--outage"),
        (["--quota", "-1"], "--quota"),
        (["--faults", "nosuch"], "nosuch"),
        (["--faults", "reset"], "--faults"),
        (["--fault-rate", "1.5"], "--fault-rate"),
        (["--signal", "loud"], "--signal"),
        (["--signal", "integer"], "--signal"),
        (["--noise", "-0.1"], "--noise"),
        (["--tpm", "0"], "--tpm"),
        (["--rpm", "60"], "--rpm"),
        (["--tpm", "6000", "--period", "0"], "--period"),
    ],
)
def test_serve_refuses_each_bad_option_in_one_line(args: list[str], named: str) -> None:
    """Every bad option of serve is one line on stderr that names it, and exit status 2,
    before the server starts (the timeout only guards against one that serves anyway)."""
    done = subprocess.run(
        [sys.executable, "-m", "compat", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert 2 == done.returncode, done.stdout
    assert "" == done.stdout
    lines = done.stderr.strip().splitlines()
    assert 1 == len(lines), done.stderr
    assert named in lines[0]


def _no_control_characters(text: str) -> bool:
    """Whether *text* holds no control character a terminal would act on (newlines aside)."""
    return not any(
        (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\ufffd" for c in text
    )


def test_explain_shows_binary_input_as_binary(tmp_path: Path) -> None:
    """A binary file (here gzip, with a '<' and an escape byte in it) is said to be binary,
    shown as a short escaped excerpt, and no raw control byte reaches the terminal."""
    data = bytes.fromhex("1f8b0800000000000003") + b"<\x1b[2J\x00\x07" + bytes(range(128, 256))
    path = tmp_path / "answer.gz"
    path.write_bytes(data)
    done = run("explain", str(path))
    assert 0 == done.returncode, done.stderr
    assert _no_control_characters(done.stdout), done.stdout
    assert "HTML page" not in done.stdout
    assert f"binary, {len(data)} bytes" in done.stdout
    assert "\\x1f\\x8b\\x08\\x00" in done.stdout
    shown = json.loads(run("explain", "--json", str(path)).stdout)
    assert shown["body"].startswith(f"binary, {len(data)} bytes")
    assert "HTML page" not in shown["message"]


def test_explain_escapes_control_characters_in_text() -> None:
    """A text answer whose message carries terminal escapes is printed with them escaped."""
    body = b'{"error": {"message": "boom \x1b]0;owned\x07 \x1b[31mred\xc2\x9b", "code": null}}'
    for args in ((), ("--json",)):
        done = run("explain", "--status", "500", *args, stdin=body)
        assert 0 == done.returncode, done.stderr
        assert _no_control_characters(done.stdout), done.stdout
        assert "owned" in done.stdout


@pytest.mark.parametrize("stdin", [b"", b"  \n\r\n\t"])
def test_explain_with_nothing_to_explain_says_so(stdin: bytes) -> None:
    """Empty input is not a success: explain says there is nothing to explain, exit 2."""
    done = run("explain", stdin=stdin)
    assert 2 == done.returncode
    assert "" == done.stdout
    assert ["compat explain: nothing to explain: the input is empty"] == done.stderr.splitlines()


def test_explain_says_an_html_502_is_retried_after_a_backoff() -> None:
    """A proxy's HTML 502 names no wait: the default policy backs off, which explain says
    with the backoff's range, not as 'retry after 0 s or more'."""
    done = run("explain", "--json", str(DATA / "proxy_502_html.txt"))
    assert 0 == done.returncode, done.stderr
    verdict = json.loads(done.stdout)["default policy"]
    assert "0 s or more" not in verdict
    assert verdict.startswith("retry after a backoff of 0 to 0.5 s"), verdict
    assert "no server wait was given" in verdict


@pytest.mark.parametrize("command", [[], ["explain"], ["demo"], ["scan"], ["serve"]])
def test_help_reads_as_plain_text(command: list[str]) -> None:
    """--help of the command and of each subcommand shows no reST markup: no backticks,
    no :role: prefixes."""
    done = run(*command, "--help")
    assert 0 == done.returncode, done.stderr
    assert "usage: python -m compat" in done.stdout
    assert "`" not in done.stdout
    assert not re.search(r":[a-z]+:", done.stdout.replace("http://", "").replace("https://", ""))


def test_serve_with_a_token_limit_and_noise() -> None:
    """serve --tpm and --noise make a TokenLimit and Noise, in that order of judging."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "compat",
            "serve",
            "--port",
            "0",
            "--tpm",
            "6000",
            "--rpm",
            "100",
            "--period",
            "1",
            "--noise",
            "0.25",
            "--seed",
            "4",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[-1].startswith("rules"), lines
        assert "Noise(share=0.25" in lines[-1]
        assert "TokenLimit(tokens_per_minute=6000, requests_per_minute=100, period=1" in lines[-1]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    assert url.startswith("http://127.0.0.1:")
