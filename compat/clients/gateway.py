"""A small client for the seed gateway, built on ``requests.Session``.

The gateway's call convention: ``GET {base_url}?key=...&secret=...&method=v1/chat/completions
&_o_args={json}&cache=no&result_type=json&lang=en``, answered with an envelope
(see :mod:`compat.adapters.gateway`). The client returns the upstream answer on
success and raises compat errors on failure; ``compat.wrap`` accepts it.

Its key and secret travel in the query string, as the gateway requires; they
never appear in its ``repr``, in an error's text or in log records: they are
redacted from error messages and scrubbed from the text of ``requests``
exceptions before those are attached as ``__cause__``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any

import requests

from compat._errors import BadResponseError, LLMError
from compat._kinds import ErrorKind
from compat._secrets import register_secret, scrub
from compat._translate import from_response, translate
from compat.adapters.gateway import SEED_GATEWAY, GatewayTable
from compat.retry.policy import RetryPolicy
from compat.retry.target import Target, endpoint

DEFAULT_BASE_URL = "https://api-gw-4.cn/openai/custom"


class GatewayClient:
    """Calls the gateway's ``openai/custom`` API.

    ``call(method, args)`` sends one call (``method`` is the upstream path, such as
    ``"v1/chat/completions"``; ``args`` its parameters, sent as ``_o_args``) and
    returns the envelope's ``response``. Sessions are pooled; ``timeout`` is
    ``(connect, read)`` seconds.
    """

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = (5.0, 120.0),
        cache: str = "no",
        result_type: str = "json",
        lang: str = "en",
        session: requests.Session | None = None,
        table: GatewayTable = SEED_GATEWAY,
    ) -> None:
        self._key = key
        self._secret = secret
        register_secret(key)  # compat knows them: redacted by value wherever they show
        register_secret(secret)
        self.base_url = base_url
        self.timeout = timeout
        self.cache = cache
        self.result_type = result_type
        self.lang = lang
        self.table = table
        self.session = session if session is not None else requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"GatewayClient(base_url={self.base_url!r}, key=[REDACTED], secret=[REDACTED])"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def target(self, method: str) -> Hashable:
        """The pacing target of a call: gateway, endpoint, key and upstream method."""
        return Target(self.table.name, *endpoint(self.base_url, self._key), method)

    def call(self, method: str, args: Mapping[str, Any] | None = None, **params: Any) -> Any:
        """Make one call; return the upstream answer or raise its compat error."""
        query = {
            "key": self._key,
            "secret": self._secret,
            "method": method,
            "_o_args": json.dumps(dict(args or {}), ensure_ascii=False, separators=(",", ":")),
            "cache": self.cache,
            "result_type": self.result_type,
            "lang": self.lang,
            **params,
        }
        try:
            response = self.session.get(self.base_url, params=query, timeout=self.timeout)
        except requests.RequestException as exc:
            scrub(exc)
            error = translate(exc)
            if error is None:  # pragma: no cover - every RequestException is translated
                raise
            raise _named(error, self.table.name) from exc
        error = from_response(
            response.status_code, response.headers, response.content, provider=self.table.name
        )
        if error is not None:
            raise error
        try:
            envelope = response.json()
        except ValueError as exc:  # pragma: no cover - from_response has read it already
            raise BadResponseError(
                kind=ErrorKind.BAD_RESPONSE, message=str(exc), provider=self.table.name
            ) from exc
        if not isinstance(envelope, dict) or self.table.code_of(envelope) is None:
            raise BadResponseError(
                kind=ErrorKind.BAD_RESPONSE,
                message=f"The gateway answered without an envelope ({self.table.code_field} missing)",
                status=response.status_code,
                provider=self.table.name,
                body=envelope,
            )
        return envelope.get(self.table.result_field)

    def __compat_wrap__(self, policy: RetryPolicy) -> _WrappedGateway:
        return _WrappedGateway(self, policy)


class _WrappedGateway:
    """A gateway client whose calls go through a retry policy."""

    def __init__(self, client: GatewayClient, policy: RetryPolicy) -> None:
        self._client = client
        self.policy = policy

    def call(self, method: str, args: Mapping[str, Any] | None = None, **params: Any) -> Any:
        """``GatewayClient.call`` under the policy."""
        return self.policy.call(
            self._client.call, method, args, target=self._client.target(method), **params
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"compat.wrap({self._client!r})"


def _named(error: LLMError, provider: str) -> LLMError:
    """The transport error, marked as the gateway's."""
    import attrs

    return attrs.evolve(error, provider=provider)
