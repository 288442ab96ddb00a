"""DeepSeek: OpenAI's shape, with ``invalid_request_error`` as the code of every failure.

DeepSeek writes ``"code": "invalid_request_error"`` whatever failed, so only the
status and the words tell: "Insufficient Balance" under 402 is quota
(tests/data/compatible/deepseek.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="deepseek",
    phrases={"insufficient balance": Row(K.QUOTA_EXCEEDED)},
)
