"""Zhipu AI (BigModel, GLM): numeric codes as strings, in OpenAI's or Anthropic's shape.

Zhipu writes its business codes in ``error.code`` (or ``error.type`` in its
Anthropic-compatible API): ``1113`` is an account without balance or resource
package, quota under 429, in English or in Chinese ("余额不足或无可用资源包,请充值")
(tests/data/compatible/zhipu.json). Nothing in the answer names Zhipu, so it marks
nothing.
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="zhipu",
    codes={"1113": Row(K.QUOTA_EXCEEDED)},
    phrases={"余额不足": Row(K.QUOTA_EXCEEDED)},  # "insufficient balance"
)
