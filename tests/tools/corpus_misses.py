"""What compat gets wrong in the corpus of real answers today, as the ``KNOWN_MISSES``
table of tests/test_compatible_corpus.py wants it.

Run it once with the current SDK and once with openai 0.28.1, each writing its paths to a
JSON file, then merge them into the table's text::

    python tests/tools/corpus_misses.py --out /tmp/v1.json            # openai >= 1
    python tests/tools/corpus_misses.py --out /tmp/legacy.json        # openai 0.28.1
    python tests/tools/corpus_misses.py --merge /tmp/v1.json /tmp/legacy.json

A fix that makes an entry right shows as a strict xfail that passed; this prints the
table that follows the fix, so that the table only ever shrinks by what was fixed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import compat
from compat.testing import FaultServer, faults
from tests.compatible_corpus import Entry, describe, differences, load

MESSAGES = [{"role": "user", "content": "hi"}]


def runs_on(entry: Entry, path: str) -> bool:
    return path == "from_response" or entry.failed_status


def read(entry: Entry, path: str, server: FaultServer) -> Any:
    import openai

    if path == "from_response":
        return compat.from_response(entry.status, entry.headers, entry.body)
    server.script(faults.answer(entry.status or 0, entry.headers, entry.body))
    try:
        if path == "v1":
            client = openai.OpenAI(base_url=server.openai_url, api_key="sk-test", max_retries=0)
            try:
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            finally:
                client.close()
        else:
            openai.api_base, openai.api_key = server.openai_url, "sk-test"
            openai.api_type, openai.api_version = "open_ai", None
            openai.ChatCompletion.create(model="gpt-4", messages=MESSAGES, timeout=0)
    except Exception as exc:
        return compat.translate(exc)
    return None


def misses() -> dict[str, dict[str, str]]:
    import openai

    paths = ["from_response", "v1"] if hasattr(openai, "OpenAI") else ["legacy"]
    found: dict[str, dict[str, str]] = {path: {} for path in paths}
    with FaultServer() as server:
        for entry in load():
            for path in paths:
                if not runs_on(entry, path):
                    continue
                error = read(entry, path, server)
                diff = differences(error, entry.expected)
                if diff or not isinstance(error, compat.LLMError):
                    found[path][entry.id] = describe(diff) if diff else "no error at all (None)"
    return found


def merge(files: list[str]) -> str:
    by_path: dict[str, dict[str, str]] = {}
    for name in files:
        by_path.update(json.loads(Path(name).read_text()))
    lines = []
    for entry in load():
        paths = [p for p in ("from_response", "v1", "legacy") if runs_on(entry, p) and p in by_path]
        wrong = {p: by_path[p][entry.id] for p in paths if entry.id in by_path[p]}
        if not wrong:
            continue
        if len(wrong) == len(paths) and len(set(wrong.values())) == 1:
            lines.append(f"    {entry.id!r}: {next(iter(wrong.values()))!r},")
        else:
            for path, why in wrong.items():
                lines.append(f"    {entry.id + ' [' + path + ']'!r}: {why!r},")
    return "KNOWN_MISSES: dict[str, str] = {\n" + "\n".join(lines) + "\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--merge", nargs="+")
    args = parser.parse_args()
    if args.merge:
        print(merge(args.merge), end="")
        return
    text = json.dumps(misses(), indent=1, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
