"""From an answer to the common error: the order in which what an answer says decides.

:func:`classify` is a function of one :class:`~compat._answer.Answer` and the
sources' merged rows (:func:`compat._sources.tables`). The first of these that
speaks decides the kind (DESIGN.md, "How an answer is read"):

1. a specific code: the envelope's code when the envelope carries no upstream
   error; else the innermost error's ``innererror.code``, ``code``, or a specific
   ``type`` (the sources' ``codes``);
2. a phrase that names the failure outright (the sources' ``phrases``), which
   outranks the status and any code that only restates it (``"429"``,
   ``RATE_LIMITED``: a code no source has a row for); where the status contradicts
   a code's row, a phrase that agrees with the status breaks the tie ("Project ...
   does not have access to model" under 403 with the code ``model_not_found``);
3. the HTTP status (the sources' ``statuses``; other 4xx are ``invalid_request``,
   5xx ``server_error``; a 3xx where an answer was due is ``bad_response``);
4. a generic ``type`` (the sources' ``types``), what the exception's class said,
   an envelope's code around an upstream error, and weak hints in the text;
5. else ``bad_response`` for a success status or none, ``unknown`` otherwise.

A phrase of the same kind may still say that a coded failure cannot be cured by
retrying ("Request too large for ..."), as may a source's ``refine`` reader (a
request over the whole per-minute limit), and ``x-should-retry`` overrides
retryability. Who sent the answer is, first that is known: the caller's word, the
envelope's, the marks of a source on the answer (its headers, the top level of the
body, the outermost error, then the innermost), the receiving adapter's knowledge,
then ``"openai"`` for an error in OpenAI's shape and ``"unknown"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat import _sources
from compat._answer import Answer
from compat._errors import ERROR_CLASSES, LLMError
from compat._kinds import RETRYABLE_KINDS, ErrorKind
from compat._parse import (
    MAX_KEPT_TEXT,
    MAX_MESSAGE,
    MAX_PARSED_BODY,
    collapse,
    headers_retry_after,
    html_heading,
    ratelimit_reset,
    request_id,
    request_id_in_text,
    retry_after_from_message,
    signal_headers,
    squeeze,
)
from compat._sources import ROW_OF, Row, Tables

K = ErrorKind

# What names a failure is said early; a message of 50 KB is not searched whole.
_SCANNED = 2000


def _key(value: Any) -> str:
    """A code or type as the tables key it: lower-cased text; ``""`` (no row's key) for
    objects and lists."""
    if type(value) is str:
        return value.lower()
    if isinstance(value, (dict, list)):
        return ""
    return str(value).lower()


def _status_row(tables: Tables, status: int) -> Row:
    row = tables.statuses.get(status)
    if row is not None:
        return row
    if status < 400:
        return ROW_OF[K.BAD_RESPONSE]  # a redirect or other 3xx where an answer was due
    return ROW_OF[K.INVALID_REQUEST if status < 500 else K.SERVER_ERROR]


def text_message(text: str, status: int | None, cut: bool = False) -> str:
    """A one-line message for a body that was not JSON (HTML page, plain text), or that
    was too long to be read as JSON."""
    where = f"HTTP {status}" if status is not None else "An answer"
    if cut and text.lstrip()[:1] in ("{", "["):
        snippet = collapse(text)[:200]
        return f"{where} with a body over {MAX_PARSED_BODY // 1024} KB, not read as JSON: {snippet}"
    snippet = ""
    if "<" in text:
        snippet = html_heading(text)
        what = "an HTML page"
    else:
        what = "a text body"
    if not snippet:
        snippet = squeeze(text)[:200]
    return f"{where} with {what} instead of JSON: {snippet}" if snippet else f"{where}: {what}"


def _marked(
    tables: Tables,
    headers: Mapping[str, str],
    answer: Answer | None,
    error: Mapping[str, Any] | None,
    inner_code: Any,
    code: Any,
    lower: str,
) -> str | None:
    """The source whose marks the answer bears: a header, a key or value at the top of
    the body, then on the outermost error and on the innermost (a key, a value, a code as
    written, wording)."""
    if headers and not tables.mark_header_names.isdisjoint(headers):
        for name, source in tables.mark_headers:
            if name in headers:
                return source
    if answer is not None:
        document = answer.document
        if type(document) is dict:
            if not tables.mark_top_key_names.isdisjoint(document):
                for key, values, source in tables.mark_top_keys:
                    if key in document and (values is None or _holds(document[key], values)):
                        return source
            exact = tables.mark_top_sets.get(len(document))
            if exact:
                keys = document.keys()
                for wanted, source in exact:
                    if keys == wanted:
                        return source
        outer = answer.outer
        if outer is not None:
            message = outer.get("message")
            said = message[:_SCANNED].lower() if type(message) is str else ""
            inner = outer.get("innererror")
            found = _marked_error(
                tables,
                outer,
                inner.get("code") if type(inner) is dict else None,
                outer.get("code"),
                said,
            )
            if found is not None:
                return found
    if error is None:
        return None
    return _marked_error(tables, error, inner_code, code, lower)


def _holds(value: Any, values: frozenset[str]) -> bool:
    return type(value) is str and value in values


def _marked_error(
    tables: Tables, error: Mapping[str, Any], inner_code: Any, code: Any, lower: str
) -> str | None:
    """The source whose marks one error object bears: a key, a value, a code, wording."""
    if not tables.mark_key_names.isdisjoint(error):
        for key, source in tables.mark_keys:
            if key in error:
                return source
    if not tables.mark_value_names.isdisjoint(error):
        for key, by_value in tables.mark_value_index.items():
            value = error.get(key)
            if type(value) is str:
                named = by_value.get(value)
                if named is not None:
                    return named
    marked = tables.marked_codes
    if type(inner_code) is str and inner_code in marked:
        return marked[inner_code]
    if type(code) is str and code in marked:
        return marked[code]
    for phrase, source in tables.mark_phrases:
        if phrase in lower:
            return source
    return None


def _all_filtered(document: Any) -> bool:
    """Whether a completion's every choice stopped at the content filter."""
    if type(document) is not dict:
        return False
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(isinstance(c, dict) and c.get("finish_reason") == "content_filter" for c in choices)


def _filtered_completion(answer: Answer, tables: Tables) -> LLMError:
    """A 2xx completion whose every choice the filter stopped: content_filtered."""
    verdicts: tuple[Any, ...] = ()
    found_by = None
    for source, reader in tables.content_filters:
        verdicts = reader(answer.document)
        if verdicts:
            found_by = source
            break
    names = sorted({name for result in verdicts for name in result.filtered})
    detail = f" (filtered: {', '.join(names)})" if names else ""
    headers = answer.headers
    provider = (
        answer.provider
        or _marked(tables, headers, None, None, None, None, "")
        or (found_by if names else None)
        or answer.sender
        or "openai"
    )
    return ERROR_CLASSES[K.CONTENT_FILTERED]._make(
        {
            "kind": K.CONTENT_FILTERED,
            "_message": f"The completion was stopped by the content filter{detail}",
            "retryable": False,
            "status": answer.status,
            "code": "content_filter",
            "request_id": request_id(headers) if headers else None,
            "provider": provider,
            "_raw_headers": answer.raw_headers,
            "_raw_body": answer.document,
            "_answer": answer,
        }
    )


def classify(answer: Answer) -> LLMError | None:
    """The common error for one answer; ``None`` when the answer is a success."""
    tables = _sources.CURRENT or _sources.tables()
    error, wrapper, hint, status = answer.error, answer.wrapper, answer.hint, answer.status
    decided: Row | None = None
    if wrapper is not None:
        if error is None:
            return None  # the envelope's code says success, and nothing inside failed
        if wrapper.upstream is None:
            decided = wrapper.row or ROW_OF[K.UNKNOWN]  # the envelope's code decides
        elif not wrapper.success:
            hint = None if wrapper.row is None else wrapper.row.kind
    elif error is None and hint is None and (status is None or status < 300):
        done = _no_error(answer, tables)
        if done is not _READ_ON:
            return done

    code = type_ = param = inner_code = None
    if error is not None:
        code, type_, param, inner_code, status = _fields(error, status)
    message = _message(answer, error, status)
    lower = message[:_SCANNED].lower()
    row, retryable = decide(tables, decided, inner_code, code, type_, lower, status, hint, error)
    kind = row.kind

    headers = answer.headers
    retry_after: float | None = None
    rid: str | None = None
    if headers:
        should_retry = headers.get("x-should-retry")
        if should_retry is not None:
            if should_retry == "true":
                retryable = True
            elif should_retry == "false":
                retryable = False
        retry_after = headers_retry_after(headers)
        rid = request_id(headers)
    if retry_after is None:
        if "try" in lower:
            retry_after = retry_after_from_message(message, lower)
        if retry_after is None and kind is K.RATE_LIMITED and headers:
            retry_after = ratelimit_reset(headers)
    if rid is None:
        rid = _request_id_in_body(answer, message, lower)

    provider = answer.provider
    if provider is None:
        if wrapper is not None:
            provider = wrapper.provider
        else:
            provider = (
                _marked(tables, headers, answer, error, inner_code, code, lower)
                or answer.sender
                or ("openai" if answer.shaped else "unknown")
            )
    if answer.cut:
        if answer.text is not None:
            message += f" [body cut: only the first {MAX_KEPT_TEXT} characters were kept]"
        else:
            message += f" [body cut: it held over {MAX_PARSED_BODY // 1024} KB; long values were shortened]"
    if code is None and inner_code is None and answer.outer is not None:
        code = answer.outer.get("code")  # the innermost error decided but names no code
    if code is not None:
        if type(code) is not str:
            code = str(code)
    elif inner_code is not None:
        code = str(inner_code)
    return ERROR_CLASSES[kind]._make(
        {
            "kind": kind,
            "_message": message,
            "retryable": retryable,
            "status": status,
            "code": code,
            "request_id": rid,
            "retry_after": retry_after,
            "provider": provider,
            "type": type_ if type_ is None or type(type_) is str else str(type_),
            "param": param if param is None or type(param) is str else str(param),
            "billed": None if wrapper is None else wrapper.billed,
            "_raw_headers": answer.raw_headers,
            "_raw_body": answer.body,
            "_answer": answer,
        }
    )


#: A message longer than this is searched for phrases through their anchor words.
_LONG = 256


def _first_phrase(tables: Tables, lower: str) -> Row | None:
    """The row of the first phrase of the table found in *lower*. A long message is split
    into its words once, and a phrase with an anchor (a whole word inside it) is looked
    for only when that word is one of them: the same answer, in time that grows with
    the message once rather than once per phrase."""
    if len(lower) <= _LONG:
        for needle, candidate in tables.phrases:
            if needle in lower:
                return candidate
        return None
    words = set(lower.split())
    for needle, candidate, anchor in tables.anchored_phrases:
        if (anchor is None or anchor in words) and needle in lower:
            return candidate
    return None


def decide(
    tables: Tables,
    decided: Row | None,
    inner_code: Any,
    code: Any,
    type_: Any,
    lower: str,
    status: int | None,
    hint: ErrorKind | None,
    error: Mapping[str, Any] | None,
) -> tuple[Row, bool]:
    """The row that decides an answer's kind, in DESIGN's order, and its retryability.

    *decided* is an envelope's row that decides on its own; *lower* the message,
    lower-cased; *hint* what the exception's class (or an envelope around an
    upstream error) said.
    """
    # 1. a specific code
    row = decided
    coded = False
    if row is None:
        codes = tables.codes
        found = None
        if inner_code is not None:
            found = codes.get(inner_code.lower() if type(inner_code) is str else _key(inner_code))
        if found is None and code is not None:
            found = codes.get(code.lower() if type(code) is str else _key(code))
        if found is None and type_ is not None:
            type_key = type_.lower() if type(type_) is str else _key(type_)
            if type_key not in tables.types:
                found = codes.get(type_key)
        if found is not None:
            row, coded = found[0], True
    # 2. a phrase that names the failure outright; or one that refines a code's retryability
    retryable: bool | None = None
    if row is None:
        row = _first_phrase(tables, lower)
    else:
        if coded and status is not None and status >= 400:
            said = _status_row(tables, status).kind
            if said is not row.kind:
                # The status contradicts the code: words that agree with the status decide.
                for needle, candidate in tables.phrases_of.get(said, ()):
                    if needle in lower:
                        row = candidate
                        break
        if row.retryable is None:
            refiners = tables.refiners.get(row.kind)
            if refiners:
                for needle, refined in refiners:
                    if needle in lower:
                        retryable = refined
                        break
    # 3. the status; 4. a generic type, what the exception said, weak hints
    if row is None:
        if status is not None and status >= 300:
            row = _status_row(tables, status)
        elif type_ is not None and _key(type_) in tables.types:
            row = tables.types[_key(type_)]
        elif hint is not None:
            row = ROW_OF[hint]
        else:
            for needle, candidate in tables.hints:
                if needle in lower:
                    row = candidate
                    break
            else:
                no_failure = error is None and (status is None or status < 400)
                row = ROW_OF[K.BAD_RESPONSE if no_failure else K.UNKNOWN]
    if retryable is None:
        retryable = row.retryable
        if retryable is None:
            for refine in tables.refine.get(row.kind, ()):
                retryable = refine(lower)
                if retryable is not None:
                    break
            else:
                retryable = row.kind in RETRYABLE_KINDS
    return row, retryable


def _fields(error: Mapping[str, Any], status: int | None) -> tuple[Any, Any, Any, Any, int | None]:
    """An error object's code, type, param and inner code; and the status its code restates
    when the answer had none or was a success."""
    get = error.get
    code = get("code")
    inner = get("innererror") or get("inner_error")
    inner_code = inner.get("code") if inner is not None and type(inner) is dict else None
    # A status-like code is the failure's status when the answer had none, or came as a
    # success (an error inside a 2xx body, as OpenRouter sends mid-stream).
    if code is not None and (status is None or 200 <= status < 300):
        if type(code) is int and 400 <= code < 600:
            status = code
        elif type(code) is str and len(code) == 3 and code.isdigit():
            status = int(code)
    return code, get("type"), get("param"), inner_code, status


def _message(answer: Answer, error: Mapping[str, Any] | None, status: int | None) -> str:
    """What the error says: the error object's message, else the exception's, else words
    for the body or the status; cut at :data:`MAX_MESSAGE` characters."""
    message = None if error is None else error.get("message")
    if message is not None and type(message) is not str:
        message = str(message)
    if message and "%20" in message and " " not in message:
        # a whole message sent percent-encoded (xAI's "Incorrect%20API%20key..."): its
        # words are read, and shown, as written
        from urllib.parse import unquote  # here: only such a message pays its import

        message = unquote(message)
    if not message:
        if answer.message:
            message = answer.message
        elif answer.text is not None:
            message = text_message(answer.text, status, answer.cut)
        elif status is not None:
            empty = answer.document is None
            message = f"HTTP {status} with {'an empty body' if empty else 'no error message'}"
            if 300 <= status < 400:
                message += " (a 3xx status, not an answer)"
        else:
            message = "The service answered with an error and no message"
    if len(message) > MAX_MESSAGE:
        message = (
            f"{message[:MAX_MESSAGE]} [message cut: only the first {MAX_MESSAGE} of"
            f" {len(message)} characters were kept]"
        )
    return message


def _request_id_in_body(answer: Answer, message: str, lower: str) -> str | None:
    """The request id an envelope or the body gives, else the one the message quotes."""
    wrapper = answer.wrapper
    if wrapper is not None:
        if wrapper.request_id is not None:
            return wrapper.request_id
    else:
        document = answer.document
        if type(document) is dict and "request_id" in document:
            value = document["request_id"]
            if isinstance(value, (str, int)) and value != "":
                return str(value)
    return request_id_in_text(message, lower) if "request id" in lower else None


#: What :func:`_no_error` gives when the answer's text must still be read for a kind.
_READ_ON: Any = object()


def _no_error(answer: Answer, tables: Tables) -> LLMError | None:
    """An answer with no error object, no failed status and no class that said failure: a
    success, a completion the content filter stopped, a success that cannot be read, or
    (:data:`_READ_ON`) text with no status to read on."""
    status, text = answer.status, answer.text
    if _all_filtered(answer.document):
        return _filtered_completion(answer, tables)
    if text is None and not answer.cut:
        return None
    if status is not None and status >= 200 and answer.document is None:
        if text is None:
            return None
        message = text_message(text, status, answer.cut)
        return _make(answer, K.BAD_RESPONSE, message, None, status)
    return _READ_ON  # type: ignore[no-any-return]


def _make(
    answer: Answer, kind: ErrorKind, message: str, code: str | None, status: int | None
) -> LLMError:
    """An error of *kind* for an answer that says nothing more."""
    headers = answer.headers
    if answer.cut:
        message += f" [body cut: only the first {MAX_KEPT_TEXT} characters were kept]"
    return ERROR_CLASSES[kind]._make(
        {
            "kind": kind,
            "_message": message,
            "status": status,
            "code": code,
            "request_id": request_id(headers) if headers else None,
            "provider": answer.provider or answer.sender or "unknown",
            "_raw_headers": answer.raw_headers,
            "_raw_body": answer.body,
            "_answer": answer,
        }
    )


def make_error(
    kind: ErrorKind,
    message: str,
    status: int | None = None,
    headers: Any = None,
    body: Any = None,
    provider: str = "unknown",
    *,
    code: str | None = None,
    retryable: bool | None = None,
) -> LLMError:
    """The error of *kind*, made directly, for a failure that carries no answer to read
    (a refused connection, a timeout, an SDK's own complaint)."""
    return ERROR_CLASSES[kind]._make(
        {
            "kind": kind,
            "_message": message,
            "retryable": retryable,
            "status": status,
            "code": code,
            "request_id": request_id(signal_headers(headers)) if headers else None,
            "provider": provider,
            "_raw_headers": headers,
            "_raw_body": body,
        }
    )
