"""Every pattern that reads what a server sent runs in time linear in its input.

Durations, retry-after values, waits and request ids in messages, HTML headings,
tags, and the redaction patterns each get a megabyte of their worst case: the
input that makes a backtracking pattern rescan what an earlier attempt read (a
run of digits without a unit, ``<title>`` repeated without a close, ``<``
repeated, a keyword followed by a megabyte of spaces). Linear, each reading takes
well under a second here; quadratic, it takes minutes to hours. Each group runs
in a subprocess under a generous guard, so a regression fails instead of hanging.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Far above a linear reading of every case of a group here (well under 5 s in all),
#: far below a quadratic one (an 8 KB run of digits once took 3 s to read as a duration).
GUARD = 60.0
M = "2**20"

GROUPS = {
    "durations": (
        "from compat._parse import parse_duration as f",
        [f"'1' * {M} + 'x'", f"'1s' * ({M} // 2) + 'x'", f"'9' * {M}", f"'1.' * ({M} // 2) + 's'"],
    ),
    "retry-after values": (
        "from compat._parse import parse_retry_after as f",
        [f"'9' * {M}", f"'Sun, ' + 'a' * {M}", f"'-' + '1' * {M}", f"' ' * {M} + 'x'"],
    ),
    "waits in messages": (
        "from compat._parse import retry_after_from_message as f",
        [
            f"'Please try again in ' + '9' * {M} + 'x'",
            f"'retry after' + ' ' * {M}",
            f"'try again in 1' + 'm1' * {M} + 'x'",
            f"'try again in ' * ({M} // 13)",
        ],
    ),
    "request ids in messages": (
        "from compat._parse import request_id_in_text\nf = lambda t: request_id_in_text(t, t.lower())",
        [f"'request id ' + 'a' * {M}", f"'request id ' * ({M} // 11)"],
    ),
    "HTML headings": (
        "from compat._parse import html_heading as f",
        [
            f"'<title>' * ({M} // 7)",
            f"'<title' * ({M} // 6)",
            f"'<h1 ' * ({M} // 4)",
            f"'<title>' + 'x' * {M}",
            f"'<title></title>' * ({M} // 15)",
        ],
    ),
    "tags and spaces": (
        "from compat._parse import squeeze as f",
        [f"'<' * {M}", f"'<a ' * ({M} // 3)", f"' ' * {M} + 'x'", f"'<' + 'a' * {M}"],
    ),
    "redaction": (
        "from compat._redact import redact_text as f",
        [
            f"'sk-' + 'a' * {M}",
            f"'-sk-aaaaaaaaaaaaa!' * ({M} // 18)",
            f"'Bearer ' + ' ' * {M} + '!'",
            f"'Bearer     ' * ({M} // 11)",
            f"'?key=' + 'a' * {M}",
            f"'&key=' * ({M} // 5)",
            f"'secret' + ' ' * {M} + 'x'",
            f"'secret:' + ' ' * {M} + 'x'",
            f"'api_key: abcde ' * ({M} // 15)",
            f"'\"password\"=' * ({M} // 11)",
            f"'a' * {M}",
            f"('a' * 31 + '-') * ({M} // 32)",
            f"'authorization: ' * ({M} // 15)",
            f"'Authorization: Token ' + 'a' * {M}",
            f"'eyJ' + 'a' * {M}",
            f"'eyJaaaa.' * ({M} // 8)",
            f"'eyJ' * ({M} // 3)",
            f"'%20eyJ' * ({M} // 6) + 'a' * {M}",
            f"'eyJaaaa.' + 'eyJ' * ({M} // 3)",
            f"'\\\\neyJ' + 'eyJ' * ({M} // 3)",
            f"('a' * 52 + 'JQQJ99') * ({M} // 58)",
            f"'%3Dkey%3D' * ({M} // 9)",
            f"'%20sk-' * ({M} // 6)",
            f"\"'token': '\" + 'a' * {M}",
            f"\"'token': \" * ({M} // 9)",
            f"\"'password':\" + ' ' * {M} + 'x'",
            f"\"{{'secret': [\" * ({M} // 12)",
            f"'\"' * {M}",
            f"'\"token\": [' + '[a' * ({M} // 2)",
            f"'\"token\": {{' + '{{a' * ({M} // 2)",
            f"'\"token\": \"' + '\\\\a' * ({M} // 2)",
        ],
    ),
    "scrubbed exceptions": (
        "from compat._secrets import scrub\n"
        "def f(text):\n"
        "    exc = ValueError(text)\n"
        "    exc.message, exc.body = text, {'error': {'message': text}}\n"
        "    scrub(exc)\n"
        "    return exc.args[0]",
        [
            f"'Invalid input: ' + 'eyJ' * ({M} // 3)",
            f"\"'api_key': '\" * ({M} // 12)",
            f"'\"password\": [' * ({M} // 13)",
        ],
    ),
    "redacted URLs": (
        "from compat._redact import redact_url as f",
        [f"'//' + 'a' * {M}", f"'//a' * ({M} // 3)", f"'//' + ' ' * {M}"],
    ),
    "whole answers": (
        "import compat\nf = lambda args: compat.from_response(*args)",
        [
            f"(429, {{'x-ratelimit-reset-requests': '1' * {M} + 'x', 'retry-after': '9' * {M}}}, b'{{}}')",
            f"(502, {{}}, '<title>' * ({M} // 7))",
            f"(500, {{}}, '<' * {M})",
            f"(429, {{}}, {{'error': {{'message': 'Please try again in ' + '9' * {M} + 'x'}}}})",
            f"(500, {{}}, {{'error': {{'message': 'request id ' + 'a' * {M}}}}})",
            f"(500, {{}}, {{'error': {{'message': 'sk-' + 'a' * {M}}}}})",
        ],
    ),
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_worst_cases_read_in_linear_time(group: str) -> None:
    """A megabyte of each worst case is read (and, for whole answers, shown) before the guard."""
    setup, inputs = GROUPS[group]
    lines = [setup]
    for text in inputs:
        lines.append(f"r = f({text})")
        lines.append("str(r) if not hasattr(r, 'message') else (str(r), r.message, repr(r.body))")
    lines.append("print('read', " + str(len(inputs)) + ")")
    try:
        done = subprocess.run(
            [sys.executable, "-c", "\n".join(lines)],
            capture_output=True,
            text=True,
            timeout=GUARD,
            cwd=ROOT,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{group}: a megabyte of a worst case was not read within {GUARD:.0f} s")
    assert f"read {len(inputs)}" == done.stdout.strip()
