"""llama.cpp's server: its error types and context-size wording.

``format_error_response`` writes ``{"error": {"code": N, "message": ..., "type":
...}}`` with types of its own (``exceed_context_size_error`` with
``n_prompt_tokens`` and ``n_ctx``, ``unavailable_error`` while the model loads,
``not_supported_error``), and has answered a context overflow under 500 and
even 200 (tests/data/compatible/llamacpp.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="llamacpp",
    codes={"exceed_context_size_error": Row(K.CONTEXT_LENGTH_EXCEEDED)},
    types={"unavailable_error": Row(K.OVERLOADED)},
    phrases={
        "exceeds the available context size": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "context size has been exceeded": Row(K.CONTEXT_LENGTH_EXCEEDED),
    },
    mark_keys={"n_ctx", "n_prompt_tokens"},
    mark_values={"type": {"exceed_context_size_error", "unavailable_error", "not_supported_error"}},
)
