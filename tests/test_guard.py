"""compat.translating: raising the common error from a block or a function, sync and async."""

from __future__ import annotations

import asyncio

import pytest
import requests

import compat


def refused() -> None:
    """Make a real connection error: nothing listens on port 1."""
    requests.get("http://127.0.0.1:1/", timeout=2)


def test_context_manager_raises_from_the_original() -> None:
    """A service failure leaves the block as its LLMError, caused by the original."""
    with pytest.raises(compat.APIConnectionError) as info, compat.translating():
        refused()
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert info.value.__cause__.__traceback__ is not None


def test_decorator() -> None:
    """As a decorator, the function's failures are translated and its result kept."""

    @compat.translating()
    def call(fail: bool) -> str:
        if fail:
            refused()
        return "ok"

    assert call(False) == "ok"
    with pytest.raises(compat.APIConnectionError):
        call(True)
    assert call.__name__ == "call"


def test_async_forms() -> None:
    """async with, and decorating an async function, translate alike."""

    @compat.translating()
    async def call() -> None:
        await asyncio.sleep(0)
        refused()

    async def block() -> None:
        async with compat.translating():
            refused()

    for coro in (call, block):
        with pytest.raises(compat.APIConnectionError):
            asyncio.run(coro())


class Bug(Exception):
    pass


@pytest.mark.parametrize(
    "exc", [Bug("caller bug"), KeyError("k"), KeyboardInterrupt(), SystemExit(3)]
)
def test_what_is_not_a_service_failure_passes_untouched(exc: BaseException) -> None:
    """Caller bugs and interpreter exits leave the block as themselves."""
    with pytest.raises(type(exc)) as info, compat.translating():
        raise exc
    assert exc is info.value

    @compat.translating()
    def call() -> None:
        raise exc

    with pytest.raises(type(exc)) as info:
        call()
    assert exc is info.value


def test_cancellation_passes_untouched() -> None:
    """asyncio.CancelledError is never translated."""

    @compat.translating()
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.ensure_future(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_llm_error_inside_passes_as_itself() -> None:
    """An LLMError raised in the block is not wrapped again."""
    error = compat.LLMError(kind=compat.ErrorKind.TIMEOUT, message="late")
    with pytest.raises(compat.LLMError) as info, compat.translating():
        raise error
    assert error is info.value
