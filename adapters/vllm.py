"""vLLM's OpenAI-compatible server: its ``ErrorResponse`` and its wording.

vLLM answers with its own ``ErrorResponse``: at the top level in releases up to
2025, ``{"object": "error", "message": ..., "type": "BadRequestError", "param":
null, "code": 400}`` with no ``error`` envelope (even under HTTP 200), and
inside ``error`` since. Its ``type`` is the name of a Python exception class
(``BadRequestError``, ``NotFoundError``, set by ``create_error_response``): that
marks the family. Mistral's API sends the same top-level shape with OpenAI's
types (tests/data/compatible/vllm.json, mistral.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.extend import ErrorKind, Row, Source

K = ErrorKind


def object_error(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A top-level ``{"object": "error", "message": ...}``: the body is the error object."""
    if document.get("object") == "error" and "message" in document:
        return document
    return None


SOURCE = Source(
    name="vllm",
    phrases={
        "is longer than the maximum model length": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "is too long to fit into the model": Row(K.CONTEXT_LENGTH_EXCEEDED),
    },
    mark_values={
        "type": {"BadRequestError", "NotFoundError", "InternalServerError", "NotImplementedError"}
    },
    shapes=(object_error,),
)
