"""OpenRouter: its marks, the upstream's error nested in ``error.metadata.raw``, its wording.

OpenRouter answers in OpenAI's shape and sends the HTTP status as ``error.code``
(https://openrouter.ai/docs/api-reference/errors). Its marks: ``error.metadata``
(``provider_name``, ``raw``, ``limit_source``) and a top-level ``user_id`` beside
the error. When an upstream provider failed, the message is only "Provider
returned error" and the upstream's own answer is the text of ``metadata.raw``,
often JSON: that innermost error decides (tests/data/compatible/openrouter.json).

A model that exists but that no provider behind the router serves with the
request's parameters ("No endpoints found that support tool use") is a bad
parameter, ``invalid_request``, even under 404.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from compat.extend import ErrorKind, Row, Source, find_error

K = ErrorKind


def raw_upstream(error: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The upstream's error in ``error.metadata.raw``, when that text is an error's JSON."""
    metadata = error.get("metadata")
    if type(metadata) is not dict:
        return None
    raw = metadata.get("raw")
    if type(raw) is not str or raw.lstrip()[:1] not in ("{", "["):
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return find_error(document, None)


SOURCE = Source(
    name="openrouter",
    phrases={
        "no endpoints found that support": Row(K.INVALID_REQUEST),
        "is not a valid model id": Row(K.NOT_FOUND),
    },
    mark_keys={"metadata"},
    mark_top_keys={"user_id"},
    nested=(raw_upstream,),
)
