"""Peer projects' own test tables, run against compat.

The rows in tests/data/peers/ are the test cases of openai-python, openai-node,
urllib3, azure-core, LiteLLM and Semantic Kernel (tests/peer_tables.py describes
their shape). Each row is run through compat's public surface and must give what DESIGN.md
says; where DESIGN deliberately differs from the peer, the row's note says so and the
row tests DESIGN's answer.

Rows that compat does not pass today are listed in :data:`KNOWN_FAILURES` with what
compat gives instead; they run as strict xfails, so fixing one makes its test fail
until its entry is removed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import compat
from tests.peer_tables import load, render

ROWS = load()

#: Rows compat fails today: id -> what compat gives instead (and which mechanism).
KNOWN_FAILURES: dict[str, str] = {}

# Rows whose HTTP date is read under a time zone far from UTC, so that a date read in
# local time shows (urllib3 runs its date cases under Asia/Jerusalem for the same reason).
DATE_TIME_ZONE = "Asia/Jerusalem"


def _cases() -> list[Any]:
    cases = []
    for row in ROWS:
        marks = []
        if row["id"] in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[row["id"]]))
        cases.append(pytest.param(row, id=row["id"], marks=marks))
    return cases


def _sdk_exception(given: dict[str, Any]) -> BaseException:
    """The v1 SDK exception the row describes, built the way the SDK builds it."""
    openai = pytest.importorskip("openai")
    if not hasattr(openai, "OpenAI"):
        pytest.skip("the row starts from a v1+ SDK exception")
    namespace = vars(openai._exceptions)
    httpx = namespace.get("httpx2") or namespace["httpx"]  # whichever the SDK is built on
    request = httpx.Request("POST", given.get("url", "https://api.openai.com/v1/chat/completions"))
    options: dict[str, Any] = {"headers": given["headers"], "request": request}
    if given["response_body"] is not None:
        options["json"] = given["response_body"]
    response = httpx.Response(given["status"], **options)
    exception_class = getattr(openai, given["exception"])
    exception: BaseException = exception_class(
        given["message"], response=response, body=given["body"]
    )
    return exception


def _read(row: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The error compat makes of the row's input, and for a dated header the range the
    wait must fall in: the date is rebuilt ``offset`` seconds after the last whole second
    of the real clock, so the right reading lies between its distance from the clock
    before and after the call. Dates are read under a time zone far from UTC."""
    given = row["input"]
    if "exception" in given:
        return compat.translate(_sdk_exception(given)), None
    headers = dict(given["headers"])
    clock = given.get("clock")
    if clock is None:
        return compat.from_response(given["status"], headers, given["body"]), None
    with monkeypatch.context() as patch:
        if hasattr(time, "tzset"):
            patch.setenv("TZ", DATE_TIME_ZONE)
            time.tzset()
        before = time.time()
        target = int(before) + clock["offset"]
        headers[clock["header"]] = render(clock["form"], target)
        error = compat.from_response(given["status"], headers, given["body"])
        after = time.time()
    if hasattr(time, "tzset"):
        time.tzset()
    return error, (max(0.0, target - after), max(0.0, target - before))


def _check_retry_after(actual: Any, expected: Any, window: Any) -> None:
    if expected is None:
        assert actual is None
    elif window is None:
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9)
    else:
        low, high = window
        assert actual is not None
        assert low - 1e-6 <= actual <= high + 1e-6, (actual, window)


def _check_decision(error: Any, expected: dict[str, Any]) -> None:
    policy = compat.RetryPolicy(**expected.get("policy", {}))
    draw = float(expected.get("random", 0.0))
    decision = policy.decide(
        error, expected["attempt"], float(expected.get("elapsed", 0.0)), random=lambda: draw
    )
    assert expected["retry"] is decision.retry, decision.reason
    if "wait" in expected:
        assert decision.wait == pytest.approx(expected["wait"], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("row", _cases())
def test_peer_row(row: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """compat gives DESIGN's answer for a peer project's test case."""
    expects = row["compat_expects"]
    error, window = _read(row, monkeypatch)
    if "error" in expects:
        assert error is None, (error.kind, error.message) if error is not None else None
        return
    assert isinstance(error, compat.LLMError)
    if "kind" in expects:
        assert expects["kind"] == error.kind.value, error.message
    if "kind_not" in expects:
        assert error.kind.value not in expects["kind_not"], error.message
    for name in ("retryable", "status", "code", "provider", "param"):
        if name in expects:
            assert expects[name] == getattr(error, name), name
    if "retry_after" in expects:
        _check_retry_after(error.retry_after, expects["retry_after"], window)
    if "content_filter" in expects:
        filtered: dict[str, list[str]] = {source: [] for source in expects["content_filter"]}
        for result in error.content_filter:
            filtered.setdefault(result.source, []).extend(result.filtered)
        assert expects["content_filter"] == {s: sorted(names) for s, names in filtered.items()}
    if "decision" in expects:
        _check_decision(error, expects["decision"])


def test_known_failures_name_rows() -> None:
    """Every entry of KNOWN_FAILURES names a row that exists and says what compat gives."""
    ids = {row["id"] for row in ROWS}
    assert [] == sorted(set(KNOWN_FAILURES) - ids)
    assert all(reason.strip() for reason in KNOWN_FAILURES.values())


def test_every_peer_is_represented() -> None:
    """The tables cover every peer the rows were collected from, each with several rows."""
    projects: dict[str, int] = {}
    for row in ROWS:
        project = row["id"].split("/", 1)[0]
        projects[project] = projects.get(project, 0) + 1
    assert {
        "azure-core",
        "litellm",
        "openai-node",
        "openai-python",
        "semantic-kernel",
        "urllib3",
    } == set(projects)
    assert min(projects.values()) >= 3
