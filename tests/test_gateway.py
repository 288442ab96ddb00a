"""The seed gateway: its envelope, every code of its table, through the real client over HTTP."""

from __future__ import annotations

import json
import logging
import pickle
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

import compat
from compat.adapters.gateway import SEED_GATEWAY
from compat.testing import FaultServer, faults

KEY, SECRET = "gwkey-1234567890", "gwsecret-abcdefghij"
COMPLETION = {
    "id": "cmpl-1",
    "object": "text_completion",
    "choices": [{"text": "hi", "index": 0, "finish_reason": "stop"}],
}
# The gateway's own example of an upstream rate limit delivered under code "2000".
UPSTREAM_TPM = {
    "response": {
        "error": {
            "message": "Rate limit reached for default-text-davinci-003 in organization org-s1mHAqazDVEDzVLaYDlHtn4z on "
            "tokens per min. Limit: 150000 / min. Current: 2000000 / min.",
            "type": "tokens",
            "param": None,
            "code": None,
        }
    },
    "error_code": "2000",
    "error": "",
    "reason": "",
    "request_id": "1.6403fb3e09647",
    "last_id": "1593602602",
}


def envelope(code: Any, response: Any = None, reason: str = "", error: str = "") -> dict[str, Any]:
    return {
        "response": response if response is not None else [],
        "error": error,
        "reason": reason,
        "error_code": code,
        "request_id": f"req-{code}",
    }


@pytest.fixture
def gateway(server: FaultServer) -> Any:
    """The server checks the gateway's query-string auth; a client points at it."""

    server.gateway_credentials = (KEY, SECRET)
    client = compat.GatewayClient(
        KEY, SECRET, base_url=server.url + "/openai/custom", timeout=(2, 2)
    )
    yield client
    client.close()


SEED_CASES = [(code, kind.value) for code, kind in SEED_GATEWAY.kinds.items()]


@pytest.mark.parametrize(("code", "kind"), SEED_CASES)
def test_every_code_under_http_200(server: FaultServer, gateway: Any, code: str, kind: str) -> None:
    """Each code of the seed table, delivered with HTTP 200, raises its kind with code,
    request id and billing kept."""
    server.push(200, {}, envelope(code, reason=f"reason {code}", error=f"error {code}"))
    with pytest.raises(compat.LLMError) as info:
        gateway.call("v1/chat/completions", {"model": "gpt-4o", "messages": []})
    error = info.value
    assert (kind, code, f"req-{code}", "gateway") == (
        error.kind.value,
        error.code,
        error.request_id,
        error.provider,
    )
    assert (code in SEED_GATEWAY.billed) is error.billed
    assert f"reason {code}" in error.message


@pytest.mark.parametrize("code", ["4008", "4016", "4000"])
def test_codes_under_an_error_status(server: FaultServer, gateway: Any, code: str) -> None:
    """The envelope's code decides even when the gateway also sends an HTTP error status."""
    server.push(503, {}, envelope(code))
    with pytest.raises(compat.LLMError) as info:
        gateway.call("v1/models")
    assert (SEED_GATEWAY.kinds[code], 503) == (info.value.kind, info.value.status)


@pytest.mark.parametrize("code", [4008, "4008 ", 4013])
def test_numeric_codes(server: FaultServer, gateway: Any, code: Any) -> None:
    """error_code given as a number (or with stray spaces) is read like the string."""
    server.push(200, {}, envelope(code))
    with pytest.raises(compat.LLMError) as info:
        gateway.call("v1/models")
    assert str(code).strip() == info.value.code


def test_success_returns_the_upstream_answer(server: FaultServer, gateway: Any) -> None:
    """Code 0000 (string or number 0) returns the envelope's response."""
    server.push(200, {}, envelope("0000", COMPLETION))
    assert COMPLETION == gateway.call("v1/completions", {"prompt": "hi", "max_tokens": 20})
    server.push(200, {}, envelope(0, COMPLETION))
    assert COMPLETION == gateway.call("v1/completions", {"prompt": "hi"})
    query = parse_qs(urlparse(server.requests[0].path).query)
    assert ["v1/completions"] == query["method"]
    assert {"prompt": "hi", "max_tokens": 20} == json.loads(query["_o_args"][0])
    assert (["no"], ["json"], ["en"]) == (query["cache"], query["result_type"], query["lang"])


def test_nested_upstream_error_decides(server: FaultServer, gateway: Any) -> None:
    """The gateway's own example: an upstream tokens-per-minute limit under code 2000 is rate_limited."""
    server.push(200, {}, UPSTREAM_TPM)
    with pytest.raises(compat.RateLimitError) as info:
        gateway.call("v1/completions", {"prompt": "x"})
    error = info.value
    assert ("1.6403fb3e09647", True, "2000", True) == (
        error.request_id,
        error.retryable,
        error.code,
        error.billed,
    )
    assert UPSTREAM_TPM == error.body


def test_nested_upstream_quota_is_quota(server: FaultServer, gateway: Any) -> None:
    """An upstream insufficient_quota inside the envelope is quota_exceeded, not retried."""
    upstream = {
        "error": {
            "message": "You exceeded your current quota",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
    server.push(200, {}, envelope("2000", upstream))
    with pytest.raises(compat.QuotaExceededError):
        gateway.call("v1/chat/completions")


def test_wrong_credentials(server: FaultServer) -> None:
    """The server's auth check answers 4005: authentication, and the secret is nowhere."""
    client = compat.GatewayClient(KEY, "wrong-secret-xyz", base_url=server.url + "/openai/custom")
    server.gateway_credentials = (KEY, SECRET)
    with pytest.raises(compat.AuthenticationError) as info:
        client.call("v1/models")
    client.close()
    for text in (
        str(info.value),
        repr(info.value),
        repr(client),
        pickle.dumps(info.value).decode("latin-1"),
    ):
        assert "wrong-secret-xyz" not in text
        assert KEY not in text


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, "<html><title>502 Bad Gateway</title></html>", "bad_response"),
        (502, "<html><title>502 Bad Gateway</title></html>", "server_error"),
        (200, {"response": COMPLETION}, "bad_response"),
        (200, {"error_code": None, "response": []}, "bad_response"),
        (200, [1, 2, 3], "bad_response"),
        (200, '{"error_code": "4008", "resp', "bad_response"),
    ],
)
def test_malformed_envelopes(
    server: FaultServer, gateway: Any, status: int, body: Any, kind: str
) -> None:
    """HTML, missing codes, lists and truncated JSON give a clear error, never a crash."""
    server.push(status, {}, body)
    with pytest.raises(compat.LLMError) as info:
        gateway.call("v1/models")
    assert kind == info.value.kind.value


def test_transport_errors_keep_the_original_without_secrets(server: FaultServer) -> None:
    """A timeout and a refused connection become timeout / connection, from the requests
    exception, and neither text shows the key or the secret."""
    import requests

    server.push(200, {}, envelope("0000"), delay=2.0)
    slow = compat.GatewayClient(
        KEY, SECRET, base_url=server.url + "/openai/custom", timeout=(1, 0.2)
    )
    with pytest.raises(compat.APITimeoutError) as timeout:
        slow.call("v1/models")
    refused = compat.GatewayClient(KEY, SECRET, base_url="http://127.0.0.1:1/openai/custom")
    with pytest.raises(compat.APIConnectionError) as connection:
        refused.call("v1/models")
    for info in (timeout, connection):
        assert isinstance(info.value.__cause__, requests.RequestException)
        assert "gateway" == info.value.provider
        for text in (
            str(info.value),
            repr(info.value),
            str(info.value.__cause__),
            repr(info.value.__cause__),
        ):
            assert SECRET not in text
            assert KEY not in text
    slow.close()
    refused.close()


def test_wrap_retries_the_gateway_by_the_policy(
    server: FaultServer, gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """compat.wrap accepts the client: 4008 is retried, 4016 is not, and logs carry no secret."""
    server.push(200, {}, envelope("4008"))
    server.push(200, {}, envelope("4008"))
    server.push(200, {}, envelope("0000", COMPLETION))
    wrapped = compat.wrap(gateway)
    with compat.retry_testing(), caplog.at_level(logging.DEBUG, logger="compat"):
        assert COMPLETION == wrapped.call("v1/completions", {"prompt": "x"})
    assert 3 == len(server.requests)
    server.push(200, {}, envelope("4016", reason="Insufficient balance"))
    with pytest.raises(compat.QuotaExceededError):
        wrapped.call("v1/completions", {"prompt": "x"})
    assert 4 == len(server.requests)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in repr(wrapped)


def test_billed_failures_can_draw_on_the_budget(server: FaultServer, gateway: Any) -> None:
    """With count_billed, billed retries spend the budget; 4017 (billed) stops when it is spent."""
    server.add_rule(lambda request: faults.answer(200, {}, envelope("4017")))
    policy = compat.RetryPolicy(count_billed=True, budget_capacity=2, max_attempts=10, hold=False)
    with compat.retry_testing(), pytest.raises(compat.APITimeoutError) as info:
        compat.wrap(gateway, policy).call("v1/models")
    assert info.value.billed
    assert 3 == len(server.requests)


def test_a_user_registered_gateway(server: FaultServer) -> None:
    """An invented gateway with its own code field, success code and table works end to end."""
    table = compat.GatewayTable(
        name="acme",
        code_field="ret",
        success_codes={"OK"},
        kinds={"E_RATE": "rate_limited", "E_MONEY": "quota_exceeded", "E_AUTH": "authentication"},
        billed={"E_RATE"},
        message_fields=("msg",),
        result_field="data",
        request_id_field="trace",
    )
    compat.register_gateway(table)
    try:
        answer = {"ret": "E_MONEY", "msg": "balance is zero", "data": None, "trace": "t-1"}
        error = compat.from_response(200, {}, answer)
        assert error is not None
        assert ("quota_exceeded", "acme", "E_MONEY", "t-1") == (
            error.kind.value,
            error.provider,
            error.code,
            error.request_id,
        )
        assert compat.from_response(200, {}, {"ret": "OK", "data": {"x": 1}}) is None

        client = compat.GatewayClient(KEY, SECRET, base_url=server.url + "/acme", table=table)
        server.push(200, {}, {"ret": "E_RATE", "msg": "slow down", "data": None, "trace": "t-2"})
        server.push(200, {}, {"ret": "OK", "msg": "", "data": {"answer": 42}, "trace": "t-3"})
        with compat.retry_testing():
            assert {"answer": 42} == compat.wrap(client).call("v1/chat/completions")
        assert 2 == len(server.requests)
        client.close()
    finally:
        compat.unregister_gateway("acme")
    assert compat.from_response(200, {}, {"ret": "E_MONEY", "msg": "x"}) is None
