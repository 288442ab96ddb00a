"""Real error answers of OpenAI-compatible servers, read by compat three ways.

Every entry of the corpus (tests/data/compatible/, loaded by tests/compatible_corpus.py)
goes through ``compat.from_response``; those with an HTTP error status also go through
the real SDKs against the fault server: the v1+ SDK (``compat.translate`` of what
``openai.OpenAI`` raises) and, where openai<1 is installed, the legacy SDK. Every
labelled field (kind, retryable, retry_after, code, request_id, provider) is compared.

What compat gets wrong today is listed in :data:`KNOWN_MISSES` and runs as a strict
xfail: when a fix makes such an entry pass, the test fails until its line is removed,
so the table can only shrink.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
from compat.testing import FaultServer, faults
from tests.compatible_corpus import DATA, FIELDS, CorpusError, Entry, describe, differences, load
from tests.conftest import track

try:
    import openai as _openai
except ImportError:  # pragma: no cover - every tox environment installs one
    _openai = None  # type: ignore[assignment]

#: The installed SDK, whichever major version it is (legacy attributes included).
openai: Any = _openai

V1 = openai is not None and hasattr(openai, "OpenAI")
LEGACY = openai is not None and not V1
MESSAGES = [{"role": "user", "content": "hi"}]

#: The three ways an answer reaches compat.
PATHS = ("from_response", "v1", "legacy")

#: What compat gets wrong today. A key is an entry id (wrong on every path the entry
#: runs on) or ``"<id> [<path>]"`` (wrong on that path only); the value says which
#: fields are wrong and what compat answers instead.
KNOWN_MISSES: dict[str, str] = {}


def _miss(entry: Entry, path: str) -> str | None:
    return KNOWN_MISSES.get(f"{entry.id} [{path}]", KNOWN_MISSES.get(entry.id))


def _runs_on(entry: Entry, path: str) -> bool:
    return path == "from_response" or entry.failed_status


def cases(path: str) -> list[Any]:
    """The corpus as parameters for *path*, known misses marked as strict xfails."""
    params = []
    for entry in load():
        if not _runs_on(entry, path):
            continue
        miss = _miss(entry, path)
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=miss)] if miss else []
        params.append(pytest.param(entry, id=entry.id, marks=marks))
    return params


def assert_reads(error: Any, entry: Entry) -> None:
    """Every labelled field of *error* is the entry's expected value."""
    diff = differences(error, entry.expected)
    assert not diff, f"{entry.id}: {describe(diff)}"
    assert isinstance(error, compat.LLMError)


# ---------------------------------------------------------------------- from_response


@pytest.mark.parametrize("entry", cases("from_response"))
def test_from_response(entry: Entry) -> None:
    """compat.from_response reads the raw answer into the labelled error."""
    assert_reads(compat.from_response(entry.status, entry.headers, entry.body), entry)


# ---------------------------------------------------------------------- the v1+ SDK


def v1_error(server: FaultServer, entry: Entry) -> BaseException:
    """What openai.OpenAI raises for the entry's answer."""
    server.script(faults.answer(entry.status or 0, entry.headers, entry.body))
    client = track(openai.OpenAI(base_url=server.openai_url, api_key="sk-test", max_retries=0))
    with pytest.raises(openai.APIError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    raised: BaseException = info.value
    return raised


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
@pytest.mark.parametrize("entry", cases("v1"))
def test_v1_sdk(server: FaultServer, entry: Entry) -> None:
    """compat.translate of the v1 SDK's exception reads the answer into the labelled error."""
    exc = v1_error(server, entry)
    error = compat.translate(exc)
    assert_reads(error, entry)
    assert error is not None
    assert exc is error.__cause__


# ---------------------------------------------------------------------- the legacy SDK


@pytest.fixture
def legacy(server: FaultServer) -> Iterator[FaultServer]:
    """The legacy SDK's global configuration pointed at the scripted server."""
    saved = (openai.api_base, openai.api_key, openai.api_type, openai.api_version)
    openai.api_base, openai.api_key = server.openai_url, "sk-test"
    openai.api_type, openai.api_version = "open_ai", None
    yield server
    openai.api_base, openai.api_key, openai.api_type, openai.api_version = saved


def legacy_error(server: FaultServer, entry: Entry) -> BaseException:
    """What the legacy SDK raises for the entry's answer.

    openai 0.28.1 reads ``body["error"]`` as an object: for ``{"error": "text"}`` its own
    error handling raises AttributeError instead of an ``openai.error`` exception.
    """
    server.script(faults.answer(entry.status or 0, entry.headers, entry.body))
    with pytest.raises((openai.error.OpenAIError, AttributeError)) as info:
        openai.ChatCompletion.create(model="gpt-4", messages=MESSAGES, timeout=0)
    raised: BaseException = info.value
    return raised


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")
@pytest.mark.parametrize("entry", cases("legacy"))
def test_legacy_sdk(legacy: FaultServer, entry: Entry) -> None:
    """compat.translate of the legacy SDK's exception reads the answer into the labelled error."""
    exc = legacy_error(legacy, entry)
    error = compat.translate(exc)
    assert_reads(error, entry)
    assert error is not None
    assert exc is error.__cause__


# ---------------------------------------------------------------------- the corpus itself


def test_corpus_size_and_breadth() -> None:
    """The corpus holds at least 150 answers from at least 14 server families."""
    entries = load()
    families = {entry.family for entry in entries}
    assert len(entries) >= 150, len(entries)
    assert len(families) >= 14, sorted(families)


def test_known_misses_name_real_entries() -> None:
    """Every KNOWN_MISSES key names an entry of the corpus (and a path it runs on)."""
    by_id = {entry.id: entry for entry in load()}
    for key in KNOWN_MISSES:
        entry_id, _, path = key.partition(" [")
        assert entry_id in by_id, key
        if path:
            assert path.endswith("]"), key
            assert path[:-1] in PATHS, key
            assert _runs_on(by_id[entry_id], path[:-1]), key


def test_every_field_is_compared() -> None:
    """The comparison covers the six labelled fields and catches a wrong one."""
    entry = load()[0]
    error = compat.from_response(entry.status, entry.headers, entry.body)
    assert error is not None
    assert ("kind", "retryable", "retry_after", "code", "request_id", "provider") == FIELDS
    wrong = dict(entry.expected, provider="not-" + str(entry.expected["provider"]))
    assert "provider" in differences(error, wrong)
    assert set(FIELDS) == set(differences(None, entry.expected))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "x-credits-402"}, "must start with"),
        ({"source": "http://example.com"}, "https"),
        ({"headers": {"Retry-After": "3"}}, "lower-case"),
        ({"status": 200.0}, "status"),
        ({"evidence": None}, "evidence"),
        ({"reason": " "}, "reason"),
    ],
)
def test_loader_rejects_malformed_entries(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    """The loader refuses an entry that breaks the documented form, naming the fault."""
    raw = json.loads(sorted(DATA.glob("*.json"))[0].read_text(encoding="utf-8"))
    good = next(item for item in raw if item["evidence"] is not None)
    family = good["family"]
    (tmp_path / f"{family}.json").write_text(json.dumps([good]), encoding="utf-8")
    assert load.__wrapped__(tmp_path)[0].id == good["id"]
    (tmp_path / f"{family}.json").write_text(json.dumps([dict(good, **change)]), encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load.__wrapped__(tmp_path)
