"""What a call's pacing, cooldown and outage hold are shared under: its target."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from contextvars import ContextVar
from typing import NamedTuple

#: The API operation of the call in progress in this context (``"chat"``,
#: ``"embeddings"``, ``"text_completion"``, or the resource and method, such as
#: ``"images.generate"``), set by ``compat.wrap`` for instrumentation; ``None`` outside a
#: wrapped call. It is deliberately not part of :class:`Target`: operations on one model
#: share its limits.
operation: ContextVar[str | None] = ContextVar("compat_operation", default=None)


class Target(NamedTuple):
    """One limit's worth of calls: provider, endpoint, credentials and model.

    *key_id* is a short one-way fingerprint of the credentials (:func:`fingerprint`),
    never the key itself.
    """

    provider: str
    endpoint: str
    key_id: str
    model: str | None

    def __str__(self) -> str:
        model = f" {self.model}" if self.model else ""
        return f"{self.provider} {self.endpoint}{model}"


def fingerprint(secret: object) -> str:
    """A short, one-way name for a key, to tell targets apart without keeping it."""
    if not secret:
        return ""
    return hashlib.sha256(str(secret).encode()).hexdigest()[:12]


def endpoint(url: object, key: object) -> tuple[str, str]:
    """A target's endpoint and key id from a client's base URL and key: the URL as it may
    be shown (no user-info, no query string, no fragment: they may hold credentials) and
    a fingerprint of the key together with whatever was cut from the URL."""
    from urllib.parse import urlsplit, urlunsplit

    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return "", fingerprint(f"{key}\n{text}")
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    shown = urlunsplit((parts.scheme, host, parts.path, "", ""))
    hidden = "" if shown == text else text
    return shown, fingerprint(f"{key}\n{hidden}" if hidden else key)


def describe(key: Hashable) -> str:
    """A target as people read it (``"the target"`` when a call named none)."""
    if key is None:
        return "the target"
    return str(key)
