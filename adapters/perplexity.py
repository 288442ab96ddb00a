"""Perplexity: ``invalid_model`` for a model id it does not know, even under 400.

Perplexity answers an unknown model with ``{"error": {"message": "Invalid model
'x'. Permitted models can be found in the documentation ...", "type":
"invalid_model", "code": 400}}``: not_found (tests/data/compatible/perplexity.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(name="perplexity", codes={"invalid_model": Row(K.NOT_FOUND)})
