"""Gateway envelopes: each gateway's table of codes as rows, and reading an answer wrapped in one.

A gateway wraps every answer in its own envelope, with a code that says what
happened, often under HTTP 200::

    {"response": <upstream answer or error>, "error": "", "reason": "",
     "error_code": "0000", "request_id": "..."}

A :class:`GatewayTable` describes one gateway: the field that holds the code,
the codes that mean success, and one :class:`~compat.extend.Row` per failure
code (its kind, whether a retry can help when the kind's default does not say
it, whether the gateway bills it). The seed gateway's table ships built in
(:data:`SEED_GATEWAY`); :func:`register_gateway` adds others, and every answer is
tried against every registered table, the most recently registered first.

When ``response`` carries an upstream error, that error is more specific than the
envelope's code and decides (the seed gateway's own documentation shows an
upstream rate limit delivered under ``"2000"``); the code still says whether the
failure was billed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from compat.extend import ErrorKind, Row, Source, Wrapper, changed, find_error

K = ErrorKind


def _codes(value: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v) for v in value)


@attrs.frozen(init=False)
class GatewayTable:
    """One gateway's envelope: where its code is, and a row for what each code means.

    Give the rows either as *rows* (code -> :class:`~compat.extend.Row`) or as
    *kinds* (code -> kind) with *billed* (the codes the gateway charges for); codes
    billed without a row of their own (success codes) are *other_billed*. A code in
    neither *rows* nor *success_codes* gives ``unknown`` with the code kept.
    *code_width* pads numeric codes (``0`` becomes ``"0000"``).
    """

    name: str
    rows: Mapping[str, Row]
    code_field: str
    success_codes: frozenset[str]
    other_billed: frozenset[str]
    message_fields: tuple[str, ...]
    result_field: str
    request_id_field: str
    code_width: int

    def __init__(
        self,
        name: str,
        kinds: Mapping[Any, ErrorKind | str] | None = None,
        *,
        rows: Mapping[Any, Row] | None = None,
        code_field: str = "error_code",
        success_codes: Iterable[Any] = ("0000",),
        billed: Iterable[Any] = (),
        message_fields: tuple[str, ...] = ("reason", "error", "message", "msg"),
        result_field: str = "response",
        request_id_field: str = "request_id",
        code_width: int = 0,
    ) -> None:
        billed_codes = _codes(billed)
        table = {str(code): row for code, row in (rows or {}).items()}
        for code, kind in (kinds or {}).items():
            table[str(code)] = Row(kind, billed=str(code) in billed_codes)
        successes = _codes(success_codes)
        self.__attrs_init__(
            name,
            table,
            code_field,
            successes,
            frozenset(code for code in billed_codes if code not in table),
            tuple(message_fields),
            result_field,
            request_id_field,
            code_width,
        )

    @property
    def kinds(self) -> dict[str, ErrorKind]:
        """Each failure code and its kind."""
        return {code: row.kind for code, row in self.rows.items()}

    @property
    def billed(self) -> frozenset[str]:
        """The codes the gateway charges for."""
        return self.other_billed | {code for code, row in self.rows.items() if row.billed}

    def code_of(self, document: Mapping[str, Any]) -> str | None:
        """The envelope's code as a string, or ``None`` when the field is absent or empty."""
        raw = document.get(self.code_field)
        if raw is None or isinstance(raw, (dict, list, bool)):
            return None
        if isinstance(raw, (int, float)):
            text = str(int(raw)) if float(raw).is_integer() else str(raw)
        else:
            text = str(raw).strip()
        if not text:
            return None
        if self.code_width and text.isdigit():
            text = text.zfill(self.code_width)
        return text

    def message(self, document: Mapping[str, Any], code: str) -> str:
        """The envelope's own words, or a sentence naming the code."""
        parts = []
        for field in self.message_fields:
            value = document.get(field)
            if isinstance(value, str) and value.strip() and value.strip() not in parts:
                parts.append(value.strip())
        text = "; ".join(parts)
        return f"gateway code {code}: {text}" if text else f"gateway code {code}"

    def read(self, document: Mapping[str, Any]) -> Wrapper | None:
        """*document* read as this gateway's envelope; ``None`` when it is not one."""
        if self.code_field not in document:
            return None
        code = self.code_of(document)
        if code is None:
            return None
        success = code in self.success_codes
        row = None if success else self.rows.get(code)
        upstream = document.get(self.result_field)
        inner = find_error(upstream, None) if isinstance(upstream, (dict, list)) else None
        request_id = document.get(self.request_id_field)
        return Wrapper(
            provider=self.name,
            code=code,
            row=row,
            success=success,
            billed=row.billed if row is not None else code in self.other_billed,
            message=self.message(document, code),
            upstream=inner,
            request_id=str(request_id)
            if isinstance(request_id, (str, int)) and request_id != ""
            else None,
        )


#: The seed gateway (an ``api-gw`` style gateway for OpenAI), from its API page.
SEED_GATEWAY = GatewayTable(
    name="gateway",
    rows={
        # code: Row(kind, billed) -- the gateway bills 2000, 4000-4002, 4017 and 5000
        "2000": Row(K.BAD_RESPONSE, billed=True),  # success but no result
        "4000": Row(K.SERVER_ERROR, billed=True),  # server internal error
        "4001": Row(K.CONNECTION, billed=True),  # network error
        "4002": Row(K.SERVER_ERROR, billed=True),  # target (upstream) server error
        "4003": Row(K.INVALID_REQUEST, billed=False),  # parameter error
        "4004": Row(K.AUTHENTICATION, billed=False),  # account not found
        "4005": Row(K.AUTHENTICATION, billed=False),  # invalid authentication credentials
        "4006": Row(K.PERMISSION_DENIED, billed=False),  # API stopped
        "4007": Row(K.PERMISSION_DENIED, billed=False),  # account stopped
        "4008": Row(K.RATE_LIMITED, billed=False),  # rate limit (concurrency) exceeded
        "4009": Row(K.OVERLOADED, billed=False),  # API under maintenance
        "4010": Row(K.NOT_FOUND, billed=False),  # API not found
        "4012": Row(K.PERMISSION_DENIED, billed=False),  # API not added to the account
        "4013": Row(K.QUOTA_EXCEEDED, billed=False),  # call count exceeded
        "4014": Row(K.INVALID_REQUEST, billed=False),  # missing URL parameter
        "4015": Row(K.INVALID_REQUEST, billed=False),  # wrong pageToken
        "4016": Row(K.QUOTA_EXCEEDED, billed=False),  # insufficient balance
        "4017": Row(K.TIMEOUT, billed=True),  # timeout
        "5000": Row(K.UNKNOWN, billed=True),  # unknown error
    },
    success_codes={"0000"},
    billed={"0000"},
    code_width=4,
)

_tables: list[GatewayTable] = [SEED_GATEWAY]
_fields = frozenset({SEED_GATEWAY.code_field})  # every registered table's code field
_lock = threading.Lock()


def tables() -> tuple[GatewayTable, ...]:
    """Every registered table, in the order answers are tried against them."""
    return tuple(_tables)


def register_gateway(table: GatewayTable) -> None:
    """Recognise *table*'s envelope in every answer from now on (before older tables).

    Registering a table with the name of one already registered replaces it.
    """
    global _fields
    with _lock:
        _tables[:] = [t for t in _tables if t.name != table.name]
        _tables.insert(0, table)
        _fields = frozenset(t.code_field for t in _tables)
    changed()


def unregister_gateway(name: str) -> None:
    """Forget the table registered under *name* (the seed table cannot be removed)."""
    global _fields
    with _lock:
        _tables[:] = [t for t in _tables if t.name != name or t is SEED_GATEWAY]
        _fields = frozenset(t.code_field for t in _tables)
    changed()


def unwrap(document: Mapping[str, Any], provider: str | None) -> Wrapper | None:
    """*document* read as the envelope of a registered gateway; ``None`` when it is none.

    With *provider* naming a registered table, only that table is tried.
    """
    if _fields.isdisjoint(document):
        return None  # no registered table's code field: not an envelope
    for table in _tables:
        if provider is not None and provider != table.name:
            continue
        found = table.read(document)
        if found is not None:
            return found
    return None


SOURCE = Source(name="gateway", unwrap=unwrap, body_keys=lambda: _fields)
