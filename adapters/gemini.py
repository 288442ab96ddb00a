"""Google's Gemini and Vertex AI (and their OpenAI-compatible endpoints): the RPC status
and Google's wording.

Google's error object carries the HTTP status as ``code`` and an RPC status name
as ``status`` (``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``, ``UNAVAILABLE``),
which marks it; the body is sometimes a list of one such object. Its words say
what the status does not: an invalid key under 400, an unsupported location, a
context overflow ("The input token count ... exceeds the maximum number of tokens
allowed"), a service out of capacity under 429
(tests/data/compatible/gemini.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

#: google.rpc.Code names, as ``error.status`` writes them.
RPC_STATUSES = frozenset(
    {
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    }
)

SOURCE = Source(
    name="gemini",
    phrases={
        "exceeds the maximum number of tokens allowed": Row(K.CONTEXT_LENGTH_EXCEEDED),
        "api key not valid": Row(K.AUTHENTICATION),
        "user location is not supported": Row(K.PERMISSION_DENIED),
        "temporarily out of capacity": Row(K.OVERLOADED),
    },
    mark_values={"status": RPC_STATUSES},
)
