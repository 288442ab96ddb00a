"""Record what openai 0.28.1's exceptions say for each answer of cases.CASES.

Run with openai==0.28.1 installed (and compat importable, for its fault server):

    python tests/data/legacy_oracle/record.py            # writes openai_0_28_1.json beside it
    python tests/data/legacy_oracle/record.py --check    # reruns; exit 1 on any difference

Each answer is sent by a fresh compat fault server to one
``openai.ChatCompletion.create`` call; the record holds the legacy class, every
legacy attribute, ``str(e)`` and ``repr(e)``, with the server's date, Python
version, port and object addresses normalised. tests/test_legacy_oracle.py
compares the current SDK, through compat.legacy, against the file.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "openai_0_28_1.json"
sys.path.insert(0, str(HERE))

import cases  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_case(name: str) -> dict[str, Any]:
    """One case on 0.28.1: the normalised record of the exception it raised."""
    import openai
    import openai.error

    from compat.testing import FaultServer

    fault, how = cases.CASES[name]
    with FaultServer() as server:
        port = server.port
        base = server.openai_url
        if how == "refused":
            port = _free_port()
            base = f"http://127.0.0.1:{port}/v1"
        elif fault is not None:
            server.script(fault)
        openai.api_base, openai.api_key = base, "sk-test"
        openai.api_type, openai.api_version, openai.organization = "open_ai", None, None
        try:
            result = openai.ChatCompletion.create(
                model="gpt-4o",
                messages=cases.MESSAGES,
                request_timeout=cases.TIMEOUT,
                timeout=0,  # a 409 is raised, not waited out in 0.28.1's warm-up loop
                stream=how == "stream",
            )
            if how == "stream":
                for _ in result:
                    pass
        except openai.error.OpenAIError as exc:
            normalise = cases.normaliser(port, cases.dates_in(exc))
            return normalise(cases.record(exc, openai.error))  # type: ignore[no-any-return]
    raise AssertionError(f"{name}: openai 0.28.1 raised nothing")


def run_all() -> dict[str, Any]:
    import openai

    version = openai.version.VERSION
    if version != "0.28.1":
        raise SystemExit(f"record.py needs openai==0.28.1, not {version}")
    return {
        "openai": version,
        "cases": {name: run_case(name) for name in cases.CASES},
    }


def main(argv: list[str]) -> int:
    found = run_all()
    text = json.dumps(found, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if "--check" not in argv:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT} ({len(found['cases'])} cases)")
        return 0
    kept = json.loads(OUTPUT.read_text(encoding="utf-8"))
    if kept == json.loads(text):
        print(f"{OUTPUT.name}: {len(found['cases'])} cases, as recorded")
        return 0
    for name in sorted(set(kept["cases"]) | set(found["cases"])):
        old, new = kept["cases"].get(name), found["cases"].get(name)
        if old == new:
            continue
        for field in sorted(set(old or {}) | set(new or {})):
            if (old or {}).get(field) != (new or {}).get(field):
                print(f"{name}: {field}: recorded {(old or {}).get(field)!r}")
                print(f"{' ' * len(name)}  {' ' * len(field)}  now      {(new or {}).get(field)!r}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
