"""Hugging Face's text-generation-inference (TGI): ``{"error": "...", "error_type": ...}``.

TGI's ``ErrorResponse`` is a string ``error`` beside an ``error_type``
(``validation``, ``overloaded``, ``generation``, ``incomplete_generation``), under
an HTTP status, or as a server-sent event of a stream that had started
(tests/data/compatible/tgi.json). Its validation errors name the context limit in
their own words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.extend import ErrorKind, Row, Source

K = ErrorKind


def error_response(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """TGI's error: the string ``error`` as the message, ``error_type`` as the type."""
    error, kind = document.get("error"), document.get("error_type")
    if type(error) is str and error and type(kind) is str:
        return {"message": error, "type": kind}
    return None


SOURCE = Source(
    name="tgi",
    # error_type refines an answer with no failed status (a stream's error event).
    types={
        "validation": Row(K.INVALID_REQUEST),
        "generation": Row(K.SERVER_ERROR),
        "incomplete_generation": Row(K.SERVER_ERROR),
        "overloaded": Row(K.OVERLOADED),
    },
    phrases={
        "`inputs` tokens + `max_new_tokens` must be <=": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "`inputs` must have less than": Row(K.CONTEXT_LENGTH_EXCEEDED),
    },
    mark_top_keys={"error_type"},
    shapes=(error_response,),
)
