"""import compat stays cheap: no SDK, no HTTP library, no attrs until an error is made."""

from __future__ import annotations

import subprocess
import sys


def _imports(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    ).stderr
    return {line.rsplit("|", 1)[-1].strip() for line in out.splitlines() if "|" in line}


def imported_by(code: str) -> set[str]:
    """The modules *code* imports beyond what the interpreter imports at start-up (an
    environment's ``.pth`` files or ``sitecustomize`` may import ``typing`` themselves)."""
    return _imports(code) - _imports("pass")


def test_import_compat_pulls_in_no_sdk() -> None:
    """`import compat` imports neither openai, httpx, httpx2, requests nor attrs, nor the
    adapters, the clients, the migration scanner or the fault server."""
    modules = imported_by("import compat")
    roots = {name.split(".")[0] for name in modules}
    assert "compat" in roots
    assert not roots & {"openai", "httpx", "httpx2", "requests", "attr", "attrs", "typing"}
    rooms = ("compat.adapters", "compat.clients", "compat.migration", "compat.testing")
    assert not {name for name in modules if name.startswith(rooms)}


def test_first_error_loads_the_model_only() -> None:
    """Reading an answer loads the model but still no SDK or HTTP library."""
    modules = imported_by("import compat; compat.from_response(429, {}, b'{}')")
    roots = {name.split(".")[0] for name in modules}
    assert "attrs" in roots or "attr" in roots
    assert not roots & {"openai", "httpx", "httpx2", "requests"}
