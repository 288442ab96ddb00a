"""The corpus of real error answers from OpenAI-compatible servers, and how to read it.

``tests/data/compatible/<family>.json`` holds, per server family, a list of answers
copied from public sources (issues where users pasted the body, the servers' docs,
or the servers' source code where it fixes the body exactly). Each entry::

    {"id": "openrouter-credits-402", "family": "openrouter",
     "source": "<URL>", "quote": "<the source's own words>",
     "status": 402 or null, "headers": {...}, "body": <JSON value or text>,
     "expected": {"kind", "retryable", "retry_after", "code", "request_id", "provider"},
     "evidence": "<what in the answer names the family>" or null,
     "reason": "<why these labels, quoting the source>"}

The labels follow /work/shared/DESIGN.md; they say what compat *should* answer, not
what it answers today (the tests keep the difference in their ``KNOWN_MISSES``).
This module only loads and checks the data; it holds no tests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

#: Where the corpus lives: one JSON file per family.
DATA = Path(__file__).resolve().parent / "data" / "compatible"

#: The fields every entry labels, in the order reports show them.
FIELDS = ("kind", "retryable", "retry_after", "code", "request_id", "provider")

#: The kinds of DESIGN.md (``compat.ErrorKind`` values), kept here so that loading
#: the corpus does not need compat.
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

_KEYS = (
    "id",
    "family",
    "source",
    "quote",
    "status",
    "headers",
    "body",
    "expected",
    "evidence",
    "reason",
)


#: Providers that need no family mark: OpenAI's shape, Azure's marks, or nothing.
_PLAIN_PROVIDERS = frozenset({"openai", "azure", "unknown"})


class CorpusError(ValueError):
    """An entry of the corpus does not have the documented form."""


@dataclass(frozen=True)
class Entry:
    """One real answer and the error compat should make of it."""

    id: str
    family: str
    source: str
    quote: str
    status: int | None
    headers: Mapping[str, str]
    body: Any
    expected: Mapping[str, Any]
    evidence: str | None
    reason: str

    @property
    def failed_status(self) -> bool:
        """Whether the answer has an HTTP error status (the SDKs raise only for these)."""
        return self.status is not None and self.status >= 400


def _check(raw: Any, family: str, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: an entry must be an object")
    missing = [key for key in _KEYS if key not in raw]
    extra = sorted(set(raw) - set(_KEYS))
    if missing or extra:
        raise CorpusError(f"{where}: missing {missing}, unknown {extra}")
    entry_id = raw["id"]
    if not isinstance(entry_id, str) or not entry_id.startswith(family + "-"):
        raise CorpusError(f"{where}: id {entry_id!r} must start with {family + '-'!r}")
    where = f"{where} ({entry_id})"
    if raw["family"] != family:
        raise CorpusError(f"{where}: family {raw['family']!r} is not the file's {family!r}")
    if not isinstance(raw["source"], str) or not raw["source"].startswith("https://"):
        raise CorpusError(f"{where}: source must be an https URL")
    for key in ("quote", "reason"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise CorpusError(f"{where}: {key} must be a non-empty string")
    status = raw["status"]
    if status is not None and (type(status) is not int or not 100 <= status <= 599):
        raise CorpusError(f"{where}: status must be an HTTP status or null")
    headers = raw["headers"]
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise CorpusError(f"{where}: headers must map names to strings")
    if any(k != k.lower() for k in headers):
        raise CorpusError(f"{where}: header names are kept lower-case")
    if raw["evidence"] is not None and not isinstance(raw["evidence"], str):
        raise CorpusError(f"{where}: evidence must be a string or null")
    expected = raw["expected"]
    if not isinstance(expected, dict) or sorted(expected) != sorted(FIELDS):
        raise CorpusError(f"{where}: expected must give exactly {FIELDS}")
    if expected["kind"] not in KINDS:
        raise CorpusError(f"{where}: unknown kind {expected['kind']!r}")
    if type(expected["retryable"]) is not bool:
        raise CorpusError(f"{where}: retryable must be true or false")
    wait = expected["retry_after"]
    if wait is not None and (
        isinstance(wait, bool)
        or not isinstance(wait, (int, float))
        or not math.isfinite(wait)
        or wait < 0
    ):
        raise CorpusError(f"{where}: retry_after must be seconds or null")
    for key in ("code", "request_id"):
        if expected[key] is not None and not isinstance(expected[key], str):
            raise CorpusError(f"{where}: {key} must be a string or null")
    if not isinstance(expected["provider"], str) or not expected["provider"]:
        raise CorpusError(f"{where}: provider must be a name")
    if expected["provider"] not in _PLAIN_PROVIDERS and raw["evidence"] is None:
        raise CorpusError(f"{where}: a family provider needs the evidence that names it")
    return Entry(
        id=entry_id,
        family=family,
        source=raw["source"],
        quote=raw["quote"],
        status=status,
        headers=dict(headers),
        body=raw["body"],
        expected=dict(expected),
        evidence=raw["evidence"],
        reason=raw["reason"],
    )


@cache
def load(directory: Path = DATA) -> tuple[Entry, ...]:
    """Every entry of the corpus, checked, in file then entry order.

    Raises :class:`CorpusError` when a file or an entry is malformed or an id repeats.
    """
    entries: list[Entry] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.json")):
        family = path.stem
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, list) or not raw:
            raise CorpusError(f"{path.name}: a family file is a non-empty list of entries")
        for index, item in enumerate(raw):
            entry = _check(item, family, f"{path.name}[{index}]")
            if entry.id in seen:
                raise CorpusError(f"{path.name}[{index}]: id {entry.id!r} repeats")
            seen.add(entry.id)
            entries.append(entry)
    if not entries:
        raise CorpusError(f"no corpus files in {directory}")
    return tuple(entries)


def observed(error: Any) -> dict[str, Any] | None:
    """The labelled fields of a compat error (``None`` when compat saw a success)."""
    if error is None:
        return None
    return {
        "kind": error.kind.value,
        "retryable": error.retryable,
        "retry_after": error.retry_after,
        "code": error.code,
        "request_id": error.request_id,
        "provider": error.provider,
    }


def _same(field: str, expected: Any, actual: Any) -> bool:
    if field == "retry_after" and expected is not None and actual is not None:
        return bool(math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-6))
    return bool(expected == actual)


def differences(error: Any, expected: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{field: (expected, actual)}`` for every labelled field compat got wrong.

    A success (``None``) differs in every field.
    """
    got = observed(error)
    if got is None:
        return {field: (expected[field], None) for field in FIELDS}
    return {
        field: (expected[field], got[field])
        for field in FIELDS
        if not _same(field, expected[field], got[field])
    }


def describe(diff: Mapping[str, tuple[Any, Any]]) -> str:
    """A one-line account of *diff*: ``kind rate_limited (expected quota_exceeded); ...``."""
    if diff and all(actual is None for _, actual in diff.values()) and "kind" in diff:
        return "no error at all (None)"
    return "; ".join(
        f"{field} {actual!r} (expected {expected!r})" for field, (expected, actual) in diff.items()
    )
