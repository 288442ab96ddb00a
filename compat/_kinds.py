"""The kinds of failure, and which of them are worth retrying by default."""

from __future__ import annotations

import enum


class ErrorKind(str, enum.Enum):
    """The class of a failure. The values are stable public API."""

    AUTHENTICATION = "authentication"
    PERMISSION_DENIED = "permission_denied"
    INVALID_REQUEST = "invalid_request"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    OUTPUT_TRUNCATED = "output_truncated"
    CONTENT_FILTERED = "content_filtered"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_RESPONSE = "bad_response"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def retryable(self) -> bool:
        """Whether an error of this kind is worth retrying when nothing else is known."""
        return self in RETRYABLE_KINDS


#: Kinds that a retry of the same request can cure, absent a signal from the server.
RETRYABLE_KINDS = frozenset(
    {
        ErrorKind.CONFLICT,
        ErrorKind.RATE_LIMITED,
        ErrorKind.OVERLOADED,
        ErrorKind.SERVER_ERROR,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
    }
)
