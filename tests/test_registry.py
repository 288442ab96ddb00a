"""Adapters are a registry: new sources plug in without editing compat."""

from __future__ import annotations

import logging
import sys
import types

import pytest

import compat

# A stand-in third-party SDK: its exception class lives in module "acme_sdk.errors".
acme = types.ModuleType("acme_sdk.errors")


class AcmeThrottled(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"throttled, wait {wait}")
        self.wait = wait


AcmeThrottled.__module__ = "acme_sdk.errors"
acme.AcmeThrottled = AcmeThrottled  # type: ignore[attr-defined]


def acme_adapter(exc: BaseException) -> compat.LLMError | None:
    if isinstance(exc, AcmeThrottled):
        return compat.RateLimitError(
            kind=compat.ErrorKind.RATE_LIMITED,
            message=str(exc),
            retry_after=exc.wait,
            provider="acme",
        )
    return None


@pytest.fixture
def registered() -> object:
    sys.modules["acme_sdk.errors"] = acme
    compat.register_adapter("acme_sdk", acme_adapter)
    yield acme
    compat.unregister_adapter("acme_sdk")
    del sys.modules["acme_sdk.errors"]


@pytest.mark.usefixtures("registered")
def test_registered_adapter_translates() -> None:
    """An adapter registered for a package translates exceptions of its modules."""
    original = AcmeThrottled(2.5)
    error = compat.translate(original)
    assert isinstance(error, compat.RateLimitError)
    assert (error.retry_after, error.provider) == (2.5, "acme")
    assert original is error.__cause__


def test_unregistered_gives_none() -> None:
    """Without its adapter, the same exception is nobody's: None."""
    assert compat.translate(AcmeThrottled(1.0)) is None


def test_failing_adapter_gives_unknown_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    """An adapter that raises gives an unknown error with the original attached, and a log record."""

    def broken(exc: BaseException) -> compat.LLMError | None:
        raise RuntimeError("adapter bug")

    compat.register_adapter("acme_sdk", broken)
    try:
        original = AcmeThrottled(1.0)
        with caplog.at_level(logging.ERROR, logger="compat"):
            error = compat.translate(original)
    finally:
        compat.unregister_adapter("acme_sdk")
    assert error is not None
    assert compat.ErrorKind.UNKNOWN is error.kind
    assert original is error.__cause__
    assert any("AcmeThrottled" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("exc", [ValueError("x"), KeyError("k"), RuntimeError(), OSError("disk")])
def test_other_exceptions_give_none(exc: Exception) -> None:
    """Exceptions of no known source are not service failures."""
    assert compat.translate(exc) is None


def test_builtin_adapter_comes_back_after_unregister() -> None:
    """Unregistering a built-in module name restores the built-in adapter."""
    import requests

    compat.register_adapter("requests", lambda exc: None)
    assert compat.translate(requests.ConnectionError("x")) is None
    compat.unregister_adapter("requests")
    assert isinstance(compat.translate(requests.ConnectionError("x")), compat.APIConnectionError)
