"""Removing secrets from anything an error shows: messages, headers, bodies.

Redaction runs on what is shown, when it is shown: an error's message once when
the error is made, its headers and body the first time someone reads them. Each
secret shape has its own pattern, run only when a cheap substring test says the
text may hold one, so that ordinary messages cost a few substring tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from compat._secrets import hide

REDACTED = "[REDACTED]"

# Header names (and JSON keys) whose values are credentials, in lower case.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "ocp-apim-subscription-key",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
    }
)
SECRET_KEYS = SECRET_HEADERS | {"api_key", "apikey", "secret", "key", "password", "access_token"}

_OPENAI_KEY = re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{16,}")
_SCHEME = re.compile(r"\b((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
_PARAM = re.compile(
    r"([?&;](?:key|secret|api[-_]?key|access_token|token|sig|signature|password)=)[^&#\s\"'<>]+",
    re.IGNORECASE,
)
_FIELD = re.compile(
    r"([\"']?(?:api[-_]?key|secret|password|authorization|access_token|subscription[-_]key)"
    r"[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])(?!Bearer\b|Basic\b)[^\s\"',}&]{6,}",
    re.IGNORECASE,
)
_HEX32 = re.compile(r"(?<![0-9A-Za-z_-])[0-9a-fA-F]{32}(?![0-9A-Za-z_-])")

# bytes.translate maps every hex digit to "h" and everything else to " ", so that
# "a run of 32 hex digits" becomes a plain substring test.
_HEX_TABLE = bytes(ord("h") if chr(i) in "0123456789abcdefABCDEF" else ord(" ") for i in range(256))
_HEX_RUN = b"h" * 32


def _prefix_redacted(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def redact_text(text: str) -> str:
    """Return *text* with API keys, bearer tokens and credential parameters replaced, and
    every secret known by value (:func:`compat.register_secret`)."""
    text = hide(text)
    if "sk-" in text:
        text = _OPENAI_KEY.sub(REDACTED, text)
    lower = text.lower()
    if "bearer" in lower or "basic" in lower:
        text = _SCHEME.sub(_prefix_redacted, text)
    if "=" in text and (
        "key=" in lower
        or "secret=" in lower
        or "token=" in lower
        or "sig" in lower
        or "password=" in lower
    ):
        text = _PARAM.sub(_prefix_redacted, text)
    if (
        "key" in lower
        or "secret" in lower
        or "password" in lower
        or "authorization" in lower
        or "access_token" in lower
    ):
        text = _FIELD.sub(_prefix_redacted, text)
    if len(text) >= 32 and _HEX_RUN in text.encode("utf-8", "replace").translate(_HEX_TABLE):
        text = _HEX32.sub(REDACTED, text)
    return encodable(text)


def encodable(text: str) -> str:
    """*text*, with lone surrogates (from a caller's ``surrogateescape`` decoding) written
    as ``\\udcff`` escapes, so that printing or logging it cannot fail."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def redact_url(url: str) -> str:
    """Return *url* with credentials in its query string and user-info replaced."""
    url = re.sub(r"//[^/@\s]+@", "//" + REDACTED + "@", url, count=1)
    return redact_text(url)


def redact_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case header names and replace credential values."""
    out: dict[str, str] = {}
    for name, value in items:
        key = encodable(str(name).lower())
        text = value if isinstance(value, str) else str(value)
        out[key] = REDACTED if key in SECRET_HEADERS else redact_text(text)
    return out


_MAX_DEPTH = 64


def redact_data(data: Any, _depth: int = 0) -> Any:
    """Return a copy of parsed JSON with every string redacted and every secret key blanked."""
    if isinstance(data, str):
        return redact_text(data)
    if _depth >= _MAX_DEPTH:
        return "[nested too deep]"
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            skey = encodable(str(key))
            if skey.lower() in SECRET_KEYS and isinstance(value, str):
                out[skey] = REDACTED
            else:
                out[skey] = redact_data(value, _depth + 1)
        return out
    if isinstance(data, (list, tuple)):
        return [redact_data(item, _depth + 1) for item in data]
    if isinstance(data, (bytes, bytearray)):
        return redact_text(bytes(data).decode("utf-8", "replace"))
    return data
