"""Alibaba Cloud Model Studio (DashScope): OpenAI's shape, with codes of its own.

DashScope's compatible mode answers ``{"error": {"code", "message", "type"}, "id",
"request_id"}``, its code and type one word: ``Arrearage`` (the account is in
arrears: quota, not a permission), ``data_inspection_failed`` (its content
inspection refused the input) (tests/data/compatible/dashscope.json). Nothing in
the answer names DashScope, so it marks nothing.
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="dashscope",
    codes={
        "Arrearage": Row(K.QUOTA_EXCEEDED),
        "data_inspection_failed": Row(K.CONTENT_FILTERED),
    },
)
