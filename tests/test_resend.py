"""Which failures may have reached the server, told by the transport exceptions behind them."""

from __future__ import annotations

import pytest

import compat
from compat.retry.resend import may_have_arrived

httpx = pytest.importorskip("httpx")
requests = pytest.importorskip("requests")


def translated(exc: BaseException) -> compat.LLMError:
    error = compat.translate(exc)
    assert error is not None
    return error


@pytest.mark.parametrize(
    ("exc", "arrived"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow handshake"), False),
        (httpx.PoolTimeout("no connection free"), False),
        (httpx.ReadTimeout("no answer"), True),
        (httpx.RemoteProtocolError("peer closed connection"), True),
        (requests.ConnectTimeout("connect timed out"), False),
        (requests.ReadTimeout("read timed out"), True),
        (requests.exceptions.ChunkedEncodingError("broken chunk"), True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_transport_failures_say_whether_the_request_arrived(
    exc: BaseException, arrived: bool
) -> None:
    """Connect failures never sent the request; read failures and resets did."""
    assert arrived is may_have_arrived(translated(exc))


def test_the_cause_chain_and_reasons_are_followed() -> None:
    """requests wraps urllib3's MaxRetryError, whose reason says what happened."""
    import urllib3

    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    outer = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", refused))  # type: ignore[arg-type]
    assert not may_have_arrived(translated(outer))
    reset = ConnectionResetError(104, "Connection reset by peer")
    broken = requests.ConnectionError("aborted")
    broken.__cause__ = reset
    assert may_have_arrived(translated(broken))


def test_answers_and_client_side_refusals_never_arrived_twice() -> None:
    """An error status is the server's answer; compat's own refusals sent nothing."""
    answered = compat.from_response(500, {}, {"error": {"message": "boom"}})
    assert answered is not None
    assert not may_have_arrived(answered)
    timed_out = compat.from_response(504, {}, "")
    assert timed_out is not None
    assert may_have_arrived(timed_out)  # a gateway timeout: the request went through
