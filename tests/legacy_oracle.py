"""The legacy oracle, shared by the tests that hold the current SDK to it.

``ORACLE`` is what openai 0.28.1 itself answered for each case of
tests/data/legacy_oracle/cases.py (written by record.py there); ``current`` makes the
current SDK raise for the same case; ``DIFFERENCES`` lists, per legacy attribute, where
the current SDK's exception answers otherwise and why.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

import compat.legacy as legacy
from compat.testing import FaultServer
from tests.conftest import track
from tests.data.legacy_oracle import cases

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
ORACLE = json.loads(
    (Path(__file__).parent / "data" / "legacy_oracle" / "openai_0_28_1.json").read_text("utf-8")
)
EVERY_CASE = frozenset(cases.CASES)
TRANSPORT = frozenset({"timeout", "connection reset", "connection refused"})
HTTP_CASES = EVERY_CASE - TRANSPORT - {"stream error event"}

#: field -> (why the current SDK's exception answers differently, the cases where it does).
#: Every other field of every case must equal 0.28.1's.
DIFFERENCES: dict[str, tuple[str, frozenset[str]]] = {
    "str": (
        "str(e) is the v1+ SDK's own ('Error code: 429 - ...', 'Connection error.'): the "
        "exception is still the SDK's, and code written for v1 reads its text; scan flags "
        "branches on 0.28.1's texts and e.user_message keeps them",
        EVERY_CASE,
    ),
    "repr": ("repr(e) is the v1+ SDK's own, as str(e) is", EVERY_CASE),
    "code": (
        "the v1+ SDK sets e.code from the body on every status; 0.28.1 kept it only for "
        "400, 404 and 415 (InvalidRequestError)",
        frozenset(
            {
                "429 rate limit",
                "429 Retry-After written in capitals",
                "429 with request-id and openai-organization",
                "429 quota",
                "401 wrong key",
                "401 key in the message",
                "422 unprocessable",
            }
        ),
    ),
    "param": (
        "the v1+ SDK has e.param on every error (None without one); 0.28.1 only on "
        "InvalidRequestError",
        EVERY_CASE - {"400 context length", "404 model"},
    ),
    "request_id": (
        "the v1+ SDK sets e.request_id from x-request-id; 0.28.1 read request-id, which "
        "OpenAI does not send, and so said None (and the SDK says None where only "
        "request-id came)",
        frozenset(
            {
                "429 with request-id and openai-organization",
                "429 rate limit",
                "429 Retry-After written in capitals",
                "429 quota",
                "503 overloaded",
                "500 server error",
                "400 context length",
                "401 wrong key",
                "404 model",
            }
        ),
    ),
    "user_message": (
        "a key the answer carried is replaced by [REDACTED] (0.28.1 showed it)",
        frozenset({"401 key in the message"}),
    ),
    "http_body": (
        "a key the answer carried is replaced by [REDACTED] (0.28.1 showed it)",
        frozenset({"401 key in the message"}),
    ),
    "json_body": (
        "a key the answer carried is replaced by [REDACTED] (0.28.1 showed it)",
        frozenset({"401 key in the message"}),
    ),
    "error": (
        "a key the answer carried is replaced by [REDACTED] (0.28.1 showed it)",
        frozenset({"401 key in the message"}),
    ),
    "http_status": (
        "the v1+ SDK keeps an error event's error, not the stream's answer: its status "
        "(200 in 0.28.1) is not known",
        frozenset({"stream error event"}),
    ),
    "headers": (
        "the v1+ SDK keeps an error event's error, not the stream's answer: its headers "
        "are not known",
        frozenset({"stream error event"}),
    ),
    "headers_get": (
        "the v1+ SDK keeps an error event's error, not the stream's answer: its headers "
        "are not known",
        frozenset({"stream error event"}),
    ),
}


def current(name: str, server: FaultServer) -> BaseException:
    """The exception the current SDK raises for case *name*."""
    fault, how = cases.CASES[name]
    base = server.openai_url
    if how == "refused":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    elif fault is not None:
        server.script(fault)
    client = track(
        openai.OpenAI(base_url=base, api_key="sk-test", max_retries=0, timeout=cases.TIMEOUT)
    )

    def call() -> None:
        result = client.chat.completions.create(
            model="gpt-4o", messages=cases.MESSAGES, stream=how == "stream"
        )
        if how == "stream":
            for _ in result:
                pass

    with pytest.raises(legacy.OpenAIError) as info:
        call()
    return info.value
