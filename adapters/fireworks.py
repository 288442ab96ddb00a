"""Fireworks AI: OpenAI's shape (with ``object: error`` inside the error) and its wording.

Fireworks' answers carry no structural mark of their own. A suspended account
("Account x is suspended, possibly due to reaching the monthly spending limit or
failure to pay past invoices", code PRECONDITION_FAILED under 412) is stopped:
permission_denied (tests/data/compatible/fireworks.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="fireworks",
    phrases={"is suspended, possibly due to": Row(K.PERMISSION_DENIED)},
)
