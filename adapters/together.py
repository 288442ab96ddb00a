"""Together AI: its request id beside the error, and its credit limit.

Together answers ``{"id": "<request id>", "error": {... "type": "credit_limit"}}``:
a body whose top level is exactly ``id`` and ``error`` is Together's. A credit
limit is quota (tests/data/compatible/together.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="together",
    codes={"credit_limit": Row(K.QUOTA_EXCEEDED)},
    mark_top_sets={frozenset({"id", "error"})},
)
