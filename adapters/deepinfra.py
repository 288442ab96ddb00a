"""DeepInfra: its context-length wording, which it sends under 500.

"Requested input length 99009 exceeds maximum input length 8192" names a
context overflow outright, whatever the status (tests/data/compatible/deepinfra.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="deepinfra",
    phrases={"exceeds maximum input length": Row(K.CONTEXT_LENGTH_EXCEEDED)},
)
