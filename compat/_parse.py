"""Reading the parts of an answer: durations, retry-after signals, request ids, bodies.

Every function here is pure and total: odd input gives ``None``, never an exception.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

#: A body longer than this is not parsed as JSON; its first bytes are kept as text.
MAX_PARSED_BODY = 256 * 1024
#: How much of an unparsed body (HTML, text) an error keeps.
MAX_KEPT_TEXT = 2048

_UNITS = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
}
_WORD_UNITS = {
    "hour": 3600.0,
    "hours": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "minute": 60.0,
    "minutes": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "second": 1.0,
    "seconds": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "millisecond": 0.001,
    "milliseconds": 0.001,
}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")


def parse_duration(text: str) -> float | None:
    """Seconds in a duration as rate-limit headers write it.

    ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"`` and bare numbers (seconds) are
    understood; anything else gives ``None``.
    """
    text = text.strip()
    if not text:
        return None
    if text[-1].isdigit():
        try:
            value = float(text)
        except ValueError:
            return None
        return value if 0 <= value < float("inf") else None
    total = 0.0
    position = 0
    for part in _GO_PART.finditer(text):
        if part.start() != position:
            return None
        total += float(part.group(1)) * _UNITS[part.group(2)]
        position = part.end()
    return total if position == len(text) and position else None


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: seconds or an HTTP date."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(seconds, 0.0)
    # An HTTP date is rare; email.utils costs more to import than all of compat's parsing.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


# "Please retry after 20 seconds", "Please try again in 1.2s", "in 6ms",
# "Try again in 3 seconds", "try again in 1m26.4s", "Retry after 500 milliseconds".
# The phrase is found with str.find on the lower-cased text; the pattern only
# reads the duration right after it.
_WAIT_PHRASES = ("try again in", "retry after", "retry in", "try again after")
_WAIT_AT = re.compile(
    r"\s+(?:(?P<go>(?:\d+(?:\.\d+)?(?:ms|h|m|s))+)\b|(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[a-zµ]+))"
)


def retry_after_from_message(message: str, lower: str | None = None) -> float | None:
    """Seconds to wait as the message text of OpenAI or Azure states them.

    *lower* is the message already lower-cased, when the caller has it.
    """
    if lower is None:
        lower = message[:4000].lower()
    for phrase in _WAIT_PHRASES:
        at = lower.find(phrase)
        if at < 0:
            continue
        match = _WAIT_AT.match(lower, at + len(phrase))
        if match is None:
            continue
        if match.group("go"):
            return parse_duration(match.group("go"))
        factor = _WORD_UNITS.get(match.group("unit")) or _UNITS.get(match.group("unit"))
        if factor is not None:
            return float(match.group("n")) * factor
    return None


def lower_headers(headers: Any) -> dict[str, str]:
    """A plain dict of the headers with lower-case names and str values.

    Accepts any mapping (``dict``, ``httpx.Headers``, ``requests``'
    ``CaseInsensitiveDict``, ``email.message.Message``) or a list of pairs; anything
    unreadable gives what could be read so far.
    """
    out: dict[str, str] = {}
    if headers is None:
        return out
    try:
        multi_items = getattr(headers, "multi_items", None)  # httpx: names already lower-case
        if multi_items is not None:
            items = multi_items()
        elif hasattr(headers, "items"):
            items = headers.items()
        else:
            items = headers
        for name, value in items:
            if isinstance(name, bytes):
                name = name.decode("latin-1")
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            key = str(name).lower()
            text = value if isinstance(value, str) else str(value)
            if key in out:
                out[key] = out[key] + ", " + text
            else:
                out[key] = text
    except Exception:  # noqa: BLE001 - a hostile mapping gives what was read
        return out
    return out


#: The headers that decisions read; only these are looked at when an error is made.
SIGNAL_HEADERS = frozenset(
    {
        "retry-after",
        "retry-after-ms",
        "x-ms-retry-after-ms",
        "x-should-retry",
        "x-request-id",
        "request-id",
        "apim-request-id",
        "x-ms-request-id",
        "x-ms-region",
        "x-ms-client-request-id",
        "azureml-model-session",
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    }
)
_SIGNAL_BYTES = frozenset(name.encode("ascii") for name in SIGNAL_HEADERS)


def signal_headers(headers: Any) -> dict[str, str]:
    """The headers in :data:`SIGNAL_HEADERS`, names lower-cased, from any header container.

    One pass over the container, decoding only the few headers that matter; the
    rest stay untouched until someone reads the error's ``headers``.
    """
    if not headers:
        return {}
    out: dict[str, str] = {}
    try:
        entries = getattr(headers, "_list", None)  # httpx / httpx2: (raw, lower, value) bytes
        if type(entries) is list and entries and len(entries[0]) == 3:
            for _, name, value in entries:
                if name in _SIGNAL_BYTES:
                    out[name.decode("ascii")] = value.decode("latin-1")
            return out
        if type(headers) is dict:
            for name, value in headers.items():
                if type(name) is not str:
                    break  # bytes names: the general reading below decodes them
                key = name.lower()
                if key in SIGNAL_HEADERS:
                    if type(value) is not str:
                        value = value.decode("latin-1") if type(value) is bytes else str(value)
                    out[key] = value
            else:
                return out
            out = {}
    except Exception:  # noqa: BLE001 - fall back to the general reading below
        out = {}
    return {k: v for k, v in lower_headers(headers).items() if k in SIGNAL_HEADERS}


def headers_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from the retry headers, in the documented order of precedence."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value is not None:
            try:
                ms = float(value)
            except ValueError:
                continue
            if ms == ms and 0 <= ms < float("inf"):
                return ms / 1000.0
    value = headers.get("retry-after")
    if value is not None:
        return parse_retry_after(value)
    return None


def ratelimit_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until the exhausted rate limit resets, from ``x-ratelimit-reset-*``.

    The limit whose ``remaining`` is 0 decides; when that cannot be told, the
    longer of the two resets does.
    """
    resets: dict[str, float] = {}
    for which in ("requests", "tokens"):
        raw = headers.get("x-ratelimit-reset-" + which)
        if raw is not None:
            seconds = parse_duration(raw)
            if seconds is not None:
                resets[which] = seconds
    if not resets:
        return None
    exhausted = [w for w in resets if headers.get("x-ratelimit-remaining-" + w, "").strip() == "0"]
    chosen = exhausted or list(resets)
    return max(resets[w] for w in chosen)


def request_id(headers: Mapping[str, str]) -> str | None:
    """The id to quote to support: the server's, never the client's own."""
    for name in ("x-request-id", "request-id", "apim-request-id", "x-ms-request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


def decode_body(body: Any) -> tuple[Any, str | None, bool]:
    """Parse a body given as bytes, str or parsed JSON.

    Returns ``(document, text, truncated)``: *document* is the parsed JSON or ``None``;
    *text* is the (possibly cut) text when the body was not JSON; *truncated* tells
    whether the body was longer than what was looked at.
    """
    if body is None:
        return None, None, False
    if isinstance(body, (dict, list, int, float, bool)):
        return body, None, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
        truncated = len(raw) > MAX_PARSED_BODY
        text = raw[:MAX_PARSED_BODY].decode("utf-8", "replace")
    elif isinstance(body, str):
        truncated = len(body) > MAX_PARSED_BODY
        text = body[:MAX_PARSED_BODY] if truncated else body
    else:
        text = str(body)[:MAX_KEPT_TEXT]
        return None, text, False
    stripped = text.lstrip()
    if not truncated and stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped), None, False
        except (ValueError, RecursionError):
            pass
    if stripped.startswith(("data:", "event:")):
        document = _first_sse_error(stripped)
        if document is not None:
            return document, None, truncated
    return None, text[:MAX_KEPT_TEXT], truncated or len(text) > MAX_KEPT_TEXT


def _first_sse_error(text: str) -> Any:
    """The first server-sent event whose data is an error, parsed; else ``None``."""
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if not data.startswith("{") or ("error" not in data and "failed" not in data):
            continue
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            continue
    return None
