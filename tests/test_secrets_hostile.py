"""Secrets of every shape, seeded into requests and answers on every path, shown nowhere.

Each path (the v1 SDK sync, async and streamed, Azure, the legacy SDK, the gateway client,
``from_response`` and the CLI) meets an answer that echoes every secret below in its
message, headers, body, code, param and request id, from a client holding a few opaque
secrets of its own. Nothing a user can print may show any of them: ``str``, ``repr``,
``message``, ``headers``, ``body``, ``args``, ``code``, ``param``, ``request_id``, the
pickle, ``traceback.format_exception`` of the raised error (causes included), every
record of the ``compat`` loggers at every level, the CLI's output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import secrets
import socket
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
from compat.testing import FaultServer, faults
from tests.conftest import compat_logs, track

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
LEGACY = openai is not None and not V1


def _token(
    size: int, alphabet: str = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(size))


# Every shape the hostile review found, and a few opaque ones only their value can tell.
OPENAI_KEY = "sk-proj-" + _token(48)
ESCAPED_KEY = "sk-" + _token(32)  # after "Bearer%20"
EQUALS_KEY = "sk-" + _token(32)  # after "%3D"
UNDERSCORE_KEY = "sk-" + _token(32)  # after "user_"
JWT = "eyJhbGciOiJSUzI1NiJ9." + _token(40) + "." + _token(43)
AZURE_84 = _token(52) + "JQQJ99" + _token(18) + "ACOG" + _token(4)
AZURE_32 = secrets.token_hex(16)
TOKEN_SCHEME = _token(24)  # Authorization: Token ...
APIKEY_SCHEME = _token(24)  # Authorization: ApiKey ...
APP_KEY, ACCESS_KEY, CLIENT_SECRET, SPACED_KEY = (_token(20) for _ in range(4))
X_AUTH_TOKEN, X_APP_KEY = _token(22), _token(22)
BODY_TOKEN, BODY_CLIENT_SECRET, PASSWORD_1, PASSWORD_2 = (_token(18) for _ in range(4))
SECRET_AS_KEY = "sk-" + _token(30)
CLIENT_KEY = "opaque-" + _token(26)  # the client's own key: no known shape
AD_TOKEN = "adtok-" + _token(30)  # an Azure AD token that is not a JWT
GATEWAY_KEY, GATEWAY_SECRET = "gk" + _token(14), "gs" + _token(14)
QUERY_SECRET = _token(20)  # in the legacy api_base's query string

SHAPED = (
    OPENAI_KEY,
    ESCAPED_KEY,
    EQUALS_KEY,
    UNDERSCORE_KEY,
    JWT,
    AZURE_84,
    AZURE_32,
    TOKEN_SCHEME,
    APIKEY_SCHEME,
    APP_KEY,
    ACCESS_KEY,
    CLIENT_SECRET,
    SPACED_KEY,
    X_AUTH_TOKEN,
    X_APP_KEY,
    BODY_TOKEN,
    BODY_CLIENT_SECRET,
    PASSWORD_1,
    PASSWORD_2,
    SECRET_AS_KEY,
)
OPAQUE = (CLIENT_KEY, AD_TOKEN, GATEWAY_KEY, GATEWAY_SECRET, QUERY_SECRET)

MESSAGE = (
    f"Incorrect API key provided: {OPENAI_KEY}. Proxy saw Bearer%20{ESCAPED_KEY} and "
    f"redirect?next=%3D{EQUALS_KEY} for user_{UNDERSCORE_KEY}; token {JWT}; Azure key "
    f"{AZURE_84} and {AZURE_32}; Authorization: Token {TOKEN_SCHEME}; authorization: "
    f"ApiKey {APIKEY_SCHEME}; GET /v1?app_key={APP_KEY}&access_key={ACCESS_KEY}&"
    f"client_secret={CLIENT_SECRET} and key={SPACED_KEY} given; your key {CLIENT_KEY} "
    "was refused"
)
HEADERS = {
    "x-auth-token": X_AUTH_TOKEN,
    "x-app-key": X_APP_KEY,
    "x-request-id": f"rid-{CLIENT_KEY}",
    "x-echo": f"key={SPACED_KEY}",
}
BODY = {
    "error": {
        "message": MESSAGE,
        "type": "invalid_request_error",
        "code": f"invalid_{CLIENT_KEY}",
        "param": OPENAI_KEY,
    },
    "token": BODY_TOKEN,
    "client_secret": BODY_CLIENT_SECRET,
    "password": [PASSWORD_1, PASSWORD_2],
    SECRET_AS_KEY: "a secret used as a key",
}


def leaky(status: int = 401, opaque: str = CLIENT_KEY) -> Any:
    """An answer that echoes every shaped secret, and the client's own opaque one
    (*opaque*), in every part of it."""
    body = json.loads(json.dumps(BODY).replace(CLIENT_KEY, opaque))
    headers = {name: value.replace(CLIENT_KEY, opaque) for name, value in HEADERS.items()}
    return faults.answer(status, headers, body)


@pytest.fixture
def records() -> Iterator[list[str]]:
    """Every record of the compat loggers, at every level, formatted with its traceback
    and with everything it carries."""
    shown: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(self.format(record))
            shown.append(repr(record.__dict__))

    with compat_logs(Collect(logging.DEBUG)):
        yield shown


def forms(error: BaseException) -> list[str]:
    """Everything a user can print of a raised error."""
    shown = [
        str(error),
        repr(error),
        repr(error.args),
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
        pickle.dumps(error).decode("latin-1"),
    ]
    if isinstance(error, compat.LLMError):
        shown += [
            error.message,
            repr(dict(error.headers)),
            json.dumps(error.body, default=str),
            str(error.code),
            str(error.param),
            str(error.request_id),
            str(error.type),
            repr(error.user_message),
            repr(error.http_body),
            repr(error.json_body),
            repr(error.error),
        ]
    cause = error.__cause__
    while cause is not None:
        shown += [str(cause), repr(cause), repr(getattr(cause, "body", None))]
        cause = cause.__cause__
    return shown


def assert_hidden(texts: list[str], *opaque: str) -> None:
    """No shaped secret in *texts*, nor the opaque ones the path's client knows."""
    for text in texts:
        for secret in SHAPED + (opaque or (CLIENT_KEY,)):
            assert secret not in text, (secret, text[:400])


def assert_legacy_shape(error: compat.LLMError) -> None:
    """The legacy attributes keep 0.28's shape, secrets replaced."""
    assert isinstance(error.user_message, str)
    assert isinstance(error.http_body, str)
    assert isinstance(error.json_body, dict)
    assert "[REDACTED]" in error.user_message


# ---------------------------------------------------------------------- the v1 SDK


def v1_client(server: FaultServer, **options: Any) -> Any:
    return track(openai.OpenAI(base_url=server.openai_url, api_key=CLIENT_KEY, **options))


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_v1_sync(server: FaultServer, records: list[str]) -> None:
    """Through compat.wrap(openai.OpenAI): the raised error and the log records."""
    server.script(leaky())
    with pytest.raises(compat.AuthenticationError) as info:
        compat.wrap(v1_client(server)).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert_legacy_shape(info.value)
    assert_hidden(forms(info.value) + records)


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_v1_async(server: FaultServer, records: list[str]) -> None:
    """Through compat.wrap(openai.AsyncOpenAI)."""
    server.script(leaky(403))

    async def call() -> None:
        raw = openai.AsyncOpenAI(base_url=server.openai_url, api_key=CLIENT_KEY)
        try:
            await compat.wrap(raw).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        finally:
            await raw.close()

    # a 403 whose words say the key is wrong ("Incorrect API key provided") is
    # authentication: words that name the failure outrank the status (DESIGN)
    with pytest.raises(compat.AuthenticationError) as info:
        asyncio.run(call())
    assert_hidden(forms(info.value) + records)


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_v1_stream(server: FaultServer, records: list[str]) -> None:
    """A stream whose first event is an error echoing every secret."""
    event = json.dumps({"error": BODY["error"]})
    server.script(
        faults.answer(200, {"content-type": "text/event-stream", **HEADERS}, f"data: {event}\n\n")
    )
    client = compat.wrap(v1_client(server), compat.RetryPolicy(max_attempts=1))
    with pytest.raises(compat.LLMError) as info:
        list(
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
    assert_hidden(forms(info.value) + records)


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_azure(server: FaultServer, records: list[str]) -> None:
    """Through compat.wrap(openai.AzureOpenAI) with an Azure AD token of no known shape."""
    server.script(leaky(opaque=AD_TOKEN))
    client = track(
        openai.AzureOpenAI(
            azure_endpoint=server.azure_endpoint,
            azure_ad_token=AD_TOKEN,
            api_version="2024-06-01",
        )
    )
    with pytest.raises(compat.AuthenticationError) as info:
        compat.wrap(client).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert_hidden(forms(info.value) + records, AD_TOKEN)


# ---------------------------------------------------------------------- the legacy SDK


@pytest.fixture
def legacy_module() -> Iterator[Any]:
    saved = (openai.api_base, openai.api_key, openai.api_type, openai.api_version)
    yield openai
    openai.api_base, openai.api_key, openai.api_type, openai.api_version = saved


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")
def test_legacy_answer(server: FaultServer, legacy_module: Any, records: list[str]) -> None:
    """The legacy module through compat.wrap, answered with every secret."""
    legacy_module.api_base, legacy_module.api_key = server.openai_url, CLIENT_KEY
    legacy_module.api_type, legacy_module.api_version = "open_ai", None
    server.script(leaky())
    with pytest.raises(compat.AuthenticationError) as info:
        compat.wrap(legacy_module).ChatCompletion.create(
            model="gpt-4", messages=[{"role": "user", "content": "hi"}]
        )
    assert_legacy_shape(info.value)
    assert_hidden(forms(info.value) + records)


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")
def test_legacy_refused_connection_with_a_key_in_the_url(
    legacy_module: Any, records: list[str]
) -> None:
    """A key in api_base's query string, on a refused connection: the cause chain names
    the URL, redacted."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    legacy_module.api_base = f"http://127.0.0.1:{port}/v1?key={QUERY_SECRET}"
    legacy_module.api_key, legacy_module.api_type = CLIENT_KEY, "open_ai"
    compat.register_secret(QUERY_SECRET)
    try:
        with compat.retry_testing(), pytest.raises(compat.APIConnectionError) as info:
            compat.wrap(legacy_module, compat.RetryPolicy(max_attempts=1)).ChatCompletion.create(
                model="gpt-4", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        compat.unregister_secret(QUERY_SECRET)
    assert_hidden(forms(info.value) + records, QUERY_SECRET, CLIENT_KEY)


# ---------------------------------------------------------------------- the gateway client


def test_gateway(server: FaultServer, records: list[str]) -> None:
    """The gateway client (its key and secret in the query string), answered with every
    secret; then redirected to an address that refuses, with the original URL (key and
    secret in it) percent-encoded in ``next=``."""
    with compat.GatewayClient(
        GATEWAY_KEY, GATEWAY_SECRET, base_url=server.gateway_url, timeout=(2, 2)
    ) as raw:
        client = compat.wrap(raw, compat.RetryPolicy(max_attempts=1))
        server.script(leaky(opaque=GATEWAY_SECRET))
        with pytest.raises(compat.LLMError) as answered:
            client.call("v1/chat/completions", {"model": "gpt-4o"})
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        from urllib.parse import quote

        original = f"{server.gateway_url}?key={GATEWAY_KEY}&secret={GATEWAY_SECRET}"
        location = f"http://127.0.0.1:{port}/login?next={quote(original, safe='')}"
        server.script(faults.answer(302, {"location": location}, ""))
        with compat.retry_testing(), pytest.raises(compat.LLMError) as redirected:
            client.call("v1/chat/completions", {"model": "gpt-4o"})
        assert_hidden([repr(raw), repr(client)], GATEWAY_KEY, GATEWAY_SECRET)
    assert_hidden(
        forms(answered.value) + forms(redirected.value) + records, GATEWAY_KEY, GATEWAY_SECRET
    )


# ---------------------------------------------------------------------- raw answers and the CLI


def test_from_response_with_registered_secrets(records: list[str]) -> None:
    """A raw answer read without a client: the opaque secrets are registered by value."""
    for secret in OPAQUE:
        compat.register_secret(secret)
    try:
        error = compat.from_response(401, HEADERS, json.dumps(BODY).encode())
        assert error is not None
        shown = forms(error)
    finally:
        for secret in OPAQUE:
            compat.unregister_secret(secret)
    assert_legacy_shape(error)
    assert_hidden(shown + records, *OPAQUE)


def test_cli_explain(tmp_path: Path) -> None:
    """``python -m compat explain`` on a transcript echoing every shaped secret (the CLI
    runs in a process of its own, where no client registered the opaque ones)."""
    transcript = tmp_path / "leak.txt"
    headers = "".join(f"{name}: {value}\n" for name, value in HEADERS.items())
    transcript.write_text(
        f"$ curl -i https://api.openai.com/v1/models -H 'Authorization: Bearer {OPENAI_KEY}'\n"
        f"HTTP/1.1 401 Unauthorized\n{headers}authorization: Bearer {JWT}\n"
        "content-type: application/json\n\n" + json.dumps(BODY).replace(CLIENT_KEY, OPENAI_KEY)
    )
    for args in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "compat", "explain", str(transcript), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert 0 == done.returncode, done.stderr
        for secret in SHAPED:
            assert secret not in done.stdout + done.stderr, secret
