"""One answer, read once: the record that adapters build and the classifier reads.

An :class:`Answer` holds everything compat reads from one failure: the status,
the decision headers (names lower-cased, read once, and the raw headers as
received, for showing), the parsed document, the error object found in it (the
innermost, when errors are nested or wrapped in an envelope; OpenAI's
``{"error": {...}}`` or another server's shape, as the sources' readers find it),
the outermost error around it, the text of a body that was not JSON, and the
evidence of who sent it (what the caller said, what the receiving adapter knows,
an envelope, whether the error came in OpenAI's shape). Whichever adapter
receives a failure builds it with :func:`read_answer`;
:func:`compat._classify.classify` turns it into the common error.

Bodies are read from a bounded prefix (:data:`~compat._parse.MAX_PARSED_BODY`),
whatever path they come by: raw bytes are cut before parsing, and a body an SDK
already parsed is measured (from its raw length when the adapter knows it, else
by a bounded walk) and shortened when it is larger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from compat import _sources
from compat._kinds import ErrorKind
from compat._parse import MAX_KEPT_TEXT, MAX_PARSED_BODY, decode_body, signal_headers
from compat._sources import Wrapper

#: How deep nested errors are followed.
_MAX_NESTING = 8
#: A parsed body with more nodes than this is treated as too large to keep whole.
_MAX_NODES = 10_000
#: The fields of OpenAI's error object: an error read from another shape that has them
#: all is OpenAI's error object, flattened.
_OPENAI_FIELDS = frozenset({"message", "type", "param", "code"})


class Answer(NamedTuple):
    """One answer as compat read it: a frozen record. Build it with :func:`read_answer`.

    *status* is the HTTP status (``None`` when there was none); *headers* the
    decision headers, names lower-cased; *raw_headers* the headers as received;
    *document* the parsed body (or ``None``); *error* the error object found in
    it, the innermost when errors are nested (or ``None``); *text* the body as text when it was not
    JSON (a bounded prefix); *cut* whether the body was longer than what was read;
    *body* what an error made from this answer keeps as its body (the envelope,
    the document, or the text). *message* and *hint* are what the exception said
    (its message, and the kind its class means); *sender* who the receiving
    adapter knows sent it (``"azure"`` for an Azure endpoint); *provider* who the
    caller said sent it; *wrapper* the envelope the error came in. *outer* is the
    outermost error object when *error* was found nested inside it (else ``None``);
    *shaped* whether the error came in OpenAI's shape (an ``error`` object, or OpenAI's
    error object with its four fields at the top level), which alone says
    ``"openai"`` when nothing else names the sender.

    A named tuple, because one is made for every failure and a tuple is the
    cheapest frozen record Python has; ``answer._replace(...)`` gives a changed copy.
    """

    status: int | None
    headers: Mapping[str, str]
    raw_headers: Any = None
    document: Any = None
    error: Mapping[str, Any] | None = None
    text: str | None = None
    cut: bool = False
    body: Any = None
    message: str | None = None
    hint: ErrorKind | None = None
    sender: str | None = None
    provider: str | None = None
    wrapper: Wrapper | None = None
    outer: Mapping[str, Any] | None = None
    shaped: bool = False


_new = tuple.__new__


def read_answer(
    status: Any,
    headers: Any,
    body: Any,
    *,
    provider: str | None = None,
    sender: str | None = None,
    message: str | None = None,
    hint: ErrorKind | None = None,
    size: int | None = None,
) -> Answer:
    """Read one answer into an :class:`Answer`. Total: odd input gives what could be read.

    *status* is the HTTP status (anything that is not an int is read as one, or
    ``None``); *headers* any header container; *body* bytes, str or parsed JSON.
    *provider* is who the caller says sent it (``None``: the answer decides);
    *sender* who the receiving adapter knows sent it; *message* and *hint* what the
    exception said. *size*, the raw body's length, spares measuring a body that
    was given already parsed.
    """
    if status is not None and type(status) is not int:
        try:
            status = int(status)
        except (TypeError, ValueError, OverflowError):
            status = None
    tables = _sources.CURRENT or _sources.tables()
    cut = False
    text: str | None = None
    if type(body) is dict or type(body) is list:  # parsed already, by an SDK or the caller
        document: Any = body
        if (size is None or size > MAX_PARSED_BODY) and _too_large(body):
            document, cut = _shortened(body, 0), True
    else:
        document, text, cut, events = decode_body(body)
        if text is not None and not text.strip():
            text = None
        if events and (status is None or 200 <= status < 300):
            text, cut = None, False  # a stream of events, none an error: a success
    wrapper = None
    error: Mapping[str, Any] | None = None
    shaped = False
    if type(document) is dict:
        for unwrap in tables.unwrappers:
            wrapper = unwrap(document, provider)
            if wrapper is not None:
                break
    if wrapper is not None:
        if wrapper.upstream is not None:
            upstream = wrapper.upstream
            error = {**upstream, "code": upstream.get("code") or wrapper.code or None}
        elif not wrapper.success:
            error = {"message": wrapper.message, "code": wrapper.code or None}
    elif type(document) is dict and type(document.get("error")) is dict:
        error, shaped = document["error"], True  # OpenAI's shape, the common case
    else:
        if type(document) is dict:
            for shape in tables.shapes:
                error = shape(document)
                if error is not None:
                    # OpenAI's error object itself at the top level (vLLM's ErrorResponse)
                    shaped = error.keys() >= _OPENAI_FIELDS
                    break
        if error is None:
            error, shaped = _locate(document, status)
    outer = None
    if error is not None and tables.nested:
        inner = _innermost(error, tables.nested)
        if inner is not error:
            outer, error = error, inner
    return _new(
        Answer,
        (
            status,
            signal_headers(headers, tables.header_names),
            headers,
            document,
            error,
            text,
            cut,
            document if document is not None else text,
            message,
            hint,
            sender,
            provider,
            wrapper,
            outer,
            shaped,
        ),
    )


def find_error(document: Any, status: int | None) -> dict[str, Any] | None:
    """The error object inside a parsed body, or ``None`` when it carries none.

    Only the top level is searched (plus a failed Responses-API object): an
    ``error`` nested inside a normal result, such as a streamed chunk's content
    filter result, is not a failure.
    """
    return _locate(document, status)[0]


def _locate(document: Any, status: int | None) -> tuple[dict[str, Any] | None, bool]:
    """:func:`find_error`'s answer, and whether the error came in OpenAI's shape (an
    ``error`` object, at the top or in a list's first object, or a failed response's)."""
    if type(document) is dict:
        error = document.get("error")
        if type(error) is dict:
            return error, True  # OpenAI's shape: the common case, read first
    if isinstance(document, list):
        document = next((item for item in document if isinstance(item, dict)), None)
    if not isinstance(document, dict):
        return None, False
    error = document.get("error")
    if isinstance(error, dict):
        return error, True
    if isinstance(error, list):
        return next((item for item in error if isinstance(item, dict)), None), False
    if isinstance(error, str) and error:
        found = {"message": error}
        for key in ("code", "type", "param"):
            if key in document:
                found[key] = document[key]
        description = document.get("error_description")
        if isinstance(description, str):
            found["message"] = f"{error}: {description}"
            found.setdefault("code", error)
        return found, False
    response = document.get("response")
    if isinstance(response, dict) and response.get("status") == "failed":
        inner = response.get("error")
        if isinstance(inner, dict):
            return inner, True
    if status is not None and status >= 400 and not error:
        # Non-OpenAI shapes from proxies and frameworks: {"message": ...},
        # {"detail": ...}, Azure API Management's {"statusCode": 401, "message": ...}.
        for key in ("message", "detail", "title", "msg"):
            text = document.get(key)
            if isinstance(text, str) and text:
                return {"message": text, "code": document.get("code")}, False
    return None, False


def _innermost(error: Mapping[str, Any], readers: tuple[_sources.Nested, ...]) -> Mapping[str, Any]:
    """Follow errors nested inside errors (as the sources' readers find them) inward; the
    error itself when nothing is nested in it."""
    for _ in range(_MAX_NESTING):
        for reader in readers:
            inner = reader(error)
            if inner is not None:
                error = inner
                break
        else:
            break
    return error


def _too_large(document: Any) -> bool:
    """Whether a parsed body holds more text than :data:`MAX_PARSED_BODY`, or too many nodes."""
    stack = [document]
    nodes = chars = 0
    while stack:
        value = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            return True
        if isinstance(value, str):
            chars += len(value)
            if chars > MAX_PARSED_BODY:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _shortened(value: Any, depth: int) -> Any:
    """A copy of a parsed body with long strings cut and long lists and objects shortened."""
    if isinstance(value, str):
        return value if len(value) <= MAX_KEPT_TEXT else value[:MAX_KEPT_TEXT] + "..."
    if depth >= 32:
        return "..."
    if isinstance(value, dict):
        items = list(value.items())[:100]
        return {_shortened(k, depth + 1): _shortened(v, depth + 1) for k, v in items}
    if isinstance(value, list):
        return [_shortened(item, depth + 1) for item in value[:100]]
    return value
