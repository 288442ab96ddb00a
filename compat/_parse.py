"""Reading the parts of an answer: durations, retry-after signals, request ids, bodies.

Every function here is pure and total: odd input gives ``None``, never an exception.
Every pattern that reads what a server sent runs in time linear in its input
(tests/test_linear.py feeds each one a megabyte of its worst case): no pattern
is searched where a failed attempt could rescan what an earlier one read.
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
#: How much of an error's message is kept; the rest is cut, and the message says so.
MAX_MESSAGE = 4096

_INF = float("inf")


def shown_seconds(seconds: float) -> str:
    """*seconds* as a message writes them: three significant digits ("0.0312", "1.5"),
    and whole seconds from 100 up ("120", "86400", never "8.64e+04")."""
    if abs(seconds) >= 99.5 and seconds == seconds and abs(seconds) != float("inf"):
        return f"{seconds:.0f}"
    return f"{seconds:.3g}"


def finite_wait(seconds: float) -> float | None:
    """*seconds* when it is a wait a server can mean: not negative, not NaN, not infinite."""
    return seconds if 0 <= seconds < _INF else None


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


def _plain(text: str) -> bool:
    """Whether *text* is digits with an optional fraction: what a part's number reads
    (the decimal digits of ``str.isdecimal`` are exactly what ``\\d`` reads)."""
    if text.isdecimal():
        return True
    whole, dot, fraction = text.partition(".")
    return bool(dot) and whole.isdecimal() and fraction.isdecimal()


def parse_duration(text: str) -> float | None:
    """Seconds in a duration as rate-limit headers write it.

    ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"`` and bare numbers (seconds) are
    understood; anything else, and a duration too long to be meant, gives ``None``.
    Read in time linear in the text: each part is tried once, where the last ended.
    """
    text = text.strip()
    if not text or len(text) > 100:
        return None  # no duration a server means is written that long
    last = text[-1]
    if last.isdigit():
        try:
            return finite_wait(float(text))
        except ValueError:
            return None
    if last == "s":
        # The forms servers send ("20s", "1.5s", "6ms", "1m30s") read with str
        # methods; anything else is read part by part below, to the same sum.
        # Under 101 characters no part is infinite, and none is negative.
        if text[-2:-1] == "m":
            number, factor = text[:-2], 0.001
        else:
            number, factor = text[:-1], 1.0
        if number.isdecimal() or _plain(number):
            return float(number) * factor
        minutes, m, rest = number.partition("m")
        if m and _plain(minutes) and _plain(rest):
            return float(minutes) * 60.0 + float(rest) * factor
    total = 0.0
    position = 0
    while position < len(text):
        # One anchored attempt per part: a part that does not read ends the reading,
        # so no run of digits is scanned twice.
        part = _GO_PART.match(text, position)
        if part is None:
            return None
        total += float(part.group(1)) * _UNITS[part.group(2)]
        position = part.end()
    return finite_wait(total)


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: seconds or an HTTP date.

    Dates are read in the three forms of RFC 7231 (IMF-fixdate, RFC 850, asctime,
    the last in GMT); a date in the past means now (0). A negative, non-finite or
    unreadable value gives ``None``: the next signal decides.
    """
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return finite_wait(seconds)
    if len(value) > 64 or not value[:1].isalpha():
        return None  # no HTTP date is that long or starts otherwise
    # An HTTP date is rare; email.utils costs more to import than all of compat's parsing.
    import datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # asctime carries no zone: RFC 7231 says it is GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


# "Please retry after 20 seconds", "Please try again in 1.2s", "in 6ms",
# "Try again in 3 seconds", "try again in 1m26.4s", "Retry after 500 milliseconds".
# The phrase is found with str.find on the lower-cased text; the pattern only
# reads the duration right after it. A Go-style wait's first part is captured apart
# from the rest, so that a one-part wait ("20s", the usual) needs no second reading.
_WAIT_PHRASES = ("try again in", "retry after", "retry in", "try again after")
_WAIT_AT = re.compile(
    r"\s+(?:(?P<go>(\d+(?:\.\d+)?)(ms|h|m|s)((?:\d+(?:\.\d+)?(?:ms|h|m|s))*))\b"
    r"|(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[a-zµ]+))"
)


#: How much of a message is searched for a wait (and for a request id).
MESSAGE_SCANNED = 4000

#: Every unit a wait in a message is written in, and its seconds.
_ANY_UNIT = {**_UNITS, **_WORD_UNITS}


def retry_after_from_message(message: str, lower: str | None = None) -> float | None:
    """Seconds to wait as the message text of OpenAI or Azure states them.

    *lower* is the message already lower-cased, when the caller has it. A wait
    too long to be meant gives ``None``.
    """
    lower = message[:MESSAGE_SCANNED].lower() if lower is None else lower[:MESSAGE_SCANNED]
    for phrase in _WAIT_PHRASES:
        at = lower.find(phrase)
        if at < 0:
            continue
        match = _WAIT_AT.match(lower, at + len(phrase))
        if match is None:
            continue
        go, number, unit, more, n, word = match.groups()
        if go:
            if more or len(go) > 100:
                return parse_duration(go)
            return float(number) * _UNITS[unit]  # one part, as parse_duration reads it
        factor = _ANY_UNIT.get(word)
        if factor is not None:
            seconds = float(n) * factor  # not negative; infinite when too long to be meant
            return seconds if seconds < _INF else None
    return None


_REQUEST_ID_AT = re.compile(r"[A-Za-z0-9_\-]{6,}")


def request_id_in_text(message: str, lower: str) -> str | None:
    """The id after "request id" in a message ("Please include the request ID req_1 ...",
    a relay's "(request id: 2025121521151664761470129816750)")."""
    at = lower.find("request id", 0, MESSAGE_SCANNED)
    if at < 0:
        return None
    at += 10
    if lower.startswith(":", at):
        at += 1
    if not lower.startswith(" ", at):
        return None
    found = _REQUEST_ID_AT.match(message, at + 1, at + 1 + 256)
    return found.group(0) if found else None


# A tag is "<" up to the next ">", with no "<" inside: a "<" that no ">" closes
# before the next "<" is text, and no character is scanned from two starts.
_TAG = re.compile(r"<[^<>]*>")
_SPACES = re.compile(r"\s+")


def collapse(text: str) -> str:
    """*text* with each run of white space made one space."""
    return _SPACES.sub(" ", text).strip()


def squeeze(text: str) -> str:
    """*text* with its tags removed and each run of white space made one space."""
    return _SPACES.sub(" ", _TAG.sub(" ", text)).strip()


def html_heading(text: str) -> str:
    """The text of an HTML page's ``<title>``, else of its first ``<h1>``; ``""`` when none.

    Found with ``str.find``: each element is looked for once, from where the last
    one ended, so the page is read once whatever it holds.
    """
    lower = text.lower()
    for tag in ("title", "h1"):
        opening, closing = "<" + tag, "</" + tag
        start = lower.find(opening)
        while start >= 0:
            inside = lower.find(">", start)
            if inside < 0:
                break
            end = lower.find(closing, inside)
            if end < 0:
                break  # nothing closes it, nor any later one
            snippet = squeeze(text[inside + 1 : end])
            if snippet:
                return snippet
            start = lower.find(opening, end)
    return ""


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
#: Per set of names, each name as httpx keeps it (lower-case bytes) and as a str.
_WANTED: dict[frozenset[str], dict[bytes, str]] = {}


def signal_headers(headers: Any, names: frozenset[str] = SIGNAL_HEADERS) -> dict[str, str]:
    """The headers in *names* (default :data:`SIGNAL_HEADERS`), names lower-cased,
    from any header container.

    One pass over the container, decoding only the few headers that matter; the
    rest stay untouched until someone reads the error's ``headers``.
    """
    # httpx / httpx2 first, read directly: their truth test (a length, counted over a
    # set of the names) costs more than the reading itself.
    try:
        entries = getattr(headers, "_list", None)  # (raw, lower, value) bytes
        if type(entries) is list and entries and len(entries[0]) == 3:
            wanted = _WANTED.get(names)
            if wanted is None:
                wanted = _WANTED[names] = {name.encode("ascii"): name for name in names}
            out: dict[str, str] = {}
            for _, name, value in entries:
                if name in wanted:
                    out[wanted[name]] = value.decode("latin-1")
            return out
    except Exception:  # noqa: BLE001 - odd values: the general reading below
        pass
    if not headers:
        return {}
    out = {}
    try:
        if type(headers) is dict:
            for name, value in headers.items():
                if type(name) is not str:
                    break  # bytes names: the general reading below decodes them
                key = name.lower()
                if key in names:
                    if type(value) is not str:
                        value = value.decode("latin-1") if type(value) is bytes else str(value)
                    out[key] = value
            else:
                return out
    except Exception:  # noqa: BLE001 - odd values: the general reading below
        pass
    return {k: v for k, v in lower_headers(headers).items() if k in names}


def headers_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from the retry headers, in the documented order of precedence."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value is not None:
            try:
                ms = float(value)
            except ValueError:
                continue
            if 0 <= ms < _INF:
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
    raw = headers.get("x-ratelimit-reset-requests")
    requests = None if raw is None else parse_duration(raw)
    raw = headers.get("x-ratelimit-reset-tokens")
    tokens = None if raw is None else parse_duration(raw)
    if requests is None:
        return tokens
    if tokens is None:
        return requests
    out_of_requests = headers.get("x-ratelimit-remaining-requests", "").strip() == "0"
    out_of_tokens = headers.get("x-ratelimit-remaining-tokens", "").strip() == "0"
    if out_of_requests != out_of_tokens:
        return requests if out_of_requests else tokens
    return max(requests, tokens)


def request_id(headers: Mapping[str, str]) -> str | None:
    """The id to quote to support: the server's, never the client's own."""
    for name in ("x-request-id", "request-id", "apim-request-id", "x-ms-request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


def decode_body(body: Any) -> tuple[Any, str | None, bool, bool]:
    """Parse a body given as bytes, str or parsed JSON.

    Returns ``(document, text, cut, events)``: *document* is the parsed JSON or
    ``None``; *text* is the (possibly cut) text when the body was not JSON; *cut*
    tells whether the body was longer than what was looked at; *events* that the
    body was a stream of server-sent events none of which is an error.
    """
    if body is None:
        return None, None, False, False
    if isinstance(body, (dict, list, int, float, bool)):
        return body, None, False, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
        cut = len(raw) > MAX_PARSED_BODY
        text = raw[:MAX_PARSED_BODY].decode("utf-8", "replace")
    elif isinstance(body, str):
        cut = len(body) > MAX_PARSED_BODY
        text = body[:MAX_PARSED_BODY] if cut else body
    else:
        text = str(body)[:MAX_KEPT_TEXT]
        return None, text, False, False
    stripped = text.lstrip()
    if not cut and stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped), None, False, False
        except (ValueError, RecursionError):
            pass
    events = False
    if stripped.startswith(("data:", "event:", "id:", ":")):
        document, events = _read_events(stripped)
        if document is not None:
            return document, None, cut, False
    return None, text[:MAX_KEPT_TEXT], cut or len(text) > MAX_KEPT_TEXT, events


def _read_events(text: str) -> tuple[Any, bool]:
    """The first server-sent event whose data is an error, parsed; else ``None``, and
    whether every event's data was a JSON object or ``[DONE]`` (a stream that succeeded)."""
    seen = False
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            seen = True
            continue
        if not data.startswith("{"):
            return None, False
        if "error" in data or "failed" in data:
            try:
                document = json.loads(data)
            except (ValueError, RecursionError):
                return None, False
            if isinstance(document, dict) and _is_error_event(document):
                return document, False
        seen = True
    return None, seen


def _is_error_event(event: dict[str, Any]) -> bool:
    """Whether an event's data is an error: an ``error`` member, or a failed response."""
    if event.get("error"):
        return True
    response = event.get("response")
    return isinstance(response, dict) and response.get("status") == "failed"
