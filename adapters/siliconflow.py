"""SiliconFlow: ``{"code": <number>, "message", "data"}`` bodies.

A model that needs paid balance when the paid balance is spent comes under 403 with
code 30011 ("Your paid balance is insufficient. Please top up and try again."): quota,
not a permission (tests/data/compatible/siliconflow.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="siliconflow",
    phrases={"paid balance is insufficient": Row(K.QUOTA_EXCEEDED)},
)
