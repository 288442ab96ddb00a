"""``python -m compat demo`` runs from the command line and its summary adds up."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

LEGACY = openai is not None and not hasattr(openai, "OpenAI")

# The storm is scripted, so its outcome is exact: per call, the attempts it takes and
# how it ends.
if LEGACY:
    EXPECTED: dict[str, Any] = {
        "calls": 12,
        "attempts": 21,
        "successes": 7,
        "errors": {
            "authentication": 1,
            "content_filtered": 1,
            "context_length_exceeded": 1,
            "quota_exceeded": 2,
        },
    }
else:
    EXPECTED = {
        "calls": 14,
        "attempts": 24,
        "successes": 8,
        "errors": {
            "authentication": 1,
            "content_filtered": 1,
            "context_length_exceeded": 1,
            "quota_exceeded": 2,
            "server_error": 1,
        },
    }


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    # The timeout only guards against a hang; the demo takes a few seconds.
    return subprocess.run(
        [sys.executable, "-m", "compat", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(openai is None, reason="openai is not installed")
def test_demo_summary() -> None:
    """The scripted storm ends exactly as expected: calls, attempts, successes, errors."""
    done = demo("--json")
    assert 0 == done.returncode, done.stderr
    summary = json.loads(done.stdout)
    assert 0 < summary.pop("seconds")
    assert EXPECTED == summary


@pytest.mark.skipif(openai is None, reason="openai is not installed")
def test_demo_prints_each_attempt() -> None:
    """Per attempt: what the server sent, what compat made of it, what the policy did."""
    done = demo()
    assert 0 == done.returncode, done.stderr
    out = done.stdout
    assert "" == done.stderr
    # What the server sent, what compat made of it, what the policy did.
    assert "server sent 429 rate limit, wait 0.2 s (precise)" in out
    assert "compat: RateLimitError (kind rate_limited, retryable True, retry_after 0.2 s)" in out
    assert "policy: retry in 0.2" in out
    assert "server sent 429 insufficient_quota" in out
    assert "policy: raise: quota_exceeded is not retried" in out
    assert "server sent 200 envelope, code 4013: Insufficient balance" in out
    assert "content filter (prompt): violence" in out
    assert f"calls      {EXPECTED['calls']}" in out
    assert f"attempts   {EXPECTED['attempts']}" in out
    assert "sk-demo" not in out
    assert "gw-demo-secret" not in out


def test_shorten_cuts_at_a_word_boundary() -> None:
    """A long message is cut after its last whole word that fits, with an ellipsis; a
    short one is left whole; one long word is cut where it must be."""
    from compat._demo import shorten

    text = "The engine is currently overloaded, please try again later."
    assert text == shorten(text, 100)
    assert "The engine is currently…" == shorten(text, 26)
    assert "The engine is…" == shorten(text, 16)
    assert "Supercalifragi…" == shorten("Supercalifragilisticexpialidocious", 15)
    assert all(len(shorten(text, width)) <= width for width in range(2, 70))


@pytest.mark.skipif(openai is None, reason="openai is not installed")
def test_demo_cuts_long_messages_at_a_word() -> None:
    """The demo's long messages end at a whole word and an ellipsis, not mid-word."""
    done = demo()
    assert 0 == done.returncode, done.stderr
    assert (
        "-> raised compat.QuotaExceededError: You exceeded your current quota, please check"
        " your plan and billing details. For more information…"
    ) in done.stdout
