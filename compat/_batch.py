"""``compat.from_batch_line``: one line of a Batch API output or error file, as the common error.

Each line of a batch's output file and of its error file is one request's outcome
(the Batch API reference's "request output object")::

    {"id": "batch_req_...", "custom_id": "request-1",
     "response": {"status_code": 400, "request_id": "...", "body": {"error": {...}}},
     "error": null}

A request that got an answer has it under ``response``: its ``status_code`` and
``body`` are read like any raw answer, and its ``request_id`` is the id to quote.
A request that got none (the batch expired or was cancelled before it ran) has
``response: null`` and an ``error`` object with a ``code`` and a ``message``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from compat._classify import make_error
from compat._errors import LLMError
from compat._kinds import ErrorKind
from compat._translate import from_response

__all__ = ["from_batch_line"]


def _document(line: Any) -> Any:
    """*line* as parsed JSON: text or bytes are parsed, an SDK model dumped."""
    if isinstance(line, (bytes, bytearray)):
        line = bytes(line).decode("utf-8", "replace")
    if isinstance(line, str):
        return json.loads(line)
    dump = getattr(line, "model_dump", None) or getattr(line, "dict", None)
    if callable(dump) and not isinstance(line, Mapping):
        return dump()
    return line


def from_batch_line(line: Any, *, provider: str | None = None) -> LLMError | None:
    """The common error of one line of a Batch API output or error file, or ``None`` when
    the line is a success.

    *line* is the line's text (str or bytes), its parsed JSON, or the SDK's model of it.
    An answered request is read as its raw answer (``response.status_code``,
    ``response.body``, with ``response.request_id`` as its request id); an unanswered one
    from its ``error`` object. A line that cannot be read is ``bad_response``. Like
    :func:`compat.from_response`, this function never raises.
    """
    try:
        document = _document(line)
    except (ValueError, RecursionError) as bad:
        return make_error(ErrorKind.BAD_RESPONSE, f"The batch line is not JSON ({bad})")
    try:
        return _read(document, provider)
    except Exception as bug:  # noqa: BLE001 - never raises, as from_response
        error = make_error(
            ErrorKind.UNKNOWN,
            f"The batch line could not be read ({type(bug).__qualname__}: {bug})",
        )
        error.__cause__ = bug
        return error


def _read(document: Any, provider: str | None) -> LLMError | None:
    if not isinstance(document, Mapping):
        return make_error(ErrorKind.BAD_RESPONSE, "The batch line is not a JSON object")
    response = document.get("response")
    if isinstance(response, Mapping):
        status = response.get("status_code")
        status = status if type(status) is int else None
        request_id = response.get("request_id")
        headers = {"x-request-id": request_id} if isinstance(request_id, str) else {}
        error = from_response(status, headers, response.get("body"), provider=provider)
        if error is not None or document.get("error") is None:
            return error
    failure = document.get("error")
    if isinstance(failure, Mapping):
        return from_response(None, {}, {"error": dict(failure)}, provider=provider)
    if response is None and failure is None:
        return make_error(
            ErrorKind.BAD_RESPONSE, "The batch line holds neither a response nor an error"
        )
    return None
