"""one-api and its forks (new-api, ...): the relay's request id in the message, its codes.

one-api relays OpenAI-style answers and appends its own id to every message it
relays: "... (request id: 2025121521151664761470129816750)". That wording marks
the family, and the id is the one to quote to support. Its ``error.type`` is
``<name>_api_error`` (``one_api_error``, ``new_api_error``, a fork's own name).

Codes of its own: ``insufficient_user_quota`` ("user quota is not enough",
under 403) is quota; ``do_request_failed`` is the relay failing to reach its
upstream (one-api's relay controller), a connection failure
(tests/data/compatible/oneapi.json).
"""

from __future__ import annotations

from compat.extend import ErrorKind, Row, Source

K = ErrorKind

SOURCE = Source(
    name="oneapi",
    codes={
        "insufficient_user_quota": Row(K.QUOTA_EXCEEDED),
        "do_request_failed": Row(K.CONNECTION),
    },
    mark_phrases=("(request id: ",),
)
