"""Downloads through compat.wrap: what the SDK gives as the answer's raw content (a file's
content, speech) comes back as it does without compat, whatever the bytes look like;
and openai 3.x's agent-session helper resends its input under one idempotency key.
Counted on the loopback fault server."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("needs the v1+ SDK", allow_module_level=True)

import compat  # noqa: E402
from compat.testing import FaultServer, faults  # noqa: E402
from tests.conftest import run_wrapped_async, track, wrapped_client  # noqa: E402

#: A Batch API output file: one JSON object a line (the Batch guide's shape), which is
#: not one JSON document.
BATCH_OUTPUT = (
    b'{"id": "batch_req_1", "custom_id": "request-1", "response": {"status_code": 200,'
    b' "request_id": "req_1", "body": {"id": "chatcmpl-1"}}, "error": null}\n'
    b'{"id": "batch_req_2", "custom_id": "request-2", "response": null, "error":'
    b' {"code": "batch_expired", "message": "This request could not be executed"}}\n'
)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"
SSE = {"content-type": "text/event-stream"}
SPEECH_EVENTS = (
    'data: {"type": "speech.audio.delta", "audio": "AAAA"}\n\n'
    'data: {"type": "speech.audio.done", "usage": {"input_tokens": 1, "output_tokens": 1,'
    ' "total_tokens": 2}}\n\n'
)

#: (name, the answer, the call, the bytes the SDK gives)
DOWNLOADS = [
    (
        "a Batch output file",
        faults.answer(200, {"content-type": "application/octet-stream"}, BATCH_OUTPUT),
        lambda client: client.files.content("file-abc123"),
        BATCH_OUTPUT,
    ),
    (
        "speech as mp3",
        faults.answer(200, {"content-type": "audio/mpeg"}, MP3),
        lambda client: client.audio.speech.create(model="tts-1", voice="alloy", input="hi"),
        MP3,
    ),
    (
        "speech as server-sent events",
        faults.answer(200, SSE, SPEECH_EVENTS),
        lambda client: client.audio.speech.create(
            model="gpt-4o-mini-tts", voice="alloy", input="hi", stream_format="sse"
        ),
        SPEECH_EVENTS.encode(),
    ),
]


@pytest.mark.parametrize(
    ("answer", "call", "expected"),
    [case[1:] for case in DOWNLOADS],
    ids=[case[0] for case in DOWNLOADS],
)
def test_a_download_comes_back_as_the_sdk_gives_it(
    server: FaultServer, answer: Any, call: Any, expected: bytes
) -> None:
    """The content is returned, sync and async, as by the unwrapped client (a body that
    is not one JSON document raised bad_response; speech as events raised TypeError)."""
    speech = inspect.signature(openai.OpenAI(api_key="x").audio.speech.create)
    if expected == SPEECH_EVENTS.encode() and "stream_format" not in speech.parameters:
        pytest.skip("the SDK's speech has no stream_format")
    server.script(answer)
    assert expected == call(wrapped_client(server)).read()

    async def body(client: Any) -> bytes:
        content = await call(client)
        return bytes(content.read())

    server.script(answer)
    assert expected == run_wrapped_async(server, body)
    assert 2 == len(server.requests)


def test_an_agent_sessions_input_is_resent_under_one_idempotency_key(server: FaultServer) -> None:
    """openai 3.x's ``beta.agents.sessions.stream`` submits its input when entered; a reset
    while it is submitted is retried on entry, and the input goes again under the same
    idempotency key, so that the server can tell it is the same (a new helper drew a new
    key for each attempt)."""
    sessions = getattr(getattr(openai.OpenAI(api_key="x").beta, "agents", None), "sessions", None)
    if sessions is None or not hasattr(sessions, "stream"):
        pytest.skip("the SDK has no beta.agents.sessions.stream")
    session = {"id": "sess_1", "object": "agent.session", "status": "idle"}
    server.script(
        faults.answer(200, {}, session),
        faults.answer(200, SSE, ""),
        faults.reset(),
        faults.answer(200, {}, session),
        faults.answer(200, SSE, ""),
    )
    client = track(openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test"))
    wrapped = compat.wrap(client, compat.RetryPolicy(max_attempts=3))
    with (
        compat.retry_testing(),
        wrapped.beta.agents.sessions.stream("sess_1", input="hi") as stream,
        pytest.raises(RuntimeError),  # the fault server's event stream ends at once
    ):
        stream.until_done()
    keys = [r.header("idempotency-key") for r in server.requests if r.method == "POST"]
    assert 2 == len(keys)
    assert keys[0] is not None
    assert keys[0] == keys[1]
