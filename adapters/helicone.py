"""Helicone's proxy: its own failures, marked by its header and keys.

When Helicone itself fails it answers ``{"helicone-message": "...", "support":
..., "helicone-error": ...}`` with the header ``helicone-error: true``; its
authentication middleware answers ``{"error": "No API key found", "trace":
"isAuthenticated.error"}`` (tests/data/compatible/helicone.json). Errors of the
provider behind it pass through as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.extend import ErrorKind, Source

K = ErrorKind


def helicone_error(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The proxy's own failure: its ``helicone-message``."""
    message = document.get("helicone-message")
    if type(message) is str and message:
        return {"message": message}
    return None


SOURCE = Source(
    name="helicone",
    mark_headers={"helicone-error"},
    mark_top_keys={"helicone-message"},
    mark_top_values={"trace": {"isAuthenticated.error"}},
    shapes=(helicone_error,),
)
