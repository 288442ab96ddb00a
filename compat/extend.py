"""What adapters and sources use of compat: the whole interface between them and the core.

compat's layers, from the bottom::

    compat (the core)       the error model, reading an answer, classifying it,
                            translate / from_response and the adapter registry,
                            retry, wrap; it imports no adapter: it finds them by
                            module name (the adapter registry, keyed by the module
                            that defines an exception's class, and compat._sources.BUILTIN)
    compat.extend           this module: the names below, and nothing else of the core
    compat.adapters.*       one module per source (openai_v1, openai_legacy, azure,
                            gateway, http): each imports compat, compat.extend and
                            other adapters only
    compat.clients.*        clients built on all of the above (the seed gateway's)

An **adapter** turns one library's exception into the common error::

    def translate_acme(exc: BaseException) -> LLMError | None:
        if not isinstance(exc, AcmeError):
            return None
        answer = read_answer(exc.status, exc.headers, exc.body, sender="acme", message=str(exc))
        return classify(answer)

    compat.register_adapter("acme_sdk", translate_acme)

:func:`read_answer` reads an answer once (status, decision headers, parsed
body, the error object in it, the evidence of who sent it) into an
:class:`Answer`; :func:`classify` applies the sources' rows to it and gives the
error (``None`` for a success); :func:`make_error` makes an error directly for a
failure without an answer (a refused connection, a timeout).

A **source** is what compat knows about one sender's answers, as data: rows
(:class:`Row`: kind, retryability, billing) for its codes, types, phrases and
statuses, the marks that show an answer is its own, and optional readers (an
envelope around the answer, errors nested inside errors, content-filter
verdicts); see :class:`Source`. A family of OpenAI-compatible servers is a module
with a ``SOURCE`` and a call of :func:`register_source`; an envelope's reader
returns a :class:`Wrapper`.
"""

from __future__ import annotations

from compat._answer import Answer, find_error, read_answer
from compat._classify import classify, make_error
from compat._content_filter import ContentFilterResult, FilterCategory
from compat._errors import LLMError
from compat._kinds import ErrorKind
from compat._parse import MAX_KEPT_TEXT, MAX_PARSED_BODY
from compat._redact import redact_text, redact_url
from compat._sources import (
    Row,
    Source,
    Wrapper,
    changed,
    register_source,
    sources,
    tables,
    unregister_source,
)
from compat._translate import register_adapter, unregister_adapter

__all__ = [
    "MAX_KEPT_TEXT",
    "MAX_PARSED_BODY",
    "Answer",
    "ContentFilterResult",
    "ErrorKind",
    "FilterCategory",
    "LLMError",
    "Row",
    "Source",
    "Wrapper",
    "changed",
    "classify",
    "find_error",
    "make_error",
    "read_answer",
    "redact_text",
    "redact_url",
    "register_adapter",
    "register_source",
    "sources",
    "tables",
    "unregister_adapter",
    "unregister_source",
]
