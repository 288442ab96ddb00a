"""Anthropic's API and its OpenAI-compatible endpoint: its envelope, types and wording.

Anthropic wraps its error object as ``{"type": "error", "error": {"type":
"rate_limit_error", "message": ...}, "request_id": "req_..."}``; the top-level
``"type": "error"`` marks it, and ``request_id`` is the id to quote. Its types
(``overloaded_error``, ``rate_limit_error``, ``authentication_error``) and its
wording ("prompt is too long: 205351 tokens > 200000 maximum", "input length and
`max_tokens` exceed context limit") are read by any server that relays them
(tests/data/compatible/anthropic.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="anthropic",
    codes={"overloaded_error": Row(K.OVERLOADED)},
    phrases={
        "prompt is too long": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "exceed context limit": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "credit balance is too low": Row(K.QUOTA_EXCEEDED),
    },
    mark_top_values={"type": {"error"}},
)
