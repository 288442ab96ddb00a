"""compat must never be what breaks, leaks or hangs: secrets everywhere, nothing masked,
shared retry state under threads and asyncio together."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import compat
from compat.retry.pacing import GO, Limits, Observation
from compat.retry.state import LocalState
from compat.testing import FaultServer, faults
from tests.conftest import track

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
OPENAI_KEY = "sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678"
AZURE_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
APIM_KEY = "a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4"
GW_KEY, GW_SECRET = "gwkey-7f3a9c2e1b", "gwsecret-5d8e2f7a4c"
SECRETS = (OPENAI_KEY, AZURE_KEY, BEARER, APIM_KEY, GW_KEY, GW_SECRET)


def leaky_answer() -> Any:
    """A 401 that repeats every credential back: in the message, the headers and the body."""
    return faults.answer(
        401,
        {
            "authorization": f"Bearer {BEARER}",
            "api-key": AZURE_KEY,
            "ocp-apim-subscription-key": APIM_KEY,
            "x-request-id": "req_leak",
        },
        {
            "error": {
                "message": f"Incorrect API key provided: {OPENAI_KEY}. Azure key {AZURE_KEY}. "
                f"Bearer {BEARER}. See https://gw.example/openai/custom?key={GW_KEY}&secret={GW_SECRET}",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            },
            "echo": {"api_key": OPENAI_KEY, "authorization": f"Bearer {BEARER}"},
        },
    )


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:300])


def every_form(error: compat.LLMError) -> list[str]:
    return [
        str(error),
        repr(error),
        error.message,
        error.user_message,
        repr(error.args),
        repr(dict(error.headers)),
        json.dumps(error.body, default=str),
        error.http_body or "",
        repr(error.json_body),
        pickle.dumps(error).decode("latin-1"),
        repr(copy.deepcopy(error)),
        repr(error.fields()),
    ]


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_secrets_everywhere_through_the_sdk(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Secrets seeded in the key, the answer's message, headers and body, and a URL appear
    in no output: str, repr, message, kept headers and body, pickles, log records."""
    caplog.set_level(logging.DEBUG, logger="compat")
    server.script(leaky_answer())
    client = compat.wrap(track(openai.OpenAI(base_url=server.openai_url, api_key=OPENAI_KEY)))
    with pytest.raises(compat.AuthenticationError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert_no_secret(*every_form(info.value))
    assert_no_secret(*(record.getMessage() for record in caplog.records))
    assert_no_secret(*(repr(record.__dict__) for record in caplog.records))
    assert caplog.records, "the give-up was logged"


def test_secrets_everywhere_through_the_gateway(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Secrets in the gateway's answers and in its own query string appear in no error, cause
    or log record."""
    caplog.set_level(logging.DEBUG, logger="compat")
    server.script(leaky_answer(), faults.reset())
    with compat.GatewayClient(
        GW_KEY, GW_SECRET, base_url=server.gateway_url, timeout=(2, 2)
    ) as raw:
        client = compat.wrap(raw, compat.RetryPolicy(max_attempts=1))
        errors = []
        for _ in range(2):
            with pytest.raises(compat.LLMError) as info:
                client.call("v1/chat/completions", {"model": "gpt-4o"})
            errors.append(info.value)
        assert_no_secret(repr(raw), repr(client))
    assert isinstance(errors[1], compat.APIConnectionError)
    for error in errors:
        assert_no_secret(*every_form(error))
        cause = error.__cause__
        assert_no_secret(str(cause), repr(cause))
    assert_no_secret(*(record.getMessage() for record in caplog.records))


def test_secrets_everywhere_in_cli_output(tmp_path: Path) -> None:
    """explain shows none of the secrets a transcript holds, in text or JSON output."""
    transcript = tmp_path / "leak.txt"
    transcript.write_text(
        f"$ curl -i https://api.openai.com/v1/models -H 'Authorization: Bearer {OPENAI_KEY}'\n"
        "HTTP/1.1 401 Unauthorized\n"
        f"authorization: Bearer {BEARER}\n"
        f"api-key: {AZURE_KEY}\n"
        "content-type: application/json\n\n"
        + json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {OPENAI_KEY} ({APIM_KEY})",
                    "code": "invalid_api_key",
                }
            }
        )
    )
    for args in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "compat", "explain", str(transcript), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert 0 == done.returncode, done.stderr
        assert "authentication" in done.stdout
        assert_no_secret(done.stdout, done.stderr)


@pytest.mark.parametrize("kind", list(compat.ErrorKind))
def test_every_kind_survives_pickle_and_deepcopy(kind: compat.ErrorKind) -> None:
    """Every kind's error survives pickle (every protocol) and deepcopy with its fields."""
    error = compat.LLMError(
        kind=kind,
        message=f"{kind.value} happened",
        status=418,
        code="c",
        request_id="r",
        provider="azure",
        type="t",
        param="p",
        billed=True,
        retry_after=1.5,
        headers={"x-request-id": "r"},
        body={"error": {"message": "m"}},
    )
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert type(again) is type(error)
        assert again.fields() == error.fields()
    duplicate = copy.deepcopy(error)
    assert duplicate == error
    assert duplicate.fields() == error.fields()


# ---------------------------------------------------------------------- nothing masked


@pytest.mark.parametrize(
    "exc", [KeyboardInterrupt(), SystemExit(3), GeneratorExit(), asyncio.CancelledError()]
)
def test_base_exceptions_pass_every_wrapper(exc: BaseException, server: FaultServer) -> None:
    """Interrupts pass the policy, translating() and a wrapped client untouched, and are
    never retried."""
    calls = []

    def boom() -> None:
        calls.append(1)
        raise exc

    policy = compat.RetryPolicy()
    with pytest.raises(type(exc)) as info:
        policy.call(boom)
    assert info.value is exc
    with pytest.raises(type(exc)) as info, compat.translating():
        boom()
    assert info.value is exc
    with compat.GatewayClient(GW_KEY, GW_SECRET, base_url=server.gateway_url) as raw:
        raw.session.get = lambda *a, **k: boom()  # type: ignore[method-assign]
        with pytest.raises(type(exc)) as info:
            compat.wrap(raw, policy).call("v1/models")
    assert info.value is exc
    assert [1, 1, 1] == calls


def test_a_bug_in_the_callers_code_surfaces_as_itself() -> None:
    """A bug in the called code is raised as itself, never translated or retried."""

    def buggy() -> float:
        return 1 / 0

    with pytest.raises(ZeroDivisionError):
        compat.RetryPolicy().call(buggy)

    async def abuggy() -> float:
        return {}["missing"]  # type: ignore[no-any-return]

    with pytest.raises(KeyError):
        asyncio.run(compat.RetryPolicy().acall(abuggy))


def test_the_original_is_the_cause_with_its_traceback(server: FaultServer) -> None:
    """The original exception is the raised error's __cause__, with its traceback."""
    server.script(faults.reset())
    with (
        compat.GatewayClient(GW_KEY, GW_SECRET, base_url=server.gateway_url) as raw,
        pytest.raises(compat.APIConnectionError) as info,
    ):
        compat.wrap(raw, compat.RetryPolicy(max_attempts=1)).call("v1/models")
    cause = info.value.__cause__
    assert cause is not None
    assert cause.__traceback__ is not None


# ---------------------------------------------------------------------- shared state under load


def run_both(work: Any, threads: int = 8, per_thread: int = 500, tasks: int = 200) -> None:
    """*work()* from many threads and, at the same time, many asyncio tasks."""
    barrier = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def in_thread() -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                work()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    async def in_tasks() -> None:
        async def one() -> None:
            for _ in range(per_thread // 10):
                work()
                await asyncio.sleep(0)

        barrier.wait()
        await asyncio.gather(*(one() for _ in range(tasks)))

    workers = [threading.Thread(target=in_thread) for _ in range(threads)]
    for worker in workers:
        worker.start()
    asyncio.run(in_tasks())
    for worker in workers:
        worker.join(60)
        assert not worker.is_alive(), "deadlock"
    assert not failures


def test_budget_loses_no_update() -> None:
    """Withdrawals from threads and tasks at once never overdraw and are all counted."""
    capacity = 3000
    state = LocalState()
    granted = []
    lock = threading.Lock()

    def work() -> None:
        if state.budget_take(capacity):
            with lock:
                granted.append(1)

    run_both(work)  # 8 * 500 + 200 * 50 = 14000 attempts for 3000 tokens
    assert capacity == len(granted)
    assert 0 == state.budget_tokens(capacity)
    refilled = LocalState()
    for _ in range(10_000):
        refilled.budget_take(10_000)
    run_both(lambda: refilled.budget_give(10_000, 1.0), per_thread=100, tasks=20)
    assert 1000 == refilled.budget_tokens(10_000)  # 800 + 200 deposits


def test_pacer_hands_out_distinct_slots() -> None:
    """Reservations from threads and tasks at once get slots at least 1/rate apart: none is
    lost, none is doubled."""
    state = LocalState()
    limits = Limits(10_000, 0.0)
    seen = Observation(0, limit_requests=100, remaining_requests=0, reset_requests=1.0)
    state.report("t", 0.0, limits, seen, 0)
    target = state.target("t")
    assert target is not None
    rate = target.rate
    slots: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        verdict, wait, _, _ = state.acquire("t", 0.0, limits, float("inf"))
        assert GO == verdict
        with lock:
            slots.append(wait)

    run_both(work, per_thread=50, tasks=20)  # 400 + 100 reservations
    assert 500 == len(slots)
    slots.sort()
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert min(gaps) >= (1 / rate) * (1 - 1e-9)
