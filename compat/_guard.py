"""Raising the common error: a context manager and decorator, sync and async."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from compat._secrets import scrub
from compat._translate import translate

F = TypeVar("F", bound=Callable[..., Any])


class translating:
    """Translate whatever escapes a block or a function into the common error.

    Use it as ``with translating():``, ``async with translating():`` or as a
    decorator of a plain or ``async`` function. A failure of the service is raised
    as its ``LLMError``, ``from`` the original exception. Anything that is not a
    service failure (a bug in the block, ``KeyboardInterrupt``, ``SystemExit``,
    ``asyncio.CancelledError``) passes through untouched, and so does an
    ``LLMError`` raised inside the block.
    """

    __slots__ = ()

    def __enter__(self) -> translating:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        error = translate(exc)
        if error is None or error is exc:
            return
        scrub(exc)
        raise error from exc

    async def __aenter__(self) -> translating:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await cast("Callable[..., Awaitable[Any]]", func)(*args, **kwargs)
                except Exception as exc:
                    error = translate(exc)
                    if error is None or error is exc:
                        raise
                    scrub(exc)
                    raise error from exc

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                error = translate(exc)
                if error is None or error is exc:
                    raise
                scrub(exc)
                raise error from exc

        return cast(F, run)
