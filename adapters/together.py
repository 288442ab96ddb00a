"""Together AI: its request id beside the error, and its credit limit.

Together answers ``{"id": "<request id>", "error": {... "type": "credit_limit"}}``:
a body whose top level is exactly ``id`` and ``error`` is Together's. A credit
limit is quota; a model that only a dedicated endpoint serves, or whose endpoint is not
running, is not found (tests/data/compatible/together.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="together",
    codes={
        "credit_limit": Row(K.QUOTA_EXCEEDED),
        # a model served only on a dedicated endpoint, and such an endpoint not running:
        # nothing at this route answers for the model (tests/data/compatible/together.json)
        "model_not_available": Row(K.NOT_FOUND),
        "dedicated_endpoint_not_running": Row(K.NOT_FOUND),
    },
    mark_top_sets={frozenset({"id", "error"})},
)
