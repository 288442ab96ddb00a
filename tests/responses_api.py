"""The Responses API's answers that the wrap tests serve: a failed background response
and server-sent event streams of response events."""

from __future__ import annotations

import json
from typing import Any

from compat.testing import faults

#: A background response that failed, as ``GET /v1/responses/{id}`` returns it (the
#: fields of openai-python's ``Response``; the error object as the API reference shows it).
FAILED = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "created_at": 1741476542,
    "status": "failed",
    "background": True,
    "error": {
        "code": "server_error",
        "message": "The server had an error while processing your request.",
    },
    "incomplete_details": None,
    "instructions": None,
    "model": "gpt-4o",
    "output": [],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "temperature": 1.0,
    "top_p": 1.0,
    "metadata": {},
}
IN_PROGRESS = {**FAILED, "status": "in_progress", "error": None}
#: Model ran out of its rate limit mid-generation: the error event's own fields.
ERROR_EVENT = {
    "type": "error",
    "code": "rate_limit_exceeded",
    "message": "Rate limit reached for gpt-4o. Please try again in 2s.",
    "param": None,
    "sequence_number": 1,
}


def events(*documents: dict[str, Any]) -> str:
    """A server-sent event stream of *documents*, each named by its type."""
    return "".join(f"event: {d['type']}\ndata: {json.dumps(d)}\n\n" for d in documents)


def sse(*documents: dict[str, Any]) -> Any:
    """An answer that streams *documents*."""
    return faults.answer(200, {"content-type": "text/event-stream"}, events(*documents))
