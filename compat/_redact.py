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
        "x-auth-token",
        "x-app-key",
        "x-access-token",
    }
)
SECRET_KEYS = SECRET_HEADERS | {
    "api_key",
    "apikey",
    "secret",
    "key",
    "password",
    "passwd",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "app_key",
    "access_key",
    "secret_key",
    "private_key",
    # the same in camelCase, as JavaScript servers and SDKs write them (keys are compared
    # in lower case)
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "clientsecret",
    "privatekey",
    "secretkey",
    "accesskey",
    "appkey",
}

# An OpenAI-style key wherever it starts: after a space, a quote, an underscore or a
# digit (``Bearer%20sk-...``, ``%3Dsk-...``, ``_sk-...``), but not inside a word.
_OPENAI_KEY = re.compile(
    r"(?:(?<![A-Za-z])|(?<=%[0-9A-Fa-f]{2}))sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{16,}"
)
_SCHEME = re.compile(r"\b((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
# Credentials in a query string, also percent-encoded (a redirect's ``next=`` holding the
# original URL), and a ``key=`` written after a space.
_PARAM = re.compile(
    r"((?:^|[?&;\s]|%26|%3F)(?:key|secret|api[-_]?key|access[-_]?token|token|sig|signature|"
    r"password|app[-_]?key|access[-_]?key|client[-_]?secret)(?:=|%3D))[^&#\s\"'<>%]+",
    re.IGNORECASE,
)
_FIELD = re.compile(
    r"([\"']?(?:api[-_]?key|secret|password|access_token|subscription[-_]key|client[-_]?secret"
    r"|x-auth-token|x-app-key)"
    r"[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])(?!Bearer\b|Basic\b)[^\s\"',}&]{6,}",
    re.IGNORECASE,
)
# A secret key written as a quoted key, as in JSON or in a Python dict's repr (an SDK's
# message quoting the body it received: ``'token': 'abc'``, ``"password": ["a", "b"]``):
# its whole value goes, a string, a list or an object. Nothing here backtracks: each
# character of a value is read once or twice, so a megabyte is read in linear time.
_SECRET_KEY_NAMES = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))
_QUOTED_FIELD = re.compile(
    r"""(["'](?:""" + _SECRET_KEY_NAMES + r""")["']\s*:\s*)(?!["']?\[REDACTED\]["'\]}])"""
    # a string up to its closing quote (escaped quotes inside it included); a list or an
    # object up to its closing bracket, newlines and one level of nesting included
    r"""(?:"(?:[^"\\\n]|\\.)*|'(?:[^'\\\n]|\\.)*"""
    r"""|\[(?:[^\[\]]|\[[^\[\]]*\])*|\{(?:[^{}]|\{[^{}]*\})*)""",
    re.IGNORECASE,
)
# An Authorization value in any scheme (Bearer, Basic, Token, ApiKey, ...), or none.
_AUTHORIZATION = re.compile(
    r"(authorization[\"']?\s*[:=]\s*[\"']?(?:[A-Za-z][A-Za-z-]{0,15}\s+)?)"
    r"(?!\[REDACTED\])[^\s\"',}&]{6,}",
    re.IGNORECASE,
)
# A JSON web token (Azure AD tokens among them): three base64url parts, the first
# always starting with '{"' encoded. It starts where a run of base64url characters
# does (also after a percent-escape, or a \n or \u0022 written out): tried at every
# "eyJ" inside a run, the first part would read to the run's end each time, and a
# megabyte of "eyJeyJ..." would take minutes.
_JWT = re.compile(
    r"(?:(?<![A-Za-z0-9_-])|(?<=%[0-9A-Fa-f]{2})|(?<=\\[nrt])|(?<=\\u[0-9A-Fa-f]{4}))"
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
)
# Azure AI services' 84-character keys: 52 characters, JQQJ99, 18, ACOG, 4.
_AZURE_KEY = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{18}ACOG[A-Za-z0-9]{4}(?![A-Za-z0-9])"
)
_HEX32 = re.compile(r"(?<![0-9A-Za-z_-])[0-9a-fA-F]{32}(?![0-9A-Za-z_-])")

# bytes.translate maps every hex digit to "h" and everything else to " ", so that
# "a run of 32 hex digits" becomes a plain substring test.
_HEX_TABLE = bytes(ord("h") if chr(i) in "0123456789abcdefABCDEF" else ord(" ") for i in range(256))
_HEX_RUN = b"h" * 32


def _prefix_redacted(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def _quoted_redacted(match: re.Match[str]) -> str:
    # The value up to its closing quote or bracket goes (the closer stays); a value cut
    # short by a newline goes up to there.
    head = match.group(1)
    opener = match.group(0)[len(head)]
    if opener in "\"'":
        return head + opener + REDACTED
    return head + opener + head[0] + REDACTED + head[0]


def redact_id(text: str) -> str:
    """:func:`redact_text` for an identifier (a request id): 32 hex digits there are the
    id itself (OpenAI's request ids have that shape), not an Azure key."""
    return redact_text(text, hex_keys=False)


def redact_text(text: str, *, hex_keys: bool = True) -> str:
    """Return *text* with API keys, bearer tokens and credential parameters replaced, and
    every secret known by value (:func:`compat.register_secret`)."""
    text = hide(text)
    if "sk-" in text:
        text = _OPENAI_KEY.sub(REDACTED, text)
    lower = text.lower()
    # Quoted secret keys first, so that the whole value goes (the patterns below stop
    # at a space or a comma)
    if ":" in text and (
        "key" in lower
        or "secret" in lower
        or "token" in lower
        or "pass" in lower
        or "auth" in lower
        or "cookie" in lower
    ):
        text = _QUOTED_FIELD.sub(_quoted_redacted, text)
    if "bearer" in lower or "basic" in lower:
        text = _SCHEME.sub(_prefix_redacted, text)
    if ("=" in text or "%3d" in lower) and (
        "key" in lower
        or "secret" in lower
        or "token" in lower
        or "sig" in lower
        or "password" in lower
    ):
        text = _PARAM.sub(_prefix_redacted, text)
    if (
        "key" in lower
        or "secret" in lower
        or "password" in lower
        or "access_token" in lower
        or "x-auth-token" in lower
    ):
        text = _FIELD.sub(_prefix_redacted, text)
    if "authorization" in lower:
        text = _AUTHORIZATION.sub(_prefix_redacted, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "JQQJ99" in text:
        text = _AZURE_KEY.sub(REDACTED, text)
    if (
        hex_keys
        and len(text) >= 32
        and _HEX_RUN in text.encode("utf-8", "replace").translate(_HEX_TABLE)
    ):
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
            skey = redact_text(str(key))  # a secret may be a key, too
            if skey.lower() in SECRET_KEYS and value is not None and value != "":
                out[skey] = REDACTED  # whatever its shape: a string, a list, an object
            else:
                out[skey] = redact_data(value, _depth + 1)
        return out
    if isinstance(data, (list, tuple)):
        return [redact_data(item, _depth + 1) for item in data]
    if isinstance(data, (bytes, bytearray)):
        return redact_text(bytes(data).decode("utf-8", "replace"))
    return data
