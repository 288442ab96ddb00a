"""Portkey's AI gateway: its own error shapes, ``{"status": "failure", "message"}`` and
``{"html-message"}``.

The gateway's own failures (not the provider's, which it relays as they are) come
as ``{"status": "failure", "message": "..."}`` (a missing provider header, under
400) or, when the connection to the provider broke, as ``{"html-message":
"Network connection lost."}``, even under HTTP 200 (tests/data/compatible/portkey.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.extend import ErrorKind, Row, Source

K = ErrorKind


def portkey_error(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The gateway's own error: its ``html-message``, or a ``failure`` status's message."""
    message = document.get("html-message")
    if type(message) is str and message:
        return {"message": message}
    if document.get("status") == "failure":
        message = document.get("message")
        if type(message) is str and message:
            return {"message": message}
    return None


SOURCE = Source(
    name="portkey",
    phrases={"network connection lost": Row(K.CONNECTION)},
    mark_top_keys={"html-message"},
    mark_top_values={"status": {"failure"}},
    shapes=(portkey_error,),
    # a success's body holding this key is Portkey's failure: compat.wrap reads it
    body_keys=lambda: ("html-message",),
)
