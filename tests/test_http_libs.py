"""requests, httpx and httpx2 exceptions, raised by real clients against a loopback server."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest
import requests

import compat
from compat.adapters._common import kind_by_class
from compat.adapters.http import (
    HTTPX_CALLER_BUGS,
    HTTPX_KINDS,
    REQUESTS_CALLER_BUGS,
    REQUESTS_KINDS,
)
from compat.testing import FaultServer

HTTPX_MODULES = [name for name in ("httpx", "httpx2") if importlib.util.find_spec(name) is not None]


def test_requests_timeout(server: FaultServer) -> None:
    """requests.ReadTimeout is timeout."""
    server.push(200, {}, {}, delay=2.0)
    with pytest.raises(requests.Timeout) as info:
        requests.get(server.url, timeout=0.2)
    error = compat.translate(info.value)
    assert isinstance(error, compat.APITimeoutError)
    assert info.value is error.__cause__


def test_requests_connection_refused() -> None:
    """requests.ConnectionError is connection, and the URL's credentials are not shown."""
    with pytest.raises(requests.ConnectionError) as info:
        requests.get("http://127.0.0.1:1/custom?key=k-123456&secret=s-abcdef", timeout=2)
    error = compat.translate(info.value)
    assert isinstance(error, compat.APIConnectionError)
    assert "s-abcdef" not in str(error)
    assert "k-123456" not in repr(error)


def test_requests_connection_reset(server: FaultServer) -> None:
    """A connection closed without an answer is connection."""
    server.push(200, reset=True)
    with pytest.raises(requests.ConnectionError) as info:
        requests.get(server.url, timeout=2)
    assert isinstance(compat.translate(info.value), compat.APIConnectionError)


def test_requests_http_error_reads_the_answer(server: FaultServer) -> None:
    """raise_for_status()'s HTTPError is read as the answer it holds."""
    body = {
        "error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}
    }
    server.push(429, {"x-request-id": "req_q"}, body)
    response = requests.get(server.url, timeout=2)
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    error = compat.translate(info.value)
    assert isinstance(error, compat.QuotaExceededError)
    assert (error.request_id, error.status) == ("req_q", 429)


def test_requests_json_decode_error(server: FaultServer) -> None:
    """A success whose body is not JSON, found by response.json(), is bad_response."""
    server.push(200, {"content-type": "application/json"}, "<html>oops</html>")
    response = requests.get(server.url, timeout=2)
    with pytest.raises(requests.JSONDecodeError) as info:
        response.json()
    error = compat.translate(info.value)
    assert error is not None
    assert compat.ErrorKind.BAD_RESPONSE is error.kind


def test_requests_bad_url_is_invalid_request() -> None:
    """A malformed URL is the caller's mistake but still a failed call: invalid_request."""
    with pytest.raises(requests.exceptions.MissingSchema) as info:
        requests.get("notaurl", timeout=1)
    error = compat.translate(info.value)
    assert error is not None
    assert compat.ErrorKind.INVALID_REQUEST is error.kind


def exception_classes(module: ModuleType) -> list[type]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Exception)
        and obj.__module__.split(".")[0] == module.__name__.split(".")[0]
    ]


def test_every_requests_exception_is_mapped() -> None:
    """Every exception requests defines is in the table or is a known usage error."""
    classes = exception_classes(requests.exceptions)
    assert len(classes) >= 20
    for cls in classes:
        if cls.__name__ in REQUESTS_CALLER_BUGS or issubclass(cls, Warning):
            continue
        assert kind_by_class(cls, REQUESTS_KINDS)[0], cls.__name__


@pytest.mark.parametrize("name", HTTPX_MODULES)
def test_every_httpx_exception_is_mapped(name: str) -> None:
    """Every exception httpx (or httpx2) exports is in the table or is a known usage error."""
    module = importlib.import_module(name)
    classes = exception_classes(module)
    assert len(classes) >= 20
    for cls in classes:
        if any(k.__name__ in HTTPX_CALLER_BUGS for k in cls.__mro__):
            assert compat.translate(cls.__new__(cls)) is None
            continue
        assert kind_by_class(cls, HTTPX_KINDS)[0], cls.__name__


@pytest.mark.parametrize("name", HTTPX_MODULES)
def test_httpx_transport_errors(server: FaultServer, name: str) -> None:
    """httpx's timeout, refused connection and status error translate by kind."""
    httpx = importlib.import_module(name)
    server.push(200, {}, {}, delay=2.0)
    with pytest.raises(httpx.TimeoutException) as timeout:
        httpx.get(server.url, timeout=0.2)
    assert isinstance(compat.translate(timeout.value), compat.APITimeoutError)

    with pytest.raises(httpx.ConnectError) as refused:
        httpx.get("http://127.0.0.1:1/", timeout=2)
    assert isinstance(compat.translate(refused.value), compat.APIConnectionError)

    server.push(
        503, {"retry-after": "4"}, {"error": {"message": "The engine is currently overloaded"}}
    )
    response = httpx.get(server.url, timeout=2)
    with pytest.raises(httpx.HTTPStatusError) as status:
        response.raise_for_status()
    error = compat.translate(status.value)
    assert isinstance(error, compat.OverloadedError)
    assert error.retry_after == 4.0
