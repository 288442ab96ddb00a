"""Cloudflare's API envelope, as AI Gateway and Workers AI answer their own failures.

Cloudflare's v4 API wraps every answer as ``{"result": ..., "success": false,
"errors": [{"code": 10000, "message": "Authentication error"}], "messages": []}``
(AI Gateway's dynamic routes write the list as ``error``). The envelope names
Cloudflare; its first error is the failure, whose numeric code is kept and whose
kind the status and the words decide (tests/data/compatible/cloudflare.json).
Answers of the provider behind AI Gateway pass through in their own shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.extend import Source, Wrapper


def envelope(document: Mapping[str, Any], provider: str | None) -> Wrapper | None:
    """*document* read as Cloudflare's API envelope around a failure; ``None`` otherwise."""
    if document.get("success") is not False or "messages" not in document:
        return None
    errors = document.get("errors")
    if not isinstance(errors, list):
        errors = document.get("error")
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return None
    code = first.get("code")
    code = "" if code is None or isinstance(code, (dict, list)) else str(code)
    message = first.get("message")
    message = message if isinstance(message, str) else ""
    return Wrapper(
        provider="cloudflare",
        code=code,
        row=None,
        success=False,
        billed=None,
        message=message,
        upstream={"code": code or None, "message": message},
    )


SOURCE = Source(name="cloudflare", unwrap=envelope)
