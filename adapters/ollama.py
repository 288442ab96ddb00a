"""Ollama: ``{"error": "..."}`` in its native API, OpenAI's shape in its compatible one.

Ollama's words name what its statuses only hint at: a model not pulled ("model
'x' not found, try pulling it first") and a server at its limit of pending
requests ("server busy, please try again"); Ollama Cloud's session and weekly usage
limits are quota (tests/data/compatible/ollama.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="ollama",
    phrases={
        "not found, try pulling it first": Row(K.NOT_FOUND),
        "server busy, please try again": Row(K.OVERLOADED),
        # Ollama Cloud's plan limits: a session's or a week's usage is spent, and waiting
        # out a rate limit will not bring it back ("upgrade for higher limits"); its hourly
        # limit ("please wait") stays a rate limit
        "reached your session usage limit": Row(K.QUOTA_EXCEEDED),
        "reached your weekly usage limit": Row(K.QUOTA_EXCEEDED),
    },
)
