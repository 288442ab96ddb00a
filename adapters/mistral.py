"""Mistral's API: ``raw_status_code`` beside its numeric codes, and its capacity wording.

Mistral answers ``{"object": "error", "message": ..., "type": ..., "code":
"1300", "raw_status_code": 429}`` (the top-level shape is read by
compat.adapters.vllm); ``raw_status_code`` marks it. "Service tier capacity
exceeded for this model" is the service short of capacity, intermittently:
overloaded (tests/data/compatible/mistral.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="mistral",
    phrases={"service tier capacity exceeded": Row(K.OVERLOADED)},
    mark_top_keys={"raw_status_code"},
)
