"""The legacy attributes, field by field, against what openai 0.28.1 itself gave.

tests/data/legacy_oracle/openai_0_28_1.json was written by
tests/data/legacy_oracle/record.py running openai 0.28.1 against compat's fault
server (tox's openai028 environment reruns it with ``--check``). Here the same
answers go to the current SDK; the exception it raises is caught by
``compat.legacy``'s names and must answer every legacy attribute as 0.28.1 did,
except where a difference is listed below with its reason. compat's own error for
the same answer (``compat.translate``) is held to the same record.
"""

from __future__ import annotations

import json

import pytest

import compat
import compat.legacy as legacy
from compat.testing import FaultServer
from tests.data.legacy_oracle import cases
from tests.legacy_oracle import (
    DIFFERENCES,
    EVERY_CASE,
    HTTP_CASES,
    ORACLE,
    V1,
    current,
)


def port_of(exc: BaseException, server: FaultServer) -> int:
    request = getattr(exc, "request", None)
    port = getattr(getattr(request, "url", None), "port", None)
    return port if isinstance(port, int) else server.port


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_sdk_exceptions_answer_as_0_28_1(name: str, fault_server: FaultServer) -> None:
    """Every legacy attribute of the current SDK's exception equals 0.28.1's, but for
    the listed differences, each of which must still be one."""
    exc = current(name, fault_server)
    normalise = cases.normaliser(port_of(exc, fault_server), cases.dates_in(exc))
    found = normalise(cases.record(exc, legacy))
    expected = ORACLE["cases"][name]
    assert expected["class"] == found["class"]
    for field in sorted(set(expected) - {"class"}):
        reason, where = DIFFERENCES.get(field, ("", frozenset()))
        if name in where:
            assert expected[field] != found[field], f"{field} no longer differs: {reason}"
        else:
            assert expected[field] == found[field], field


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_every_difference_has_a_reason_and_a_case() -> None:
    """The table of differences names real cases and fields, each with a reason."""
    fields = set(ORACLE["cases"]["timeout"])
    for field, (reason, where) in DIFFERENCES.items():
        assert field in fields
        assert len(reason) > 20
        assert where
        assert where <= EVERY_CASE


#: What compat's own error answers differently from 0.28.1, for the same answer.
COMPAT_DIFFERENCES: dict[str, tuple[str, frozenset[str]]] = {
    "headers": (
        "compat's errors keep header names lower-cased (any capitalisation still finds them)",
        HTTP_CASES,
    ),
    "user_message": (
        "0.28.1 wrote the headers into the message of a status without a class of its own; "
        "compat's errors keep their names lower-cased; and a key is [REDACTED]",
        frozenset(
            {
                "500 server error",
                "500 with internal_message",
                "422 unprocessable",
                "401 key in the message",
            }
        ),
    ),
    "http_body": ("a key is [REDACTED]", frozenset({"401 key in the message"})),
    "json_body": ("a key is [REDACTED]", frozenset({"401 key in the message"})),
    "error": ("a key is [REDACTED]", frozenset({"401 key in the message"})),
    "headers_get": (
        "compat's errors keep the answer's headers; 0.28.1 dropped them when the body had "
        "no error object",
        frozenset({"429 as text/plain", "500 JSON without an error object"}),
    ),
}
COMPAT_FIELDS = (
    "headers_get",
    "http_status",
    "http_body",
    "json_body",
    "headers",
    "user_message",
    "error",
    "organization",
)


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
@pytest.mark.parametrize("name", sorted(HTTP_CASES))
def test_compat_errors_answer_as_0_28_1(name: str, fault_server: FaultServer) -> None:
    """compat's error for the same answer answers the legacy names as 0.28.1 did, but
    for the listed differences."""
    exc = current(name, fault_server)
    error = compat.translate(exc)
    assert error is not None
    assert isinstance(error, legacy.OpenAIError)
    normalise = cases.normaliser(port_of(exc, fault_server), cases.dates_in(exc))
    found = normalise(cases.record(error, legacy))
    expected = ORACLE["cases"][name]
    for field in COMPAT_FIELDS:
        reason, where = COMPAT_DIFFERENCES.get(field, ("", frozenset()))
        if name in where:
            assert expected[field] != found[field], f"{field} no longer differs: {reason}"
        else:
            assert expected[field] == found[field], field
    lookups = found["headers_get"]
    assert lookups["Retry-After"] == lookups["retry-after"]


def test_error_object_reads_keys_as_attributes() -> None:
    """ErrorObject: item and attribute access, message and type always present, a missing
    name an AttributeError, JSON text for str(), picklable."""
    import copy
    import pickle

    error = legacy.ErrorObject({"code": "insufficient_quota", "innererror": {"code": "x"}})
    assert (None, None, "insufficient_quota") == (error.message, error.type, error.code)
    assert "insufficient_quota" == error["code"] == getattr(error, "code", None)
    assert "x" == error.innererror.code
    assert getattr(error, "nothing", "default") == "default"
    with pytest.raises(AttributeError):
        error._private  # noqa: B018
    assert {"message": None, "type": None, "code": "insufficient_quota"} == {
        k: error[k] for k in ("message", "type", "code")
    }
    assert json.loads(str(error))["innererror"] == {"code": "x"}
    assert repr(error).startswith("<ErrorObject at 0x")
    for clone in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert clone == error
        assert "x" == clone.innererror.code


def test_headers_are_case_insensitive_and_read_only() -> None:
    """CaseInsensitiveHeaders: any capitalisation finds a header, names stay as written,
    repeated names are joined, and it cannot be changed."""
    import pickle

    headers = legacy.CaseInsensitiveHeaders(
        [("Server", "a"), ("retry-after", "7"), ("server", "b")]
    )
    assert "7" == headers["Retry-After"] == headers.get("RETRY-AFTER")
    assert "Retry-After" in headers
    assert headers.get("x-missing") is None
    assert ["Server", "retry-after"] == list(headers)
    assert "a, b" == headers["SERVER"]
    assert headers == {"server": "a, b", "RETRY-AFTER": "7"}
    assert json.loads(json.dumps(headers)) == {"Server": "a, b", "retry-after": "7"}
    with pytest.raises(TypeError):
        headers["x"] = "y"
    with pytest.raises(TypeError):
        headers.update(x="y")
    changed = headers.copy()
    changed["x"] = "y"
    assert "x" not in headers
    assert pickle.loads(pickle.dumps(headers)) == headers


def test_compat_error_headers_stay_redacted_and_read_only() -> None:
    """LLMError.headers: lower-cased names, credentials replaced, any capitalisation
    finds a header, and nothing can change it."""
    error = compat.from_response(
        429,
        {"Retry-After": "7", "Authorization": "Bearer sk-abcdefghijklmnopqrstuvwxyz"},
        b'{"error": {"message": "slow down"}}',
    )
    assert error is not None
    assert "7" == error.headers.get("Retry-After") == error.headers["retry-after"]
    assert "[REDACTED]" == error.headers["AUTHORIZATION"]
    assert ["retry-after", "authorization"] == list(error.headers)
    with pytest.raises(TypeError):
        error.headers["retry-after"] = "0"  # type: ignore[index]
    assert "slow down" == error.user_message == error.error.message
