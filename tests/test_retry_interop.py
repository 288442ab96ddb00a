"""tenacity and stamina driven by the same policy."""

from __future__ import annotations

import pytest

import compat
from compat._errors import ERROR_CLASSES

K = compat.ErrorKind


def err(kind: K, retry_after: float | None = None) -> compat.LLMError:
    return ERROR_CLASSES[kind](kind=kind, message=kind.value, retry_after=retry_after)


def test_tenacity_predicate_and_wait() -> None:
    """tenacity retries what the policy retries, waits what it would wait, and stops on quota."""
    tenacity = pytest.importorskip("tenacity")
    policy = compat.RetryPolicy()
    waits: list[float] = []
    errors = [err(K.RATE_LIMITED, 0.01), err(K.SERVER_ERROR), err(K.QUOTA_EXCEEDED)]
    calls = [0]

    def fn() -> None:
        calls[0] += 1
        raise errors.pop(0)

    retrying = tenacity.Retrying(
        retry=policy.tenacity_retry(),
        wait=policy.tenacity_wait(),
        stop=tenacity.stop_after_attempt(10),
        sleep=waits.append,
        reraise=True,
    )
    with pytest.raises(compat.QuotaExceededError):
        retrying(fn)
    assert 3 == calls[0]
    assert 2 == len(waits)
    assert 0.01 <= waits[0] <= 0.011
    assert 0.0 <= waits[1] <= 1.0


def test_stamina_on_hook() -> None:
    """stamina's on= gets the server's wait as backoff, and False for what must not retry."""
    stamina = pytest.importorskip("stamina")
    policy = compat.RetryPolicy()
    assert policy.stamina_on(err(K.QUOTA_EXCEEDED)) is False
    assert policy.stamina_on(ValueError("not ours")) is False
    assert policy.stamina_on(err(K.SERVER_ERROR)) is True
    wait = policy.stamina_on(err(K.RATE_LIMITED, 2.0))
    assert isinstance(wait, float)
    assert 2.0 <= wait <= 2.2

    errors = [err(K.TIMEOUT), err(K.RATE_LIMITED, 0.01), err(K.AUTHENTICATION)]
    calls = [0]

    @stamina.retry(on=policy.stamina_on, attempts=10, wait_initial=0.001, wait_max=0.01)
    def fn() -> None:
        calls[0] += 1
        raise errors.pop(0)

    with pytest.raises(compat.AuthenticationError):
        fn()
    assert 3 == calls[0]
