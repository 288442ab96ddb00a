"""Peer projects' test tables, kept as data in tests/data/peers/*.json.

Each file holds ``{"project": ..., "rows": [...]}``; each row is::

    {"id", "source", "input", "peer_expects", "compat_expects", "note"}

* ``source`` names the peer's repository, file and test (and commit) the row comes from;
* ``input`` is either a raw answer, ``{"status", "headers", "body"}`` (read through
  ``compat.from_response``), or an SDK exception, ``{"exception", "message", "status",
  "headers", "response_body", "body"[, "url"]}`` (a v1 SDK class built around that answer
  and read through ``compat.translate``);
* an answer may carry ``"clock": {"header", "peer_now", "offset", "form"}``: its header
  holds an HTTP date ``offset`` seconds after the peer test's mocked clock ``peer_now``,
  written in ``form`` (a ``str.format`` template, see :func:`render`). The date is
  rebuilt against the real clock when the row runs;
* ``peer_expects`` is what the peer's test asserts, kept for the reader;
* ``compat_expects`` is what DESIGN.md says compat gives for the input (see
  :data:`EXPECTATIONS`);
* ``note`` says where and why compat and the peer differ.

This module only loads and checks the shape of the data; tests/test_peer_tables.py runs it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "peers"

ROW_KEYS = frozenset({"id", "source", "input", "peer_expects", "compat_expects", "note"})
ANSWER_KEYS = frozenset({"status", "headers", "body"})
CLOCK_KEYS = frozenset({"header", "peer_now", "offset", "form"})
EXCEPTION_KEYS = frozenset({"exception", "message", "status", "headers", "response_body", "body"})
#: What ``compat_expects`` may hold. ``error: null`` means "a success, not an error";
#: ``kind_not`` lists kinds the error must not have; ``content_filter`` maps a source
#: ("prompt", "completion") to the filtered category names; ``decision`` is checked with
#: ``RetryPolicy(**policy).decide(error, attempt, elapsed, random=lambda: random)``.
EXPECTATIONS = frozenset(
    {
        "error",
        "kind",
        "kind_not",
        "retryable",
        "retry_after",
        "status",
        "code",
        "provider",
        "param",
        "content_filter",
        "decision",
    }
)
DECISION_KEYS = frozenset({"attempt", "elapsed", "random", "policy", "retry", "wait"})
KINDS = frozenset(
    {
        "authentication",
        "permission_denied",
        "invalid_request",
        "context_length_exceeded",
        "output_truncated",
        "content_filtered",
        "not_found",
        "conflict",
        "rate_limited",
        "quota_exceeded",
        "overloaded",
        "server_error",
        "timeout",
        "connection",
        "bad_response",
        "unknown",
    }
)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render(form: str, when: int) -> str:
    """The instant *when* (seconds since the epoch, UTC) written in *form*.

    *form* is a ``str.format`` template over ``a`` (``Mon``), ``A`` (``Monday``), ``d``
    (day of the month), ``b`` (``Jun``), ``Y`` (``2019``), ``y`` (``19``), ``H``, ``M``,
    ``S``; English names whatever the locale.
    """
    t = time.gmtime(when)
    return form.format(
        a=_DAYS[t.tm_wday],
        A=_FULL_DAYS[t.tm_wday],
        d=t.tm_mday,
        b=_MONTHS[t.tm_mon - 1],
        Y=t.tm_year,
        y=t.tm_year % 100,
        H=t.tm_hour,
        M=t.tm_min,
        S=t.tm_sec,
    )


class MalformedRow(ValueError):
    """A row of a peer table does not have the documented shape."""


def _require(condition: bool, row_id: str, what: str) -> None:
    if not condition:
        raise MalformedRow(f"{row_id}: {what}")


def check_row(row: dict[str, Any]) -> None:
    """Raise :class:`MalformedRow` unless *row* has the documented shape."""
    row_id = str(row.get("id"))
    _require(set(row) == ROW_KEYS, row_id, f"keys {sorted(row)} are not {sorted(ROW_KEYS)}")
    _require(isinstance(row["id"], str) and "/" in row["id"], row_id, "id is '<project>/<case>'")
    source = row["source"]
    _require(
        isinstance(source, str) and source.count("/") >= 2 and "#" in source,
        row_id,
        "source is '<owner>/<repo>/<path>#<test or line>'",
    )
    given = row["input"]
    _require(isinstance(given, dict), row_id, "input is an object")
    if "exception" in given:
        _require(
            EXCEPTION_KEYS <= set(given) <= EXCEPTION_KEYS | {"url"}, row_id, "exception input keys"
        )
    else:
        _require(ANSWER_KEYS <= set(given) <= ANSWER_KEYS | {"clock"}, row_id, "answer input keys")
        clock = given.get("clock")
        if clock is not None:
            _require(set(clock) == CLOCK_KEYS, row_id, "clock keys")
            literal = given["headers"].get(clock["header"])
            _require(
                literal == render(clock["form"], clock["peer_now"] + clock["offset"]),
                row_id,
                f"the clock's form does not write the peer's value {literal!r}",
            )
    expects = row["compat_expects"]
    _require(isinstance(expects, dict) and bool(expects), row_id, "compat_expects is an object")
    clock = given.get("clock")
    if clock is not None and expects.get("retry_after") is not None:
        _require(
            expects["retry_after"] == max(0, clock["offset"]),
            row_id,
            "a dated header's expected wait is its distance from the peer's clock (0 if past)",
        )
    _require(
        set(expects) <= EXPECTATIONS, row_id, f"unknown expectations {set(expects) - EXPECTATIONS}"
    )
    _require(
        "error" not in expects or expects == {"error": None}, row_id, "error: null stands alone"
    )
    if "kind" in expects:
        _require(expects["kind"] in KINDS, row_id, f"kind {expects['kind']!r} is not in DESIGN")
    for kind in expects.get("kind_not", ()):
        _require(kind in KINDS, row_id, f"kind {kind!r} is not in DESIGN")
    decision = expects.get("decision")
    if decision is not None:
        _require(set(decision) <= DECISION_KEYS, row_id, "decision keys")
        _require({"attempt", "retry"} <= set(decision), row_id, "decision gives attempt and retry")
    _require(isinstance(row["note"], str), row_id, "note is text")


def load() -> list[dict[str, Any]]:
    """Every row of every peer table, checked, in file order; ids are unique."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    files = sorted(DATA.glob("*.json"))
    if not files:
        raise MalformedRow(f"no peer tables in {DATA}")
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        table = document["rows"]
        if not table:
            raise MalformedRow(f"{path.name}: no rows")
        for row in table:
            check_row(row)
            if row["id"] in seen:
                raise MalformedRow(f"{row['id']}: the id is used twice")
            if not row["id"].startswith(path.stem + "/"):
                raise MalformedRow(f"{row['id']}: ids in {path.name} start with '{path.stem}/'")
            seen.add(row["id"])
            rows.append(row)
    return rows
