"""The README's complete example runs as pasted: saved as a file, run by pytest."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Far above a healthy run (about 2 s here), to fail instead of hanging.
GUARD = 120.0


def example() -> str:
    """The first Python block under the README's "A complete example" heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## A complete example", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the example's code block is gone"
    return found.group(1)


def plugin_installed() -> bool:
    """Whether compat's pytest plugin loads by itself (compat installed, not on a path)."""
    found = metadata.entry_points()
    # Python 3.9's entry_points() is a dict of groups; 3.10+ selects by group
    group = (
        found.select(group="pytest11") if hasattr(found, "select") else found.get("pytest11", ())
    )
    return any(e.value.startswith("compat.") for e in group)


@pytest.mark.skipif(not hasattr(openai, "OpenAI"), reason="the example uses openai>=1")
def test_the_complete_example_passes_as_pasted(tmp_path: Path) -> None:
    """Its three tests pass against the real SDK and the fault server, unchanged."""
    (tmp_path / "test_quickstart.py").write_text(example(), encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_quickstart.py"]
    if not plugin_installed():
        command[3:3] = ["-p", "compat._pytest_plugin"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=GUARD, env=env, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout, done.stdout[-2000:]
