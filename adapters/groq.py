"""Groq: OpenAI's shape and wording, with a code of its own for retired models.

Groq's answers carry no mark of their own (its docs' URLs in a message are not
one); its tokens-per-minute 429s use OpenAI's wording, whose "Requested" over the
"Limit" says the request can never pass (compat.adapters.openai_v1 reads it).
``model_decommissioned`` is a model id the server no longer knows: not_found
even under 400 (tests/data/compatible/groq.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(name="groq", codes={"model_decommissioned": Row(K.NOT_FOUND)})
