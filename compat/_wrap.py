"""``compat.wrap``: a client behind the retry policy, with its interface and its type kept.

``wrap(client).chat.completions.create(...)`` is the client's own call, made under a
:class:`~compat.RetryPolicy`: every failure leaves as a compat error, a failure the
policy retries is retried, and the SDK's own retries are off so that attempts never
multiply. What comes out of a wrapped client is wrapped too: ``with_options(...)``,
``copy(...)``, ``with_raw_response`` and ``with_streaming_response``.

For the v1+ SDK each call goes through ``with_raw_response``, so that the rate-limit
headers of successful answers feed the target's pacer, and so that a failure that
arrives under HTTP 200 (an error object, a gateway envelope with a failing code, an
HTML page, a completion carrying an ``error``) raises the common error instead of
coming back as an empty result. The caller still gets the parsed result.

Each attempt gets, as the SDK's own timeout, what the call's deadline leaves.

Streams: a failure before the first chunk is retried like any other; a failure after
it is translated and raised, never retried (part of the answer was read). The methods
that send their request when their result is entered (``with_streaming_response``'s and
the stream helpers, ``responses.stream`` and ``chat.completions.stream``) keep their
``with`` or ``async with`` form, the request sent under the policy on entry. A list's
later pages are fetched under the policy too, and the async client's methods that send
nothing (a paginator until it is awaited, a webhook's check) stay plain methods. The
Responses API's ``response.failed`` and ``error`` events, which the SDK yields as
events, are failures too; and a response whose ``status`` is ``failed`` raises,
without a retry when it was read back (``responses.retrieve``: a background job's
stored outcome, the same on every read).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, Generic, TypeVar, cast, overload

from compat._parse import signal_headers
from compat._secrets import logger, register_secret, scrub
from compat._sources import tables
from compat._translate import from_response, translate
from compat.retry.engine import Attempt
from compat.retry.policy import RetryPolicy
from compat.retry.target import Target, endpoint, fingerprint, operation
from compat.retry.tokens import Estimator, Measure, tpm_limit

log = logger("compat.wrap")

C = TypeVar("C")
Co = TypeVar("Co", covariant=True)

# Legacy resources whose create() loops on TryAgain until its `timeout` argument.
_LEGACY_WARMUP_LOOPS = frozenset({"ChatCompletion", "Completion", "Embedding", "Edit"})
# Methods of a v1 client that return another client: what they return is wrapped too.
_DERIVING = frozenset({"with_options", "copy"})
# Methods of a v1 client that send a request themselves.
_REQUESTING = frozenset({"get", "post", "put", "patch", "delete", "request", "get_api_list"})
# The GenAI operation names of the resources that have one (OpenTelemetry's semantic
# conventions), by the resource's path (v1+) or class name (legacy); their other
# methods, and other resources, are named by path and method ("images.generate").
_OPERATIONS = {
    "chat.completions": "chat",
    "beta.chat.completions": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "ChatCompletion": "chat",
    "Completion": "text_completion",
    "Embedding": "embeddings",
}
_CREATING = frozenset({"create", "acreate", "parse", "stream"})
_operations: dict[tuple[type, str], str] = {}

__all__ = ["Deployment", "fingerprint", "wrap"]


@overload
def wrap(client: Sequence[Deployment[C]], policy: RetryPolicy | None = None) -> C: ...


@overload
def wrap(client: list[C] | tuple[C, ...], policy: RetryPolicy | None = None) -> C: ...


@overload
def wrap(client: C, policy: RetryPolicy | None = None) -> C: ...


def wrap(client: Any, policy: RetryPolicy | None = None) -> Any:
    """Put *client* behind *policy* (default: ``RetryPolicy()``), keeping its interface.

    Accepted: ``openai.OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI``,
    ``AsyncAzureOpenAI``, the legacy ``openai`` module (``openai<1``) and compat's
    gateway client; type checkers see the result as the client's own type. A list of
    v1+ clients (or :class:`Deployment` s of them), in order of preference, is one
    client that fails over from one deployment to the next as the policy's
    ``failover_*`` fields say; it is typed as the first client's type. Raises
    ``TypeError`` for anything else.
    """
    policy = RetryPolicy() if policy is None else policy
    if isinstance(client, (list, tuple)):
        return _failover(client, policy)
    if isinstance(client, _Proxy) and client._compat_top:
        client = client._compat_obj  # a wrapped client: put the client itself under *policy*
    wrap_hook = getattr(client, "__compat_wrap__", None)
    if wrap_hook is not None:
        return wrap_hook(policy)
    if inspect.ismodule(client) and hasattr(client, "api_base") and hasattr(client, "error"):
        tables()  # every answer is read with them: built now rather than in the first call
        return _Proxy(client, None, _Legacy(client, policy))
    if hasattr(client, "with_options") and hasattr(client, "with_raw_response"):
        tables()
        retries = getattr(client, "max_retries", 0)
        if retries:
            log.debug("turning off the SDK's own %d retries: the policy retries", retries)
        inner = cast(Any, client).with_options(max_retries=0)
        return _Proxy(inner, inner.with_raw_response, _V1(inner, policy))
    raise TypeError(f"compat.wrap does not know how to wrap {type(client).__qualname__}")


class Deployment(Generic[Co]):
    """One deployment of a service among several behind ``compat.wrap([...])``.

    *client* is its v1+ SDK client. Where its requests differ from the first
    deployment's, say so: *models* maps the model names callers use to this
    deployment's (Azure's deployment names, another provider's model ids); *fields*
    are set on every request to it (and replace the caller's). *name* is how records
    and errors call it (default: its target).
    """

    def __init__(
        self,
        client: Co,
        *,
        models: Mapping[str, str] | None = None,
        fields: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.models = dict(models or {})
        self.fields = dict(fields or {})
        self.name = name

    def request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The caller's arguments as this deployment takes them."""
        if not self.models and not self.fields:
            return kwargs
        mapped = dict(kwargs)
        model = mapped.get("model")
        if isinstance(model, str) and model in self.models:
            mapped["model"] = self.models[model]
        mapped.update(self.fields)
        return mapped

    def __repr__(self) -> str:
        return f"Deployment({self.name or type(self.client).__name__})"


# ------------------------------------------------------------------------------ clients


class _Client:
    """What a wrapped client knows: its policy, how to name a call's target, how to call."""

    policy: RetryPolicy
    #: Whether every API method of the client returns an awaitable.
    is_async = False

    def target(self, kwargs: dict[str, Any]) -> Hashable:
        raise NotImplementedError

    def measure(self, kwargs: dict[str, Any]) -> Measure | None:
        """The call's estimated token cost, for targets whose token limit is paced."""
        return None

    def used(
        self,
        kwargs: dict[str, Any],
        result: Any,
        measured: Measure | None,
        headers: Mapping[str, str],
    ) -> float | None:
        """The tokens a successful call was charged, from its answer's usage (and learn);
        *headers* are the answer's decision headers."""
        return None

    def failed(self, exc: Exception) -> None:
        """Note what a failed attempt's exception says (before the policy reads it)."""

    def prepare(self, owner: Any, name: str, kwargs: dict[str, Any]) -> None:
        """Adjust a call's arguments before it is made (the legacy SDK's warm-up loop)."""

    def arguments(self, kwargs: dict[str, Any], attempt: Attempt) -> dict[str, Any]:
        """The arguments of one attempt: the call's, with the time its deadline leaves."""
        return kwargs

    def rewrap(self, client: Any) -> Any:
        """A client derived from the wrapped one, wrapped under the same policy."""
        return wrap(client, self.policy)


class _V1(_Client):
    def __init__(self, client: Any, policy: RetryPolicy) -> None:
        self.policy = policy
        self.is_async = _is_async_client(client)
        provider = "azure" if "Azure" in type(client).__name__ else "openai"
        api_key = getattr(client, "api_key", "")
        for secret in (api_key, getattr(client, "_azure_ad_token", None)):
            register_secret(secret)
        self._base = (provider, *endpoint(client.base_url, api_key))
        self._timeout = getattr(client, "timeout", None)
        # Prompts are counted by characters (no tiktoken encoding is loaded) until an
        # answer tells a token limit: until then no target paces tokens, and no estimate
        # is used.
        self._estimator = Estimator(exact=False)

    def target(self, kwargs: dict[str, Any]) -> Hashable:
        model = kwargs.get("model")
        return Target(*self._base, model if isinstance(model, str) else None)

    def measure(self, kwargs: dict[str, Any]) -> Measure | None:
        return self._estimator.measure(kwargs)

    def used(
        self,
        kwargs: dict[str, Any],
        result: Any,
        measured: Measure | None,
        headers: Mapping[str, str],
    ) -> float | None:
        if not self._estimator.exact and "x-ratelimit-limit-tokens" in headers:
            self._estimator.count_exactly()
        usage = getattr(result, "usage", None)
        return None if usage is None else self._estimator.learn(kwargs, usage, measured)

    def failed(self, exc: Exception) -> None:
        if not self._estimator.exact and _tells_token_limit(exc):
            self._estimator.count_exactly()

    def rewrap(self, client: Any) -> Any:
        wrapped = super().rewrap(client)
        derived = getattr(wrapped, "_compat_client", None)
        if isinstance(derived, _V1):
            # What answers told (a token limit, the learned ratios) holds for the clients
            # derived from this one (``with_options`` per request is the SDK's idiom).
            derived._estimator = self._estimator
        return wrapped

    def arguments(self, kwargs: dict[str, Any], attempt: Attempt) -> dict[str, Any]:
        left = attempt.timeout
        if left is None:
            return kwargs
        given = kwargs.get("timeout", self._timeout)
        shorter = _shorter(given, max(left, 0.001))
        return kwargs if shorter is given else {**kwargs, "timeout": shorter}


def _tells_token_limit(exc: Exception) -> bool:
    """Whether a failure's answer tells a token limit: in its headers, or in its words
    (a 429 "on tokens per min (TPM): Limit 30000, ...")."""
    headers = getattr(exc, "_signals", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    try:
        if headers is not None and headers.get("x-ratelimit-limit-tokens") is not None:
            return True
        message = getattr(exc, "message", None)
        return tpm_limit(message if isinstance(message, str) else str(exc)) is not None
    except Exception:  # noqa: BLE001 - an odd exception: it tells nothing
        return False


def _shorter(timeout: Any, left: float) -> Any:
    """*timeout* (a number, an ``httpx.Timeout`` or ``None``) cut to at most *left* seconds."""
    if timeout is None or isinstance(timeout, (int, float)):
        return timeout if timeout is not None and timeout <= left else left
    parts = {}
    for name in ("connect", "read", "write", "pool"):
        value = getattr(timeout, name, math.inf)
        parts[name] = left if value is None else min(value, left)
    if all(getattr(timeout, name, None) == value for name, value in parts.items()):
        return timeout
    try:
        return type(timeout)(**parts)
    except Exception:  # noqa: BLE001 - an unknown timeout type: a plain number will do
        return left


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
        api_key = kwargs.get("api_key") or module.api_key
        register_secret(api_key)  # the module's key may be set after wrap(openai)
        return Target(provider, *endpoint(base, api_key), model if isinstance(model, str) else None)

    def prepare(self, owner: Any, name: str, kwargs: dict[str, Any]) -> None:
        if getattr(owner, "__name__", "") in _LEGACY_WARMUP_LOOPS and name in ("create", "acreate"):
            # The SDK retries TryAgain (409) until `timeout`; 0 makes it raise at once.
            kwargs.setdefault("timeout", 0)

    def arguments(self, kwargs: dict[str, Any], attempt: Attempt) -> dict[str, Any]:
        left = attempt.timeout
        if left is None:
            return kwargs
        given = kwargs.get("request_timeout")
        if isinstance(given, (int, float)) and given <= left:
            return kwargs
        return {**kwargs, "request_timeout": max(left, 0.001)}


# ------------------------------------------------------------------------------ answers


def failure_in(status: int, headers: Any, body: bytes) -> Any:
    """The common error of a failure that arrived as a success (HTTP 2xx), else ``None``.

    Most successes are told apart by a few substring tests, without parsing: only a
    body that is not JSON, or that names an error, an envelope's code or a failed
    status (the sources say which keys), is read as an answer.
    """
    if not body:
        return None
    head = body[:64].lstrip()[:1]
    if head in (b"{", b"[") and not any(marker in body for marker in tables().body_markers):
        return None
    return from_response(status, headers, body)


def _document_failure(result: Any) -> Any:
    """The common error of a legacy SDK result that is a failure in disguise, else ``None``."""
    if not isinstance(result, dict) or tables().body_keys.isdisjoint(result):
        return None
    to_dict = getattr(result, "to_dict_recursive", None)
    document = to_dict() if callable(to_dict) else dict(result)
    return from_response(200, {}, document)


def _raise(error: Any) -> None:
    if error is not None:
        raise error


#: The Responses API's stream events that end it in failure, by class name.
_FAILED_EVENTS = frozenset({"ResponseFailedEvent", "ResponseErrorEvent"})


def _event_failure(event: Any) -> Any:
    """The common error of a Responses API stream event that is a failure (``response.failed``,
    ``error``), else ``None``; one set lookup for every other event."""
    if type(event).__name__ not in _FAILED_EVENTS:
        return None
    dump = getattr(event, "model_dump", None) or getattr(event, "dict", None)
    document = dump() if callable(dump) else None
    if not isinstance(document, dict):
        return None
    if document.get("type") == "error":  # ResponseErrorEvent: the error's fields at the top
        fields = ("code", "message", "param")
        document = {"error": {key: document.get(key) for key in fields}}
    return from_response(None, {}, document)


def _stored(error: Any) -> Any:
    """*error* made not retryable: a failed result read back is the stored outcome of a
    finished job (a background response), and reading it again gives it again."""
    if error is not None:
        object.__setattr__(error, "retryable", False)
    return error


def _operation(owner: Any, name: str) -> str:
    """The operation an API method performs, for instrumentation: ``"chat"`` for
    ``chat.completions.create``, ``"models.list"`` for ``models.list``."""
    kind = owner if inspect.isclass(owner) else type(owner)
    found = _operations.get((kind, name))
    if found is None:
        module = kind.__module__ or ""
        if module.startswith("openai.resources."):
            parts: list[str] = []
            for part in module[len("openai.resources.") :].split("."):
                if not parts or parts[-1] != part:  # chat.completions.completions
                    parts.append(part)
            path = ".".join(parts)
        elif module.startswith("openai.api_resources"):
            path = kind.__name__
        else:
            path = ""
        known = _OPERATIONS.get(path) if name in _CREATING else None
        found = known or (f"{path}.{name}" if path else name)
        if len(_operations) < 1024:
            _operations[(kind, name)] = found
    return found


class _Call:
    """One API method of a wrapped client, called under the policy."""

    __slots__ = ("__wrapped__", "_client", "_fn", "_name", "_owner", "_raw")

    def __init__(self, owner: Any, name: str, fn: Any, raw: Any, client: _Client) -> None:
        self._owner, self._name, self._fn, self._raw, self._client = owner, name, fn, raw, client
        self.__wrapped__ = fn

    def _start(self, kwargs: dict[str, Any]) -> tuple[Any, Hashable, Measure | None]:
        client = self._client
        client.prepare(self._owner, self._name, kwargs)
        raw = self._raw if callable(self._raw) else None
        return raw, client.target(kwargs), client.measure(kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raw, key, measured = self._start(kwargs)
        client = self._client
        named = operation.set(_operation(self._owner, self._name))
        try:
            for attempt in client.policy.attempts(target=key, tokens=_tokens(measured)):
                with attempt:
                    result = self._once(
                        raw, attempt, args, client.arguments(kwargs, attempt), measured
                    )
        finally:
            operation.reset(named)
        return _paged(result, client.policy, key)

    def _once(
        self,
        raw: Any,
        attempt: Attempt,
        args: tuple[Any, ...],
        kw: dict[str, Any],
        measured: Measure | None = None,
    ) -> Any:
        if raw is None:
            result = self._fn(*args, **kw)
            _raise(_document_failure(result))
        else:
            try:
                response = raw(*args, **kw)
                http = response.http_response
                headers = signal_headers(http.headers)
                if kw.get("stream") or _left_unread(http):
                    _raise(_not_a_stream(http))
                    result = _SyncStream(response.parse())
                else:
                    _raise(_answer_failure(self._name, response, http))
                    result = response.parse()
            except Exception as exc:
                self._client.failed(exc)
                raise
            attempt.answered(headers, self._client.used(kw, result, measured, headers))
        if kw.get("stream") and raw is None and hasattr(result, "__iter__"):
            result = _SyncStream(result)
        return result


class _AsyncCall(_Call):
    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raw, key, measured = self._start(kwargs)
        client = self._client
        named = operation.set(_operation(self._owner, self._name))
        loop = client.policy.aattempts(target=key, tokens=_tokens(measured))
        try:
            async for attempt in loop:
                async with attempt:
                    result = await self._aonce(
                        raw, attempt, args, client.arguments(kwargs, attempt), measured
                    )
        finally:
            await cast(Any, loop).aclose()
            operation.reset(named)
        return result

    async def _aonce(
        self,
        raw: Any,
        attempt: Attempt,
        args: tuple[Any, ...],
        kw: dict[str, Any],
        measured: Measure | None = None,
    ) -> Any:
        streamed = kw.get("stream")
        if raw is None:
            result = self._fn(*args, **kw)
            if inspect.isawaitable(result):
                result = await result
            _raise(_document_failure(result))
        else:
            try:
                response = await raw(*args, **kw)
                http = response.http_response
                headers = signal_headers(http.headers)
                streamed = streamed or _left_unread(http)
                if streamed:
                    _raise(_not_a_stream(http))
                else:
                    _raise(_answer_failure(self._name, response, http))
                result = response.parse()
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                self._client.failed(exc)
                raise
            attempt.answered(headers, self._client.used(kw, result, measured, headers))
        if streamed and hasattr(result, "__aiter__"):
            result = await _AsyncStream.start(result)
        elif streamed and hasattr(result, "__iter__"):
            result = _SyncStream(result)
        return result


class _AsyncPlain(_AsyncCall):
    """A method of an async client that is not a coroutine function, and so sends nothing
    when called: a list's paginator (sent when awaited or iterated), a stream helper this
    module does not know. Called, it is called: what it gives comes back as it is, except
    a paginator, whose pages are fetched under the policy (:class:`_AsyncPaged`)."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self._fn(*args, **kwargs)
        if not _is_paginator(result):
            return result
        call = self

        async def first() -> Any:
            page = await _AsyncCall.__call__(call, *args, **kwargs)
            return _paged(page, call._client.policy, call._client.target(kwargs))

        return _AsyncPaged(first)


def _is_paginator(result: Any) -> bool:
    """Whether an async client's plain method gave a paginator (awaited: the first page;
    iterated with ``async for``: every item)."""
    return hasattr(type(result), "__aiter__") and hasattr(type(result), "__await__")


class _AsyncPaged:
    """An async list call through a wrapped client, as the SDK's paginator is: awaited, it
    gives the first page; iterated with ``async for``, every item of every page. *first*
    fetches the first page under the policy (its later pages follow, :func:`_paged`)."""

    __slots__ = ("_first",)

    def __init__(self, first: Callable[[], Awaitable[Any]]) -> None:
        self._first = first

    def __await__(self) -> Any:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in await self._first():
            yield item


def _is_page(result: Any) -> bool:
    """Whether a call's result is a page of a list (the v1+ SDK's ``SyncPage``,
    ``AsyncCursorPage``, ...): it fetches the next page through its ``_client``. (Asked
    of the class first: one lookup for every result that is not a page.)"""
    return hasattr(type(result), "get_next_page") and hasattr(result, "_client")


def _paged(page: Any, policy: RetryPolicy, key: Hashable) -> Any:
    """*page*, its later pages fetched under *policy* for *key*: the page keeps its type and
    its methods, and the client it asks for the next page (the SDK's, with its retries
    off) is put behind the policy. Any other result comes back as it is."""
    if _is_page(page):
        client = page._client
        if not isinstance(client, _Paging):
            page._client = (_AsyncPaging if _is_async_client(client) else _Paging)(
                client, policy, key
            )
    return page


def _is_async_client(client: Any) -> bool:
    """Whether an SDK client is an async one (``AsyncOpenAI``, ``AsyncAzureOpenAI``)."""
    return type(client).__name__.startswith("Async")


class _Paging:
    """The client a page of a wrapped client asks for the next page: the SDK's own, whose
    ``_request_api_list`` is called under the policy (the page it gives asks this one in
    turn). The page's answer is read as the first page's is: a failure under HTTP 200
    raises the common error, and its rate-limit headers go to the pacer. Everything
    else is the SDK client's."""

    __slots__ = ("_compat_client", "_compat_key", "_compat_policy")

    def __init__(self, client: Any, policy: RetryPolicy, key: Hashable) -> None:
        self._compat_client, self._compat_policy, self._compat_key = client, policy, key

    def _request_api_list(self, model: Any, page: Any, options: Any) -> Any:
        raw = _raw_answer(options)
        for attempt in self._compat_policy.attempts(target=self._compat_key):
            with attempt:
                result = _read_page(
                    self._compat_client._request_api_list(model, page, raw), attempt
                )
        result._client = self
        return result

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_compat_"):
            raise AttributeError(name)
        return getattr(self._compat_client, name)


class _AsyncPaging(_Paging):
    __slots__ = ()

    async def _request_api_list(self, model: Any, page: Any, options: Any) -> Any:
        raw = _raw_answer(options)
        # The SDK gives its paginator, which sends the request when awaited.
        loop = self._compat_policy.aattempts(target=self._compat_key)
        try:
            async for attempt in loop:
                async with attempt:
                    result = _read_page(
                        await self._compat_client._request_api_list(model, page, raw), attempt
                    )
                    if inspect.isawaitable(result):
                        result = await result
        finally:
            await cast(Any, loop).aclose()
        result._client = self
        return result


#: The header with which the v1+ SDK gives a request's raw answer instead of its parsed
#: result (what ``with_raw_response`` sends; the SDK strips it from a next page's options).
_RAW_ANSWER = "X-Stainless-Raw-Response"


def _raw_answer(options: Any) -> Any:
    """A page request's *options*, asking the SDK for the raw answer."""
    headers = options.headers if isinstance(options.headers, Mapping) else {}
    options.headers = {**headers, _RAW_ANSWER: "true"}
    return options


def _read_page(response: Any, attempt: Attempt) -> Any:
    """The page in a raw *response*, once it is known not to be a failure under HTTP 200;
    its rate-limit headers are told to *attempt*."""
    http = response.http_response
    _raise(_answer_failure("list", response, http))
    attempt.answered(signal_headers(http.headers))
    return response.parse()


#: The stream helpers, by resource class (its async twin's name without ``Async``) and
#: method: they return a stream manager, which sends the request when it is entered.
_STREAM_HELPERS = frozenset(
    {
        ("Responses", "stream"),
        ("Completions", "stream"),  # chat.completions; the legacy completions have none
        ("Runs", "stream"),
        ("Runs", "create_and_stream"),
        ("Runs", "submit_tool_outputs_stream"),
        ("Threads", "create_and_run_stream"),
        ("Sessions", "stream"),  # openai 3.x's beta.agents.sessions.stream
    }
)
#: Of those, the helpers whose stream is made anew on each entry: its first event is read
#: inside the attempt, so that a failure there is retried. (The Assistants' helpers bind
#: the caller's event handler, which cannot be bound twice.)
_FIRST_EVENT_READ = frozenset({("Responses", "stream"), ("Completions", "stream")})
#: Methods of a v1+ client that send nothing (a webhook's check, a connection manager, a
#: result's artifacts, whose own downloads are the SDK's): called as they are, with no
#: policy and no timeout added.
_LOCAL = frozenset({"verify_signature", "unwrap", "connect", "for_result"})


def _helper(owner: Any, name: str) -> tuple[str, str] | None:
    """The stream helper *owner*'s method *name* is (a key of :data:`_STREAM_HELPERS`), or
    ``None``."""
    cls = type(owner).__name__
    key = (cls[5:] if cls.startswith("Async") else cls, name)
    return key if key in _STREAM_HELPERS else None


def _sends_on_entry(owner: Any, name: str) -> bool:
    """Whether *owner*'s method *name* returns a context manager that sends the request
    when it is entered: a stream helper, or a method of a ``with_streaming_response``
    resource."""
    return _helper(owner, name) is not None or type(owner).__name__.endswith(
        "WithStreamingResponse"
    )


def _left_unread(http: Any) -> bool:
    """Whether the SDK left an answer's body unread for its stream to read: an endpoint
    that streams without being asked with ``stream=True``."""
    try:
        http.content  # noqa: B018 - read only to learn whether it was read
    except Exception as exc:  # noqa: BLE001 - httpx's ResponseNotRead: a stream's body
        return type(exc).__name__ == "ResponseNotRead"
    return False


#: What the SDK gives as the answer's raw content, not parsed from JSON (a file's
#: content, speech, a download): such a body is the result, whatever it holds.
_RAW_RESULTS = frozenset({"bytes", "str", "HttpxBinaryResponseContent"})


def _answer_failure(name: str, response: Any, http: Any) -> Any:
    """The common error of an answer that came as a success but is a failure, else
    ``None``. A call whose result is the raw content (a file, speech) has none; a failed
    result read back is not retried."""
    if getattr(getattr(response, "_cast_to", None), "__name__", None) in _RAW_RESULTS:
        return None
    failure = failure_in(http.status_code, http.headers, http.content)
    return _stored(failure) if name == "retrieve" else failure


def _not_a_stream(http: Any) -> Any:
    """The common error of an answer to a streamed request that is not a stream."""
    content_type = http.headers.get("content-type", "")
    if "event-stream" in content_type or not 200 <= http.status_code < 300:
        return None
    try:
        body = http.read()
    except Exception:  # noqa: BLE001 - the body cannot be read: let the SDK's parse say so
        return None
    return failure_in(http.status_code, http.headers, body)


class _OnEntry(_Call):
    """A method whose request is sent when its result is entered (:func:`_sends_on_entry`):
    called, it sends nothing and gives a context manager, sync or async as the SDK's is."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> _Streaming:
        return _Streaming([self], [_idempotent(self._fn, kwargs)], self._client.policy, args)


def _idempotent(fn: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """*kwargs* with one idempotency key for every attempt, when *fn* takes one and the
    caller gave none: re-entering a helper that submits input (openai 3.x's agent
    sessions) then sends it again under the same key, which the server recognises, as
    the SDK's own retries do."""
    if "idempotency_key" in kwargs:
        return kwargs
    try:
        takes = "idempotency_key" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature to read
        return kwargs
    return {**kwargs, "idempotency_key": f"compat-retry-{uuid.uuid4()}"} if takes else kwargs


class _Streaming:
    """What a :class:`_OnEntry` method gives: entering it (``with`` or ``async with``)
    sends the request under the policy, and a failure on the way in is retried like any
    other (over a failover client's deployments, each sent its own form of the request).
    A stream helper's stream comes back checked (:class:`_SyncStream`,
    :class:`_AsyncStream`): a failure event or a failure while it is read raises the
    common error, also from its ``until_done`` and ``get_final_...`` methods; the
    Responses and chat helpers have their first event read inside the attempt too."""

    def __init__(
        self,
        calls: list[_OnEntry],
        requests: list[dict[str, Any]],
        policy: RetryPolicy,
        args: tuple[Any, ...],
    ) -> None:
        self._calls, self._requests, self._policy, self._args = calls, requests, policy, args
        self._manager: Any = None
        helper = _helper(calls[0]._owner, calls[0]._name)
        self._checked = helper is not None
        self._first = helper in _FIRST_EVENT_READ

    def _where(self) -> dict[str, Any]:
        """The attempts loop's targets, and the token cost it reserves (the first
        deployment's estimate, as for any failover call)."""
        targets = [call._client.target(kw) for call, kw in zip(self._calls, self._requests)]
        where: dict[str, Any] = {"targets": targets} if len(targets) > 1 else {"target": targets[0]}
        where["tokens"] = _tokens(self._calls[0]._client.measure(self._requests[0]))
        return where

    def _open(self, attempt: Attempt) -> Any:
        at = attempt.deployment
        call = self._calls[at]
        return call._fn(*self._args, **call._client.arguments(self._requests[at], attempt))

    def __enter__(self) -> Any:
        first = self._calls[0]
        named = operation.set(_operation(first._owner, first._name))
        try:
            for attempt in self._policy.attempts(**self._where()):
                with attempt:
                    manager = self._open(attempt)
                    entered = manager.__enter__()
                    _answered(attempt, entered)
                    if self._checked:
                        try:
                            entered = _SyncStream(entered, first=self._first)
                        except BaseException:
                            manager.__exit__(*sys.exc_info())
                            raise
        finally:
            operation.reset(named)
        self._manager = manager
        return entered

    def __exit__(self, *exc_info: Any) -> Any:
        return self._manager.__exit__(*exc_info)

    async def __aenter__(self) -> Any:
        first = self._calls[0]
        named = operation.set(_operation(first._owner, first._name))
        loop = self._policy.aattempts(**self._where())
        try:
            async for attempt in loop:
                async with attempt:
                    manager = self._open(attempt)
                    entered = await manager.__aenter__()
                    _answered(attempt, entered)
                    if self._checked:
                        try:
                            entered = await _AsyncStream.start(entered, first=self._first)
                        except BaseException:
                            await manager.__aexit__(*sys.exc_info())
                            raise
        finally:
            await cast(Any, loop).aclose()
            operation.reset(named)
        self._manager = manager
        return entered

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self._manager.__aexit__(*exc_info)


#: Where an entered result keeps the HTTP answer it reads: ``with_streaming_response``'s
#: response; the Responses and chat helpers' raw stream; the Assistants' event handler's.
_HTTP_ANSWER = (
    ("http_response",),
    ("_raw_stream", "response"),
    ("_AssistantEventHandler__stream", "response"),
    ("_AsyncAssistantEventHandler__stream", "response"),
)


def _answered(attempt: Attempt, entered: Any) -> None:
    """Tell *attempt* the rate-limit headers of the answer *entered* reads, when it says
    which answer that is."""
    for path in _HTTP_ANSWER:
        found = entered
        for name in path:
            found = getattr(found, name, None)
        headers = getattr(found, "headers", None)
        if headers is not None:
            attempt.answered(signal_headers(headers))
            return


# ------------------------------------------------------------------------------ the proxy


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
        client = self._compat_client
        if inspect.ismethod(value) or inspect.isfunction(value):
            if self._compat_top:
                if name in _DERIVING and isinstance(client, _V1):
                    return _Deriving(value, client)
                if name not in _REQUESTING or not isinstance(client, _V1):
                    return value  # close(), auth headers, ...: not API calls
            owner = self._compat_obj
            kind = _kind_of_call(owner, name, value, client)
            if kind is None:
                return value  # sends nothing: a webhook's check, a connection manager
            raw = None
            if kind is not _OnEntry and self._compat_raw is not None:
                raw = getattr(self._compat_raw, name, None)
            return kind(owner, name, value, raw, client)
        module = type(value).__module__ or ""
        if module.startswith(("openai.", "openai_")) or inspect.isclass(value):
            raw = getattr(self._compat_raw, name, None) if self._compat_raw is not None else None
            return _Proxy(value, raw, client, top=False)
        return value

    def __dir__(self) -> list[str]:
        return dir(self._compat_obj)

    def __repr__(self) -> str:
        return f"compat.wrap({self._compat_obj!r})"


#: :func:`_kind_of_call`'s answers, by the resource (its class, or itself for the legacy
#: SDK's resource classes), the method's name, and whether the client is async.
_KINDS_OF_CALL: dict[tuple[Any, str, bool, bool], type[_Call] | None] = {}


def _kind_of_call(owner: Any, name: str, value: Any, client: _Client) -> type[_Call] | None:
    """Which call a wrapped client's API method *name* of *owner* becomes, or ``None`` for a
    method that sends nothing (returned as it is). Decided once per resource class and
    method: the SDK's methods do not change between calls."""
    v1 = isinstance(client, _V1)
    key = (owner if inspect.isclass(owner) else type(owner), name, client.is_async, v1)
    try:
        return _KINDS_OF_CALL[key]
    except KeyError:
        pass
    kind: type[_Call] | None
    if v1 and name in _LOCAL:
        kind = None
    elif v1 and _sends_on_entry(owner, name):
        kind = _OnEntry
    elif client.is_async and not _coroutine_function(value):
        kind = _AsyncPlain
    elif client.is_async or inspect.iscoroutinefunction(value):
        kind = _AsyncCall
    else:
        kind = _Call
    if len(_KINDS_OF_CALL) < 4096:
        _KINDS_OF_CALL[key] = kind
    return kind


def _coroutine_function(fn: Any) -> bool:
    """Whether *fn* is a coroutine function, or wraps one (the SDK's ``required_args`` and
    ``deprecated`` decorators hide it behind a plain function)."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(inspect.unwrap(fn))


class _Deriving:
    """A method that returns a new client (``with_options``, ``copy``): its result is wrapped."""

    __slots__ = ("__wrapped__", "_client")

    def __init__(self, fn: Any, client: _Client) -> None:
        self.__wrapped__ = fn
        self._client = client

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.rewrap(self.__wrapped__(*args, **kwargs))


# ------------------------------------------------------------------------------ failover


class _Set:
    """The deployments of a failover client: each wrapped, in order of preference."""

    def __init__(
        self, deployments: list[Deployment[Any]], proxies: list[_Proxy], policy: RetryPolicy
    ):
        self.deployments = deployments
        self.proxies = proxies
        self.policy = policy
        self.is_async = proxies[0]._compat_client.is_async


def _failover(items: Sequence[Any], policy: RetryPolicy) -> _Failover:
    deployments = [item if isinstance(item, Deployment) else Deployment(item) for item in items]
    if not deployments:
        raise TypeError("compat.wrap needs at least one client to fail over between")
    proxies = []
    for deployment in deployments:
        wrapped = wrap(deployment.client, policy)
        if not isinstance(wrapped, _Proxy) or not isinstance(wrapped._compat_client, _V1):
            raise TypeError(
                "compat.wrap fails over between v1+ SDK clients (OpenAI, AzureOpenAI and "
                f"their async twins), not {type(deployment.client).__qualname__}"
            )
        proxies.append(wrapped)
    kinds = {proxy._compat_client.is_async for proxy in proxies}
    if len(kinds) > 1:
        raise TypeError("compat.wrap cannot fail over between sync and async clients")
    return _Failover(_Set(deployments, proxies, policy), ())


def _tokens(measured: Measure | None) -> float:
    """The token cost a call reserves: its measure's total, none without one."""
    return 0.0 if measured is None else measured.total


def _walk(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        obj = getattr(obj, name)
    return obj


class _Failover:
    """Stands in for the first deployment's client or resource; calls fail over."""

    __slots__ = ("_compat_path", "_compat_set")

    def __init__(self, group: _Set, path: tuple[str, ...]) -> None:
        self._compat_set = group
        self._compat_path = path

    def __getattr__(self, name: str) -> Any:
        group = self._compat_set
        path = (*self._compat_path, name)
        value = _walk(group.proxies[0], path)
        if isinstance(value, _OnEntry):
            return _FailoverOnEntry(group, path)
        if isinstance(value, _AsyncPlain):
            return _AsyncFailoverPlain(group, path)
        if isinstance(value, _Call):
            return (_AsyncFailoverCall if group.is_async else _FailoverCall)(group, path)
        if isinstance(value, _Proxy):
            return _Failover(group, path)
        if name == "close" and not self._compat_path:
            return _close_all(group)
        return value

    def __repr__(self) -> str:
        return f"compat.wrap({self._compat_set.deployments!r})"


def _close_all(group: _Set) -> Any:
    closers = [proxy.close for proxy in group.proxies]
    if not group.is_async:

        def close() -> None:
            for closer in closers:
                closer()

        return close

    async def aclose() -> None:
        for closer in closers:
            await closer()

    return aclose


class _FailoverCall:
    """One API method over the deployments of a failover client."""

    __slots__ = ("_group", "_path")

    def __init__(self, group: _Set, path: tuple[str, ...]) -> None:
        self._group = group
        self._path = path

    def _plan(self, kwargs: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]], list[Any]]:
        group = self._group
        calls = [_walk(proxy, self._path) for proxy in group.proxies]
        requests = [d.request(kwargs) for d in group.deployments]
        starts = [call._start(kw) for call, kw in zip(calls, requests)]
        return calls, requests, starts

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        calls, requests, starts = self._plan(kwargs)
        named = operation.set(_operation(calls[0]._owner, calls[0]._name))
        try:
            loop = self._group.policy.attempts(
                targets=[start[1] for start in starts], tokens=_tokens(starts[0][2])
            )
            for attempt in loop:
                with attempt:
                    at = attempt.deployment
                    call, request = calls[at], requests[at]
                    result = call._once(
                        starts[at][0],
                        attempt,
                        args,
                        call._client.arguments(request, attempt),
                        starts[at][2],
                    )
        finally:
            operation.reset(named)
        # A page's later pages come from the deployment that gave it.
        return _paged(result, self._group.policy, starts[at][1])


class _AsyncFailoverCall(_FailoverCall):
    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result, _ = await self._run(args, kwargs)
        return result

    async def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Hashable]:
        """The call's result, and the target of the deployment that gave it."""
        calls, requests, starts = self._plan(kwargs)
        named = operation.set(_operation(calls[0]._owner, calls[0]._name))
        loop = self._group.policy.aattempts(
            targets=[start[1] for start in starts], tokens=_tokens(starts[0][2])
        )
        try:
            async for attempt in loop:
                async with attempt:
                    at = attempt.deployment
                    call, request = calls[at], requests[at]
                    result = await call._aonce(
                        starts[at][0],
                        attempt,
                        args,
                        call._client.arguments(request, attempt),
                        starts[at][2],
                    )
        finally:
            await cast(Any, loop).aclose()
            operation.reset(named)
        return result, starts[at][1]


class _AsyncFailoverPlain(_FailoverCall):
    """A plain method of an async failover client (:class:`_AsyncPlain`): a list's pages
    fail over like any call; anything else is the first deployment's."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = _walk(self._group.proxies[0]._compat_obj, self._path)(*args, **kwargs)
        if not _is_paginator(result):
            return result
        failover = _AsyncFailoverCall(self._group, self._path)
        policy = self._group.policy

        async def first() -> Any:
            page, key = await failover._run(args, kwargs)
            return _paged(page, policy, key)

        return _AsyncPaged(first)


class _FailoverOnEntry(_FailoverCall):
    """A method of a failover client that sends on entry (:class:`_OnEntry`): entering its
    result fails over like any call, each deployment sent its form of the request."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> _Streaming:
        group = self._group
        calls = [_walk(proxy, self._path) for proxy in group.proxies]
        asked = _idempotent(calls[0]._fn, kwargs)
        requests = [d.request(asked) for d in group.deployments]
        return _Streaming(calls, requests, group.policy, args)


# ------------------------------------------------------------------------------ streams


def _raise_translated(exc: Exception) -> None:
    error = translate(exc)
    if error is None or error is exc:
        raise exc
    scrub(exc)
    raise error from exc


class _SyncStream:
    """A stream whose first chunk was read inside the attempt; later failures are translated."""

    def __init__(self, stream: Any, first: bool = True) -> None:
        self._stream = stream
        self._iterator = iter(stream)
        self._pending: list[Any] = []
        if first:
            with contextlib.suppress(StopIteration):
                item = next(self._iterator)
                self._check(item)
                self._pending.append(item)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._pending:
            return self._pending.pop()
        try:
            item = next(self._iterator)
        except StopIteration:
            raise
        except Exception as exc:
            _raise_translated(exc)
            raise  # pragma: no cover - _raise_translated always raises
        self._check(item)
        return item

    def _check(self, item: Any) -> None:
        """Raise the common error of a failure event, the stream closed first."""
        error = _event_failure(item)
        if error is not None:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
            raise error

    def __enter__(self) -> _SyncStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._stream, name)
        if not _drains(name, value):
            return value

        def drained(*args: Any, **kwargs: Any) -> Any:
            for _ in self:  # through the checks, to the end
                pass
            result = value(*args, **kwargs)
            return self if result is self._stream else result

        return drained


#: The stream helpers' methods that read the stream to its end themselves: it is read
#: through the checked stream first, so that a failure in it raises the common error.
#: (openai 3.x's agent sessions' ``get_final_result`` must read a fresh stream itself.)
_DRAINING = frozenset(
    {
        "until_done",
        "get_final_response",
        "get_final_completion",
        "get_final_run",
        "get_final_messages",
        "get_final_run_steps",
    }
)


def _drains(name: str, value: Any) -> bool:
    """Whether a stream helper's method *name* is one of :data:`_DRAINING`."""
    return name in _DRAINING and callable(value)


class _AsyncStream:
    """The async counterpart of :class:`_SyncStream`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._iterator = stream.__aiter__()
        self._pending: list[Any] = []

    @classmethod
    async def start(cls, stream: Any, first: bool = True) -> _AsyncStream:
        """The checked stream, its first event read when *first*."""
        self = cls(stream)
        if first:
            with contextlib.suppress(StopAsyncIteration):
                item = await self._iterator.__anext__()
                await self._check(item)
                self._pending.append(item)
        return self

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._pending:
            return self._pending.pop()
        try:
            item = await self._iterator.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as exc:
            _raise_translated(exc)
            raise  # pragma: no cover - _raise_translated always raises
        await self._check(item)
        return item

    async def _check(self, item: Any) -> None:
        """Raise the common error of a failure event, the stream closed first."""
        error = _event_failure(item)
        if error is not None:
            close = getattr(self._stream, "close", None)
            if close is not None:
                result = close()
                if inspect.isawaitable(result):
                    await result
            raise error

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._stream, name)
        if not _drains(name, value):
            return value

        async def drained(*args: Any, **kwargs: Any) -> Any:
            async for _ in self:  # through the checks, to the end
                pass
            result = value(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return self if result is self._stream else result

        return drained
