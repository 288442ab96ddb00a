"""How often error answers of OpenAI-compatible servers are read right, on the real corpus.

Run: python benchmarks/accuracy.py  (with the v1+ openai SDK; LiteLLM too, if installed)
     python benchmarks/accuracy.py --legacy-python /path/to/python  (adds the legacy path:
     that interpreter has openai<1 and reads the corpus through it)

The corpus is tests/data/compatible/: real answers of OpenAI-compatible servers, each
with the error compat should make of it (see tests/compatible_corpus.py). For every
server family and in total this prints the share of answers read right by

- compat.from_response on the raw answer (every entry),
- compat.translate of the exception the v1 SDK raises for the answer, served by the
  fault server (entries with an HTTP error status: a success status raises nothing),
- the same through the legacy SDK (openai 0.28.1), when an interpreter that has it is
  given (tests/tools/corpus_misses.py runs there and says which entries it gets wrong),
- LiteLLM's ``exception_type`` fed that same SDK exception, as LiteLLM's own tests do,
- the SDK's own exception class.

"kind" counts the error kind alone; "all" counts every labelled field (kind, retryable,
retry_after, code, request_id, provider). LiteLLM and the SDK classes only name a kind,
through the class tables below.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import compat
from compat.testing import FaultServer, faults
from tests.compatible_corpus import Entry, differences, load

MESSAGES = [{"role": "user", "content": "hi"}]

#: v1 SDK exception class name -> compat kind, most specific first.
SDK_KINDS = (
    ("AuthenticationError", "authentication"),
    ("PermissionDeniedError", "permission_denied"),
    ("NotFoundError", "not_found"),
    ("ConflictError", "conflict"),
    ("UnprocessableEntityError", "invalid_request"),
    ("BadRequestError", "invalid_request"),
    ("RateLimitError", "rate_limited"),
    ("InternalServerError", "server_error"),
    ("APITimeoutError", "timeout"),
    ("APIConnectionError", "connection"),
)

#: LiteLLM exception class name -> compat kind, most specific first (subclasses of
#: BadRequestError before it).
LITELLM_KINDS = (
    ("ContextWindowExceededError", "context_length_exceeded"),
    ("ContentPolicyViolationError", "content_filtered"),
    ("PaymentRequiredError", "quota_exceeded"),
    ("BudgetExceededError", "quota_exceeded"),
    ("UnprocessableEntityError", "invalid_request"),
    ("BadRequestError", "invalid_request"),
    ("AuthenticationError", "authentication"),
    ("PermissionDeniedError", "permission_denied"),
    ("NotFoundError", "not_found"),
    ("RateLimitError", "rate_limited"),
    ("ServiceUnavailableError", "overloaded"),
    ("BadGatewayError", "server_error"),
    ("InternalServerError", "server_error"),
    ("Timeout", "timeout"),
    ("APIConnectionError", "connection"),
    ("APIError", "server_error"),
)


def kind_by_class(exc: BaseException, table: tuple[tuple[str, str], ...]) -> str:
    """The kind of the first row of *table* naming a class of *exc* (or a base class)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name, kind in table:
        if name in names:
            return kind
    return "unknown"


def sdk_exception(server: FaultServer, entry: Entry) -> BaseException:
    """What openai.OpenAI raises for the entry's answer."""
    import openai

    server.script(faults.answer(entry.status or 0, entry.headers, entry.body))
    client = openai.OpenAI(base_url=server.openai_url, api_key="sk-test", max_retries=0)
    try:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    except Exception as exc:
        return exc
    finally:
        client.close()
    raise AssertionError(f"{entry.id}: the SDK raised nothing")


def litellm_mapper() -> Callable[[BaseException], str] | None:
    """LiteLLM's exception mapping as ``exception -> kind``, or None without LiteLLM."""
    try:
        litellm: Any = importlib.import_module("litellm")
        mapping = importlib.import_module("litellm.litellm_core_utils.exception_mapping_utils")
    except ImportError:
        return None
    exception_type = mapping.exception_type
    litellm.suppress_debug_info = True  # else it prints a help banner for every exception

    def kind(exc: BaseException) -> str:
        try:
            exception_type(model="gpt-4o", original_exception=exc, custom_llm_provider="openai")
        except Exception as raised:
            return kind_by_class(raised, LITELLM_KINDS)
        return "unknown"

    return kind


class Tally:
    """Right answers out of those counted, per family."""

    def __init__(self) -> None:
        self.right: dict[str, int] = defaultdict(int)
        self.count: dict[str, int] = defaultdict(int)

    def add(self, family: str, ok: bool) -> None:
        for key in (family, "total"):
            self.count[key] += 1
            self.right[key] += ok

    def cell(self, family: str) -> str:
        count = self.count.get(family, 0)
        if not count:
            return "-"
        return f"{100 * self.right[family] / count:.0f}% ({self.right[family]}/{count})"


ROOT = Path(__file__).resolve().parents[1]


def legacy_misses(python: str) -> dict[str, str]:
    """What the legacy SDK's path gets wrong (entry id -> what is wrong), measured by
    tests/tools/corpus_misses.py under *python*, an interpreter with openai<1."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [python, str(ROOT / "tests" / "tools" / "corpus_misses.py")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    found: dict[str, str] = json.loads(done.stdout)["legacy"]
    return found


def measure(legacy: dict[str, str] | None = None) -> dict[str, Tally]:
    """Every column of the table, tallied over the corpus; the legacy SDK's columns from
    *legacy* (its misses), when given."""
    columns = {
        name: Tally()
        for name in (
            "from_response kind",
            "from_response all",
            "v1 SDK kind",
            "v1 SDK all",
            *(("legacy SDK kind", "legacy SDK all") if legacy is not None else ()),
            "LiteLLM kind",
            "SDK class kind",
        )
    }
    litellm_kind = litellm_mapper()
    server = FaultServer()
    try:
        for entry in load():
            expected, family = entry.expected, entry.family
            diff = differences(
                compat.from_response(entry.status, entry.headers, entry.body), expected
            )
            columns["from_response kind"].add(family, "kind" not in diff)
            columns["from_response all"].add(family, not diff)
            if not entry.failed_status:
                continue
            exc = sdk_exception(server, entry)
            diff = differences(compat.translate(exc), expected)
            columns["v1 SDK kind"].add(family, "kind" not in diff)
            columns["v1 SDK all"].add(family, not diff)
            if legacy is not None:
                why = legacy.get(entry.id)
                wrong_kind = why is not None and (why.startswith("kind ") or "(None)" in why)
                columns["legacy SDK kind"].add(family, not wrong_kind)
                columns["legacy SDK all"].add(family, why is None)
            columns["SDK class kind"].add(family, kind_by_class(exc, SDK_KINDS) == expected["kind"])
            if litellm_kind is not None:
                columns["LiteLLM kind"].add(family, litellm_kind(exc) == expected["kind"])
    finally:
        server.close()
    return columns


def table(columns: dict[str, Tally]) -> list[str]:
    """The Markdown table: one row per family, then the total."""
    families = sorted({entry.family for entry in load()})
    entries = Tally()
    for entry in load():
        entries.add(entry.family, True)
    names = list(columns)
    lines = [
        "| family | entries | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for family in [*families, "total"]:
        cells = [columns[name].cell(family) for name in names]
        label = f"**{family}**" if family == "total" else family
        lines.append(f"| {label} | {entries.count[family]} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    import openai

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--legacy-python",
        default=os.environ.get("COMPAT_LEGACY_PYTHON"),
        help="an interpreter with openai<1, for the legacy SDK's columns"
        " (default: $COMPAT_LEGACY_PYTHON)",
    )
    args = parser.parse_args()
    legacy = legacy_misses(args.legacy_python) if args.legacy_python else None
    versions = [f"python {sys.version.split()[0]}", f"openai {openai.__version__}"]
    if legacy is not None:
        versions.append("legacy path: openai<1 under " + args.legacy_python)
    try:
        from importlib.metadata import version

        versions.append(f"litellm {version('litellm')}")
    except Exception:
        versions.append("litellm not installed (its column stays empty)")
    print(", ".join(versions))
    print(
        "\nShare of corpus answers read right. from_response counts every entry; the SDK"
        "\ncolumns count the entries with an HTTP error status (a success raises nothing).\n"
    )
    print("\n".join(table(measure(legacy))))


if __name__ == "__main__":
    main()
