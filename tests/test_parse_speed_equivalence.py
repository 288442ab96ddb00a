"""The quicker readers of compat._parse answer exactly what they answered before.

``parse_duration``, ``retry_after_from_message``, ``ratelimit_reset`` and
``signal_headers`` read the common forms with str methods (and fewer regex calls)
since they were made quicker. The reference below is their code *before* that
change, copied verbatim; every test runs both over the same inputs and asserts the
same answer (floats compared exactly, down to the sign of a zero; ``None`` as
``None``): every string the test corpora hold (tests/bodies.py, tests/azure_bodies.py,
the JSON and text files under tests/data, and every string literal of the test
modules) and strings hypothesis builds from digits, dots, units, spaces and junk.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compat import _parse
from compat._parse import lower_headers

TESTS = Path(__file__).resolve().parent

# --- The reference: compat/_parse.py's readers before they were made quicker ----------

_INF = float("inf")


def ref_finite_wait(seconds: float) -> float | None:
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


def ref_parse_duration(text: str) -> float | None:
    """Reference (before the change): seconds in a duration as rate-limit headers write it."""
    text = text.strip()
    if not text or len(text) > 100:
        return None  # no duration a server means is written that long
    if text[-1].isdigit():
        try:
            return ref_finite_wait(float(text))
        except ValueError:
            return None
    total = 0.0
    position = 0
    while position < len(text):
        part = _GO_PART.match(text, position)
        if part is None:
            return None
        total += float(part.group(1)) * _UNITS[part.group(2)]
        position = part.end()
    return ref_finite_wait(total)


_WAIT_PHRASES = ("try again in", "retry after", "retry in", "try again after")
_WAIT_AT = re.compile(
    r"\s+(?:(?P<go>(?:\d+(?:\.\d+)?(?:ms|h|m|s))+)\b|(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[a-zµ]+))"
)
MESSAGE_SCANNED = 4000


def ref_retry_after_from_message(message: str, lower: str | None = None) -> float | None:
    """Reference (before the change): seconds to wait as a message's text states them."""
    lower = message[:MESSAGE_SCANNED].lower() if lower is None else lower[:MESSAGE_SCANNED]
    for phrase in _WAIT_PHRASES:
        at = lower.find(phrase)
        if at < 0:
            continue
        match = _WAIT_AT.match(lower, at + len(phrase))
        if match is None:
            continue
        if match.group("go"):
            return ref_parse_duration(match.group("go"))
        factor = _WORD_UNITS.get(match.group("unit")) or _UNITS.get(match.group("unit"))
        if factor is not None:
            return ref_finite_wait(float(match.group("n")) * factor)
    return None


_BYTES: dict[frozenset[str], frozenset[bytes]] = {}


def ref_signal_headers(
    headers: Any, names: frozenset[str] = _parse.SIGNAL_HEADERS
) -> dict[str, str]:
    """Reference (before the change): the headers in *names* from any header container.
    (``lower_headers``, which it falls back on, is unchanged and imported.)"""
    try:
        entries = getattr(headers, "_list", None)  # (raw, lower, value) bytes
        if type(entries) is list and entries and len(entries[0]) == 3:
            wanted = _BYTES.get(names)
            if wanted is None:
                wanted = _BYTES[names] = frozenset(name.encode("ascii") for name in names)
            out: dict[str, str] = {}
            for _, name, value in entries:
                if name in wanted:
                    out[name.decode("ascii")] = value.decode("latin-1")
            return out
    except Exception:  # odd values: the general reading below
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
    except Exception:  # odd values: the general reading below
        pass
    return {k: v for k, v in lower_headers(headers).items() if k in names}


def ref_ratelimit_reset(headers: Mapping[str, str]) -> float | None:
    """Reference (before the change): seconds until the exhausted rate limit resets."""
    resets: dict[str, float] = {}
    for which in ("requests", "tokens"):
        raw = headers.get("x-ratelimit-reset-" + which)
        if raw is not None:
            seconds = ref_parse_duration(raw)
            if seconds is not None:
                resets[which] = seconds
    if not resets:
        return None
    exhausted = [w for w in resets if headers.get("x-ratelimit-remaining-" + w, "").strip() == "0"]
    chosen = exhausted or list(resets)
    return max(resets[w] for w in chosen)


# --- Comparing ---------------------------------------------------------------------


def exactly(value: Any) -> tuple[str, str]:
    """*value* as compared: its type and repr, so 0.0 and -0.0 (and 1 and 1.0) differ."""
    return type(value).__name__, repr(value)


def same_duration(text: str) -> None:
    """parse_duration answers *text* as the reference does."""
    assert exactly(_parse.parse_duration(text)) == exactly(ref_parse_duration(text)), text


def same_wait(message: str) -> None:
    """retry_after_from_message answers *message* (with and without its lower-cased
    form, and lower-cased form given as the message) as the reference does."""
    lower = message[:4000].lower()
    for args in ((message, None), (message, lower), (message, message), (lower, None)):
        new = _parse.retry_after_from_message(*args)
        assert exactly(new) == exactly(ref_retry_after_from_message(*args)), args


def same_headers(headers: dict[str, str]) -> None:
    """ratelimit_reset and signal_headers answer *headers* as the reference does."""
    assert exactly(_parse.ratelimit_reset(headers)) == exactly(ref_ratelimit_reset(headers))
    assert _parse.signal_headers(headers) == ref_signal_headers(headers)
    names = frozenset({*_parse.SIGNAL_HEADERS, "x-other"})
    assert _parse.signal_headers(headers, names) == ref_signal_headers(headers, names)
    httpx = pytest.importorskip("httpx") if _HAVE_HTTPX else None
    if httpx is not None:
        for encoding in ("latin-1", "utf-8"):  # httpx keeps the bytes it was given
            try:
                raw = [(k.encode(encoding), v.encode(encoding)) for k, v in headers.items()]
                wrapped = httpx.Headers(raw)
            except Exception:  # names or values httpx refuses: nothing to compare
                continue
            assert _parse.signal_headers(wrapped) == ref_signal_headers(wrapped)
            assert _parse.signal_headers(wrapped, names) == ref_signal_headers(wrapped, names)


try:
    import httpx as _httpx  # noqa: F401 - only whether it is there

    _HAVE_HTTPX = True
except ImportError:  # the legacy SDK's environment may lack it
    _HAVE_HTTPX = False


# --- The corpora --------------------------------------------------------------------


def _walk(value: Any) -> Iterator[Any]:
    """*value* and everything inside it (dict keys and values, list and tuple items)."""
    yield value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(key)
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)


@cache
def corpus() -> tuple[list[str], list[dict[str, str]]]:
    """Every string and every header-like dict the test corpora hold."""
    from tests import azure_bodies, bodies

    values: list[Any] = [bodies.CASES, azure_bodies.CASES]
    for path in sorted((TESTS / "data").rglob("*.json")):
        values.append(json.loads(path.read_text(encoding="utf-8")))
    for path in sorted((TESTS / "data").rglob("*.txt")) + sorted((TESTS / "data").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        values.append(text)
        values.extend(text.splitlines())
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                values.append(node.value)
            elif isinstance(node, ast.Dict):  # header dicts written out in a test
                # (one with names or calls inside raises: its strings are read above)
                with contextlib.suppress(ValueError):
                    values.append(ast.literal_eval(node))
    strings: set[str] = set()
    dicts: list[dict[str, str]] = []
    for value in values:
        for item in _walk(value):
            if isinstance(item, str):
                strings.add(item)
            elif (
                isinstance(item, dict)
                and item
                and all(isinstance(k, str) and isinstance(v, str) for k, v in item.items())
            ):
                dicts.append(item)
    # The words of each string too, as a header value or a wait would be cut from them.
    for text in list(strings):
        for word in text.split():
            strings.add(word)
            strings.add(word.strip(".,;:)(\"'"))
    return sorted(strings), dicts


def test_the_corpus_holds_the_waits_and_resets_it_should() -> None:
    """The corpus gathered holds the forms the readers are fastest for (so the tests
    below compare them): waits in messages and reset headers of several shapes."""
    strings, dicts = corpus()
    assert len(strings) > 5000
    texts = set(strings)
    for word in ("20s", "1m30s", "6m0s", "100ms", "1.5s", "9"):
        assert word in texts
    assert sum("try again in" in s.lower() for s in strings) > 20
    assert sum("retry after" in s.lower() for s in strings) > 10
    assert sum("x-ratelimit-reset-tokens" in d for d in dicts) >= 3
    assert sum(_parse.retry_after_from_message(s) is not None for s in strings) > 20


def test_durations_of_the_corpus_read_as_before() -> None:
    """Every corpus string, and every word of one, is read as a duration as before."""
    strings, _ = corpus()
    for text in strings:
        same_duration(text)


def test_waits_in_the_corpus_messages_read_as_before() -> None:
    """Every corpus string is read for a wait as before, and so is each one's tail
    from each phrase on (the wait without the message around it)."""
    strings, _ = corpus()
    for text in strings:
        same_wait(text)
        lower = text.lower()
        for phrase in _WAIT_PHRASES:
            at = lower.find(phrase)
            if at >= 0:
                same_wait(text[at:])
                same_wait(text[at : at + len(phrase) + 12])


def test_headers_of_the_corpus_read_as_before() -> None:
    """Every header dict of the corpus gives the same reset and the same signal headers,
    as a dict and as httpx.Headers."""
    _, dicts = corpus()
    assert dicts
    for headers in dicts:
        same_headers(headers)
        same_headers({k.title(): v for k, v in headers.items()})


# --- Built strings ------------------------------------------------------------------

#: Pieces durations and waits are built from, with the ones that look alike but are
#: not (Unicode digits, a superscript, other spaces, capital letters, word characters).
PIECES = [
    *"0123456789",
    "0",
    "1",
    "20",
    "1.5",
    "6.780999999",
    ".",
    "..",
    "ms",
    "s",
    "m",
    "h",
    "us",
    "µs",
    "ns",
    "µ",
    "sec",
    "secs",
    "second",
    "seconds",
    "min",
    "mins",
    "minute",
    "minutes",
    "hr",
    "hour",
    "hours",
    "millisecond",
    "milliseconds",
    "mss",
    "msec",
    "S",
    "MS",
    " ",
    "  ",
    "\t",
    "\n",
    "\xa0",
    "\u2003",
    "x",
    "_",
    "-",
    "+",
    "e",
    "e5",
    ",",
    ";",
    ")",
    "é",
    "İ",
    "٣",
    "٣٤",
    "\uff15",
    "²",
    "½",
    "inf",
    "nan",
    "1_0",
    "9" * 40,
    "9" * 99,
    "9" * 320,
]
#: Fewer pieces, so that numbers, fractions and units meet often.
CLOSE = ["1", "20", "0", "٣", "\uff15", "²", ".", "s", "ms", "m", "h", "µs", " ", "x", "_", "."]
built = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.lists(st.sampled_from(CLOSE), max_size=8).map("".join),
)
phrases = st.sampled_from(
    [
        "try again in",
        "Try again in",
        "TRY AGAIN IN",
        "retry after",
        "Retry After",
        "retry in",
        "try again after",
        "try again",
        "retry",
        "",
    ]
)
prefixes = st.sampled_from(["", "Please ", "Rate limit reached. Please ", "x" * 3985, "İ" * 1990])


@settings(max_examples=600, deadline=None)
@given(built)
def test_built_durations_read_as_before(text: str) -> None:
    """A duration built from digits, dots, units, spaces and junk reads as before."""
    same_duration(text)
    same_duration(text + "s")
    same_duration(text + "ms")


@settings(max_examples=400, deadline=None)
@given(prefixes, phrases, built, phrases, built)
def test_built_waits_read_as_before(
    prefix: str, phrase: str, wait: str, second: str, after: str
) -> None:
    """A message built of a phrase, a built wait and more (a second phrase, junk)
    reads as before, at the start, in the middle and at 4000 characters."""
    same_wait(prefix + phrase + wait)
    same_wait(prefix + phrase + " " + wait + second + after)
    same_wait(phrase + wait + ". " + second + " " + after)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.text(max_size=30))
def test_any_text_reads_as_before(text: str, wait: str) -> None:
    """Any text, alone or after a phrase, reads as a duration and a wait as before."""
    same_duration(text)
    same_duration(wait)
    same_wait(text)
    same_wait("try again in " + wait)
    same_wait("retry after" + wait + text)


remaining = st.sampled_from(["0", " 0 ", "0\n", "1", "00", "", "0.0", "499"])
header_dicts = st.fixed_dictionaries(
    {},
    optional={
        "x-ratelimit-reset-requests": built,
        "x-ratelimit-reset-tokens": built,
        "x-ratelimit-remaining-requests": remaining,
        "x-ratelimit-remaining-tokens": remaining,
        "x-request-id": st.sampled_from(["req_1", "", "é"]),
        "content-type": st.just("application/json"),
    },
)


@settings(max_examples=250, deadline=None)
@given(header_dicts)
def test_built_headers_read_as_before(headers: dict[str, str]) -> None:
    """Rate-limit headers built of durations and remainders give the same reset and the
    same signal headers as before."""
    same_headers(headers)
