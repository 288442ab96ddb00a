"""Sources as data: every row can match, a mapping is one row in one file, new sources plug in.

Each built-in source is a module of compat.adapters that owns all its rows. The
checker below reads every registered source's rows and proves each one decides
an answer built to reach it: a row that can never match (a CamelCase phrase
against lower-cased text, a code two sources list, a phrase a shorter one hides,
a gateway code its padding never produces) fails here.
"""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import compat
from compat.adapters import gateway
from compat.extend import Row, Source, Wrapper, register_source, sources, unregister_source

ROOT = Path(__file__).resolve().parents[1]
K = compat.ErrorKind
SCANNED = 2000  # how much of a message phrases are looked for in (compat._classify)


def _decides(error: compat.LLMError | None, row: Row) -> bool:
    if error is None or error.kind is not row.kind:
        return False
    return row.retryable is None or error.retryable is row.retryable


def _ordered_shadows(what: str, needles: list[tuple[str, Row]]) -> list[str]:
    """Phrases that an earlier phrase contained in them always answers first."""
    found = []
    for at, (needle, _) in enumerate(needles):
        for earlier, _ in needles[:at]:
            if earlier in needle:
                found.append(f"{what} {needle!r} is hidden by {earlier!r}")
                break
    return found


def unreachable() -> list[str]:
    """Every row of every registered source that no answer can reach, said in a sentence."""
    from compat._sources import tables

    merged = tables()
    problems: list[str] = []
    seen_codes: dict[str, str] = {}
    seen_types: dict[str, str] = {}
    for source in sources():
        name = source.name
        for code, row in source.codes.items():
            if not code or code != code.strip():
                problems.append(f"{name}: code {code!r} is never sent so")
            other = seen_codes.setdefault(code.lower(), name)
            if other != name or merged.codes[code.lower()][0] is not row:
                problems.append(f"{name}: code {code!r} is answered by {other}'s row")
                continue
            probe = {"error": {"code": code, "message": "-"}}
            if not _decides(compat.from_response(None, {}, probe), row):
                problems.append(f"{name}: code {code!r} does not decide")
            if source.marked_codes:
                marked = compat.from_response(None, {}, probe)
                if marked is None or marked.provider != name:
                    problems.append(f"{name}: code {code!r} does not mark the answer")
        for type_, row in source.types.items():
            other = seen_types.setdefault(type_.lower(), name)
            if other != name:
                problems.append(f"{name}: type {type_!r} is answered by {other}'s row")
                continue
            probe = {"error": {"type": type_, "message": "-"}}
            if not _decides(compat.from_response(None, {}, probe), row):
                problems.append(f"{name}: type {type_!r} does not decide")
        for what, table in (("phrase", source.phrases), ("hint", source.hints)):
            for phrase, row in table.items():
                if not phrase or phrase != phrase.lower() or len(phrase) > SCANNED:
                    problems.append(f"{name}: {what} {phrase!r} never matches lower-cased text")
                    continue
                probe = {"error": {"message": phrase}}
                if not _decides(compat.from_response(None, {}, probe), row):
                    problems.append(f"{name}: {what} {phrase!r} does not decide")
        for status, row in source.statuses.items():
            if not isinstance(status, int) or not 300 <= status <= 599:
                problems.append(f"{name}: status {status!r} is no failure's status")
            elif not _decides(compat.from_response(status, {}, b""), row):
                problems.append(f"{name}: status {status} does not decide")
        for header in source.mark_headers:
            said = compat.from_response(500, {header: "x"}, {"error": {"message": "-"}})
            if header != header.lower() or said is None or said.provider != name:
                problems.append(f"{name}: header {header!r} does not mark the answer")
        for key in source.mark_keys:
            said = compat.from_response(500, {}, {"error": {"message": "-", key: None}})
            if said is None or said.provider != name:
                problems.append(f"{name}: key {key!r} does not mark the answer")
        for phrase in source.mark_phrases:
            said = compat.from_response(500, {}, {"error": {"message": phrase}})
            if phrase != phrase.lower() or said is None or said.provider != name:
                problems.append(f"{name}: wording {phrase!r} does not mark the answer")
    problems += _ordered_shadows("phrase", list(merged.phrases))
    problems += _ordered_shadows("hint", list(merged.hints))
    for table in gateway.tables():
        for code, row in table.rows.items():
            if code in table.success_codes:
                problems.append(f"{table.name}: code {code!r} is also a success code")
                continue
            error = compat.from_response(200, {}, {table.code_field: code})
            if not _decides(error, row) or error is None or error.billed is not row.billed:
                problems.append(f"{table.name}: code {code!r} does not decide")
        for code in table.success_codes:
            if compat.from_response(200, {}, {table.code_field: code}) is not None:
                problems.append(f"{table.name}: success code {code!r} is not read as success")
    return problems


def test_every_built_in_row_can_match() -> None:
    """Every row of every built-in source and gateway table decides the answer made for it."""
    assert [] == unreachable()
    assert {"openai", "azure", "gateway", "http"} <= {s.name for s in sources()}


def test_rows_that_can_never_match_are_named() -> None:
    """The checker names each kind of row that can never match: a CamelCase phrase, a code
    another source already answers, a phrase a shorter one hides, a header mark in upper
    case, and a gateway code its padding never produces."""
    broken = Source(
        name="broken",
        codes={"Insufficient_Quota": Row(K.RATE_LIMITED)},
        phrases={"Budget Exceeded": Row(K.QUOTA_EXCEEDED)},
        hints={"rate limited by the upstream": Row(K.OVERLOADED)},
        mark_headers={"X-Broken-Id"},
    )
    padded = compat.GatewayTable(name="padded", kinds={"8": "rate_limited"}, code_width=4)
    register_source(broken)
    compat.register_gateway(padded)
    try:
        problems = unreachable()
    finally:
        unregister_source("broken")
        compat.unregister_gateway("padded")
    assert {
        "broken: phrase 'Budget Exceeded' never matches lower-cased text",
        "openai: code 'insufficient_quota' is answered by broken's row",
        "hint 'rate limited by the upstream' is hidden by 'rate limit'",
        "broken: header 'X-Broken-Id' does not mark the answer",
        "padded: code '8' does not decide",
    } <= set(problems)


def _copy_of_compat(into: Path) -> Path:
    """A copy of the compat package (adapters included, as real files) under *into*."""
    shutil.copytree(
        ROOT / "compat",
        into / "compat",
        ignore=shutil.ignore_patterns("__pycache__", "testing"),
    )
    return into


def _answer_in(path: Path, probe: str) -> dict[str, Any]:
    code = (
        "import json, compat; e = " + probe + "; print(json.dumps(None if e is None else "
        "{'kind': e.kind.value, 'retryable': e.retryable, 'billed': e.billed, "
        "'provider': e.provider}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=path,
        env={"PYTHONPATH": str(path), "PATH": ""},
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


ONE_ROW_CHANGES = [
    (
        "azure.py",
        '"DeploymentNotFound": Row(K.NOT_FOUND),',
        '"DeploymentNotFound": Row(K.SERVER_ERROR, retryable=True),',
        "compat.from_response(404, {}, {'error': {'code': 'DeploymentNotFound', 'message': 'x'}})",
        {"kind": "server_error", "retryable": True, "billed": None, "provider": "azure"},
    ),
    (
        "gateway.py",
        '"4008": Row(K.RATE_LIMITED, billed=False),',
        '"4008": Row(K.RATE_LIMITED, retryable=False, billed=True),',
        "compat.from_response(200, {}, {'error_code': '4008', 'response': []})",
        {"kind": "rate_limited", "retryable": False, "billed": True, "provider": "gateway"},
    ),
    (
        "openai_v1.py",
        '"billing_hard_limit_reached": Row(K.QUOTA_EXCEEDED),',
        '"billing_hard_limit_reached": Row(K.QUOTA_EXCEEDED, retryable=True),',
        "compat.from_response(429, {}, {'error': {'code': 'billing_hard_limit_reached'}})",
        {"kind": "quota_exceeded", "retryable": True, "billed": None, "provider": "openai"},
    ),
    (
        "http.py",
        "529: Row(K.OVERLOADED),",
        "529: Row(K.SERVER_ERROR, retryable=False),",
        "compat.from_response(529, {}, b'')",
        {"kind": "server_error", "retryable": False, "billed": None, "provider": "unknown"},
    ),
]


@pytest.mark.parametrize(
    ("file", "row", "changed", "probe", "expected"),
    ONE_ROW_CHANGES,
    ids=[c[0] for c in ONE_ROW_CHANGES],
)
def test_a_mapping_is_one_row_in_the_file_named_for_its_source(
    tmp_path: Path, file: str, row: str, changed: str, probe: str, expected: dict[str, Any]
) -> None:
    """Changing one code's kind or retryability for one source is a one-line change in
    that source's module: in a copy of compat with that line changed and nothing else,
    the answer follows the new row."""
    copy = _copy_of_compat(tmp_path)
    module = copy / "compat" / "adapters" / file
    before = module.read_text(encoding="utf-8")
    assert 1 == before.count(row)
    after = before.replace(row, changed)
    module.write_text(after, encoding="utf-8")
    diff = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert 2 == len(diff)
    original = eval(probe, {"compat": compat})
    assert original is not None
    assert (original.kind.value, original.retryable) != (expected["kind"], expected["retryable"])
    assert expected == _answer_in(copy, probe)


def test_a_registered_source_reads_its_family() -> None:
    """A new family is a Source registered at run time: its codes, phrases and marks take
    part, an error nested inside an error is read inward, and unregistering removes it."""

    def upstream(error: Any) -> Any:
        """The family nests the upstream's error object under a key of its own."""
        inner = error.get("acme_upstream")
        return inner if isinstance(inner, dict) else None

    family = Source(
        name="acme-proxy",
        codes={"BudgetGone": Row(K.QUOTA_EXCEEDED)},
        phrases={"budget has been exhausted": Row(K.QUOTA_EXCEEDED)},
        mark_headers={"x-acme-proxy"},
        nested=(upstream,),
    )
    nested_body = {
        "error": {"message": "upstream failed", "acme_upstream": {"code": "model_not_found"}}
    }
    assert K.INVALID_REQUEST is compat.from_response(400, {}, nested_body).kind  # type: ignore[union-attr]
    register_source(family)
    try:
        error = compat.from_response(
            400, {"x-acme-proxy": "1"}, {"error": {"message": "Budget has been exhausted!"}}
        )
        assert error is not None
        assert (K.QUOTA_EXCEEDED, "acme-proxy", False) == (
            error.kind,
            error.provider,
            error.retryable,
        )
        coded = compat.from_response(400, {}, {"error": {"code": "budgetgone", "message": "x"}})
        assert coded is not None
        assert K.QUOTA_EXCEEDED is coded.kind
        nested = compat.from_response(400, {}, nested_body)
        assert nested is not None
        assert (K.NOT_FOUND, "model_not_found") == (nested.kind, nested.code)
        assert [] == unreachable()
    finally:
        unregister_source("acme-proxy")
    error = compat.from_response(400, {}, {"error": {"message": "Budget has been exhausted!"}})
    assert error is not None
    assert (K.INVALID_REQUEST, "openai") == (error.kind, error.provider)


def test_an_envelope_reader_is_a_source() -> None:
    """An envelope other than a gateway table's is a source with an unwrap reader: the
    error inside decides, the envelope names the provider and says what was billed."""

    def unwrap(document: Any, provider: str | None) -> Wrapper | None:
        if "status" not in document or "payload" not in document:
            return None
        inner = document["payload"].get("error") if isinstance(document["payload"], dict) else None
        return Wrapper(
            provider="wrapped",
            code=str(document["status"]),
            row=Row(K.SERVER_ERROR, billed=True),
            success=document["status"] == "ok",
            billed=True,
            message="wrapped failure",
            upstream=inner,
        )

    register_source(Source(name="wrapped", unwrap=unwrap))
    try:
        inner = {"status": "fail", "payload": {"error": {"code": "rate_limit_exceeded"}}}
        error = compat.from_response(200, {}, inner)
        assert error is not None
        assert (K.RATE_LIMITED, "wrapped", True) == (error.kind, error.provider, error.billed)
        bare = compat.from_response(200, {}, {"status": "fail", "payload": []})
        assert bare is not None
        assert (K.SERVER_ERROR, "fail") == (bare.kind, bare.code)
        assert compat.from_response(200, {}, {"status": "ok", "payload": []}) is None
    finally:
        unregister_source("wrapped")


def test_code_and_status_views() -> None:
    """compat.CODE_KINDS and compat.STATUS_KINDS are read-only views of every source's rows,
    codes looked up whatever their case."""
    assert K.NOT_FOUND is compat.CODE_KINDS["DeploymentNotFound"]
    assert K.NOT_FOUND is compat.CODE_KINDS["deploymentnotfound"]
    assert K.QUOTA_EXCEEDED is compat.CODE_KINDS["insufficient_quota"]
    assert K.OVERLOADED is compat.STATUS_KINDS[529]
    assert "insufficient_quota" in compat.CODE_KINDS
    assert len(compat.STATUS_KINDS) >= 30
