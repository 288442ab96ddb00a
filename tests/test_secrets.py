"""Secrets in the exceptions compat raises from, in log records, and known only by value."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator

import pytest

import compat
from compat.testing import FaultServer, faults
from tests.conftest import compat_logs, track

openai = pytest.importorskip("openai")
V1 = hasattr(openai, "OpenAI")

WHOLE_KEY = "sk-proj-" + "Q7x2" * 12
OPAQUE = "gw-7f3a9c1e-opaque-token"  # no known shape: only its value can tell it


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything the compat loggers emit, at every level, formatted with tracebacks."""
    stream = io.StringIO()
    with compat_logs(logging.StreamHandler(stream)):
        yield stream


def printed(error: BaseException) -> str:
    """What a user can print of a raised error: its traceback, causes and notes included."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_an_echoed_key_leaves_no_trace_in_the_cause_chain(
    server: FaultServer, captured: io.StringIO
) -> None:
    """A proxy that echoes the whole key in its 401: the raised error, its __cause__, the
    traceback and the log records show none of it."""
    body = {"error": {"message": f"Incorrect API key provided: {WHOLE_KEY}.", "type": "auth"}}
    server.script(faults.answer(401, {}, body))
    client = compat.wrap(track(openai.OpenAI(base_url=server.openai_url, api_key="sk-test")))
    with pytest.raises(compat.AuthenticationError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    error = info.value
    cause = error.__cause__
    assert cause is not None
    logging.getLogger("compat.retry").exception("the call failed", exc_info=error)
    for shown in (printed(error), str(cause), repr(cause.args), str(getattr(cause, "body", ""))):
        assert WHOLE_KEY not in shown
    assert "[REDACTED]" in str(cause)
    assert WHOLE_KEY not in captured.getvalue()


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_a_clients_own_key_is_redacted_by_value_whatever_its_shape(
    server: FaultServer, captured: io.StringIO
) -> None:
    """An opaque key with no known shape, echoed by a gateway in a message and a header, is
    found by its value: wrap knows the client's key."""
    body = {"error": {"message": f"token {OPAQUE} is not valid here"}}
    server.script(faults.answer(403, {"x-echo": OPAQUE}, body))
    client = compat.wrap(track(openai.OpenAI(base_url=server.openai_url, api_key=OPAQUE)))
    with pytest.raises(compat.PermissionDeniedError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    error = info.value
    shown = [printed(error), str(error), repr(error), error.message, str(error.headers)]
    shown += [str(error.body), repr(error.__cause__), captured.getvalue()]
    for text in shown:
        assert OPAQUE not in text


def test_registered_secrets_are_redacted_in_raw_answers() -> None:
    """A secret registered without a client is redacted in what from_response shows."""
    secret = "tenant-secret-93c1"
    compat.register_secret(secret)
    try:
        error = compat.from_response(401, {"x-tenant": secret}, f'{{"message": "bad {secret}"}}')
        assert error is not None
        assert secret not in error.message
        assert secret not in str(error.headers)
        assert secret not in str(error.body)
    finally:
        compat.unregister_secret(secret)
    kept = compat.from_response(401, {}, f'{{"message": "bad {secret}"}}')
    assert kept is not None
    assert secret in kept.message  # no longer registered, and of no known shape


def test_short_values_are_not_registered() -> None:
    """A value under 8 characters would redact ordinary words: it is ignored."""
    compat.register_secret("abc")
    error = compat.from_response(400, {}, '{"message": "abc is wrong"}')
    assert error is not None
    assert "abc is wrong" in error.message


def test_a_failing_adapter_logs_no_secret_of_the_original(captured: io.StringIO) -> None:
    """An adapter that fails is logged with its traceback, whose context is the original
    exception: that exception's secrets are redacted before the record is emitted."""

    class VendorError(Exception):
        pass

    VendorError.__module__ = "vendor_sdk_for_tests"

    def broken(exc: BaseException) -> compat.LLMError | None:
        raise RuntimeError("adapter bug")

    compat.register_adapter("vendor_sdk_for_tests", broken)
    try:
        with pytest.raises(compat.UnknownError) as info, compat.translating():
            raise VendorError(f"denied for key {WHOLE_KEY}")
    finally:
        compat.unregister_adapter("vendor_sdk_for_tests")
    assert "adapter bug" in captured.getvalue()
    assert WHOLE_KEY not in captured.getvalue()
    assert WHOLE_KEY not in printed(info.value)


@pytest.mark.parametrize(
    "text",
    [
        # openai 1.x and 2.x write the body they received into the message, as a repr
        "Error code: 401 - {'token': 'Zq81kLmN0pQr', 'password': ['Yx7Wv6Ut5Sr4', 'Aa1Bb2Cc3Dd4']}",
        'upstream said: {"error": {"message": "denied", "access_token": "Zq81kLmN0pQr"}}',
        "{'secret': {'value': 'Zq81kLmN0pQr'}, 'Authorization': 'Zq81kLmN0pQr'}",
        # whole values, whatever they hold: spaces and commas, escaped quotes, lists of
        # objects, nested objects, pretty-printed lists, camelCase keys (text, not JSON:
        # a message that quotes them)
        'upstream said: {"password": "correct Zq81kLmN0pQr battery", "n": 1}',
        'upstream said: {"password": "abcdefgh,Zq81kLmN0pQr"}',
        r'upstream said: {"token": "ab\"Zq81kLmN0pQr tail", "x": 1}',
        'upstream said: {"password": [{"v": "Yx7Wv6Ut5Sr4"}, {"v": "Zq81kLmN0pQr"}], "n": 1}',
        'upstream said: {"token": {"a": {"b": "Yx7Wv6Ut5Sr4"}, "c": "Zq81kLmN0pQr"}, "n": 2}',
        'upstream said: {"token": [\n  "Yx7Wv6Ut5Sr4",\n  "Zq81kLmN0pQr"\n], "n": 4}',
        'upstream said: {"accessToken": "ya29 Zq81kLmN0pQr", "clientSecret": "Aa1Bb2Cc3Dd4"}',
    ],
)
def test_secret_keys_quoted_in_a_message_lose_their_values(text: str) -> None:
    """A secret-named key quoted as in JSON or a dict's repr: its value goes, whatever its shape."""
    shown = str(compat.from_response(401, {}, text))
    for value in ("Zq81kLmN0pQr", "Yx7Wv6Ut5Sr4", "Aa1Bb2Cc3Dd4"):
        assert value not in shown, shown
    assert "[REDACTED]" in shown


def test_keys_that_only_contain_a_secret_word_keep_their_values() -> None:
    """'max_tokens' and 'token_count' are not secrets: their values stay readable."""
    text = "{'max_tokens': 'abcdef', \"token_count\": \"123456\", 'keyword': 'visible'}"
    assert text in str(compat.from_response(400, {}, text))


def test_openais_masked_echo_shows_no_more_than_openai_did() -> None:
    """OpenAI's 401 echoes a key masked ("sk-proj-Q7x2****...Q7x2"): compat shows at most
    that, never more of the key, whether or not the whole key is registered by value."""
    masked = WHOLE_KEY[:12] + "*" * 30 + WHOLE_KEY[-4:]
    body = {
        "error": {"message": f"Incorrect API key provided: {masked}.", "code": "invalid_api_key"}
    }
    compat.register_secret(WHOLE_KEY)
    try:
        error = compat.from_response(401, {}, body)
    finally:
        compat.unregister_secret(WHOLE_KEY)
    assert error is not None
    for shown in (error.message, str(error), repr(error), repr(error.body)):
        assert WHOLE_KEY not in shown
        assert WHOLE_KEY[:13] not in shown  # not one character past the masked prefix
        assert masked in shown or "[REDACTED]" in shown
