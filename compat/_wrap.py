"""``compat.wrap``: a client behind the retry policy, with its interface kept.

``wrap(client).chat.completions.create(...)`` is the client's own call, made
under a :class:`~compat.RetryPolicy`: every failure leaves as a compat error, a
failure the policy retries is retried, and the SDK's own retries are off so that
attempts never multiply. For the v1+ SDK the call goes through
``with_raw_response`` so that the rate-limit headers of successful answers feed
the target's pacer; the caller still gets the parsed result.

Streams: a failure before the first chunk is retried like any other; a failure
after it is translated and raised, never retried (part of the answer was read).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
from collections.abc import AsyncIterator, Hashable, Iterator
from typing import Any

from compat._parse import signal_headers
from compat._retry import RetryPolicy, _Run
from compat._translate import translate

log = logging.getLogger("compat.wrap")

# Legacy resources whose create() loops on TryAgain until its `timeout` argument.
_LEGACY_WARMUP_LOOPS = frozenset({"ChatCompletion", "Completion", "Embedding", "Edit"})


def fingerprint(secret: object) -> str:
    """A short, one-way name for a key, to tell pacing targets apart without keeping it."""
    if not secret:
        return ""
    return hashlib.sha256(str(secret).encode()).hexdigest()[:12]


def wrap(client: Any, policy: RetryPolicy | None = None) -> Any:
    """Put *client* behind *policy* (default: ``RetryPolicy()``), keeping its interface.

    Accepted: ``openai.OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI``,
    ``AsyncAzureOpenAI``, the legacy ``openai`` module (``openai<1``) and
    compat's gateway client. Raises ``TypeError`` for anything else.
    """
    policy = RetryPolicy() if policy is None else policy
    wrap_hook = getattr(client, "__compat_wrap__", None)
    if wrap_hook is not None:
        return wrap_hook(policy)
    if inspect.ismodule(client) and hasattr(client, "api_base") and hasattr(client, "error"):
        return _Proxy(client, None, _Legacy(client, policy))
    if hasattr(client, "with_options") and hasattr(client, "with_raw_response"):
        retries = getattr(client, "max_retries", 0)
        if retries:
            log.debug("turning off the SDK's own %d retries: the policy retries", retries)
        inner = client.with_options(max_retries=0)
        return _Proxy(inner, inner.with_raw_response, _V1(inner, policy))
    raise TypeError(f"compat.wrap does not know how to wrap {type(client).__qualname__}")


class _Client:
    """What a wrapped client knows: its policy and how to name a call's target."""

    policy: RetryPolicy
    #: Whether every API method of the client returns an awaitable.
    is_async = False

    def target(self, kwargs: dict[str, Any]) -> Hashable:
        raise NotImplementedError

    def prepare(self, owner: Any, name: str, kwargs: dict[str, Any]) -> None:
        """Adjust a call's arguments before it is made (the legacy SDK's warm-up loop)."""


class _V1(_Client):
    def __init__(self, client: Any, policy: RetryPolicy) -> None:
        self.policy = policy
        self.is_async = type(client).__name__.startswith("Async")
        provider = "azure" if "Azure" in type(client).__name__ else "openai"
        self._base = (provider, str(client.base_url), fingerprint(getattr(client, "api_key", "")))

    def target(self, kwargs: dict[str, Any]) -> Hashable:
        return (*self._base, kwargs.get("model"))


class _Legacy(_Client):
    def __init__(self, module: Any, policy: RetryPolicy) -> None:
        self.policy = policy
        self._module = module

    def target(self, kwargs: dict[str, Any]) -> Hashable:
        module = self._module
        api_type = str(getattr(module, "api_type", "") or "").lower()
        provider = "azure" if api_type.startswith("azure") else "openai"
        model = kwargs.get("deployment_id") or kwargs.get("engine") or kwargs.get("model")
        base = kwargs.get("api_base") or module.api_base
        return (provider, base, fingerprint(kwargs.get("api_key") or module.api_key), model)

    def prepare(self, owner: Any, name: str, kwargs: dict[str, Any]) -> None:
        if getattr(owner, "__name__", "") in _LEGACY_WARMUP_LOOPS and name in ("create", "acreate"):
            # The SDK retries TryAgain (409) until `timeout`; 0 makes it raise at once.
            kwargs.setdefault("timeout", 0)


class _Proxy:
    """Stands in for a client or one of its resources; API calls go through the policy."""

    __slots__ = ("_compat_client", "_compat_obj", "_compat_raw", "_compat_top")

    def __init__(self, obj: Any, raw: Any, client: _Client, top: bool = True) -> None:
        self._compat_obj = obj
        self._compat_raw = raw
        self._compat_client = client
        self._compat_top = top

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._compat_obj, name)
        if name.startswith("_"):
            return value
        raw = getattr(self._compat_raw, name, None) if self._compat_raw is not None else None
        if inspect.ismethod(value) or inspect.isfunction(value):
            if self._compat_top:
                # The client's own methods (copy, with_options, close) are not API calls.
                return value
            client = self._compat_client
            if client.is_async or inspect.iscoroutinefunction(value):
                return _AsyncMethod(self._compat_obj, name, value, raw, client)
            return _Method(self._compat_obj, name, value, raw, client)
        module = type(value).__module__ or ""
        resource = module.startswith(("openai.resources", "openai.api_resources"))
        if resource or inspect.isclass(value):
            return _Proxy(value, raw, self._compat_client, top=False)
        return value

    def __dir__(self) -> list[str]:
        return dir(self._compat_obj)

    def __repr__(self) -> str:
        return f"compat.wrap({self._compat_obj!r})"


class _Method:
    __slots__ = ("__wrapped__", "_client", "_fn", "_name", "_owner", "_raw")

    def __init__(self, owner: Any, name: str, fn: Any, raw: Any, client: _Client) -> None:
        self._owner, self._name, self._fn, self._raw, self._client = owner, name, fn, raw, client
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        client = self._client
        client.prepare(self._owner, self._name, kwargs)
        run = _Run(client.policy, client.target(kwargs))
        raw = self._raw if callable(self._raw) else None
        while True:
            run.before_attempt()
            try:
                if raw is not None:
                    response = raw(*args, **kwargs)
                    headers = signal_headers(getattr(response, "headers", None))
                    result = response.parse()
                else:
                    headers = None
                    result = self._fn(*args, **kwargs)
                if kwargs.get("stream") and hasattr(result, "__iter__"):
                    result = _SyncStream(result)
            except Exception as exc:  # noqa: BLE001 - run.failed raises what it does not retry
                run.sleep(run.failed(exc))
            else:
                run.succeeded(headers)
                return result


class _AsyncMethod(_Method):
    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        client = self._client
        client.prepare(self._owner, self._name, kwargs)
        run = _Run(client.policy, client.target(kwargs))
        raw = self._raw if callable(self._raw) else None
        while True:
            await run.abefore_attempt()
            try:
                if raw is not None:
                    response = await raw(*args, **kwargs)
                    headers = signal_headers(getattr(response, "headers", None))
                    result = response.parse()
                    if inspect.isawaitable(result):
                        result = await result
                else:
                    headers = None
                    result = await self._fn(*args, **kwargs)
                if kwargs.get("stream") and hasattr(result, "__aiter__"):
                    result = await _AsyncStream.start(result)
                elif kwargs.get("stream") and hasattr(result, "__iter__"):
                    result = _SyncStream(result)
            except Exception as exc:  # noqa: BLE001 - run.failed raises what it does not retry
                await run.asleep(run.failed(exc))
            else:
                run.succeeded(headers)
                return result


def _raise_translated(exc: Exception) -> None:
    error = translate(exc)
    if error is None or error is exc:
        raise exc
    raise error from exc


class _SyncStream:
    """A stream whose first chunk was read inside the attempt; later failures are translated."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._iterator = iter(stream)
        self._pending: list[Any] = []
        with contextlib.suppress(StopIteration):
            self._pending.append(next(self._iterator))

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._pending:
            return self._pending.pop()
        try:
            return next(self._iterator)
        except StopIteration:
            raise
        except Exception as exc:
            _raise_translated(exc)
            raise  # pragma: no cover - _raise_translated always raises

    def __enter__(self) -> _SyncStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _AsyncStream:
    """The async counterpart of :class:`_SyncStream`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._iterator = stream.__aiter__()
        self._pending: list[Any] = []

    @classmethod
    async def start(cls, stream: Any) -> _AsyncStream:
        self = cls(stream)
        with contextlib.suppress(StopAsyncIteration):
            self._pending.append(await self._iterator.__anext__())
        return self

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._pending:
            return self._pending.pop()
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as exc:
            _raise_translated(exc)
            raise  # pragma: no cover - _raise_translated always raises

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
