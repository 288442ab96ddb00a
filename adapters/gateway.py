"""Gateway envelopes: tables of codes as data, and reading an answer wrapped in one.

A gateway wraps every answer in its own envelope, with a numeric code that says
what happened, often under HTTP 200::

    {"response": <upstream answer or error>, "error": "", "reason": "",
     "error_code": "0000", "request_id": "..."}

A :class:`GatewayTable` describes one gateway: the field that holds the code, the
codes that mean success, the kind each other code means, which failures it
bills. The seed gateway's table ships built in (:data:`SEED_GATEWAY`); users
register others with :func:`register_gateway`, and envelope detection uses
every registered table, the most recently registered first.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs

from compat._kinds import ErrorKind

K = ErrorKind


def _codes(value: Any) -> frozenset[str]:
    return frozenset(str(v) for v in value)


def _kinds(value: Mapping[Any, Any]) -> dict[str, ErrorKind]:
    return {str(code): ErrorKind(kind) for code, kind in value.items()}


@attrs.frozen
class GatewayTable:
    """One gateway's envelope: where its code is, and what each code means.

    *kinds* maps codes (as strings) to kinds; a code in the table's range that
    is neither there nor in *success_codes* gives ``unknown`` with the code kept.
    *code_width* pads numeric codes (``0`` becomes ``"0000"``). *billed* lists the
    codes the gateway charges for.
    """

    name: str
    kinds: Mapping[str, ErrorKind] = attrs.field(converter=_kinds)
    code_field: str = "error_code"
    success_codes: frozenset[str] = attrs.field(default=frozenset({"0000"}), converter=_codes)
    billed: frozenset[str] = attrs.field(default=frozenset(), converter=_codes)
    message_fields: tuple[str, ...] = ("reason", "error", "message", "msg")
    result_field: str = "response"
    request_id_field: str = "request_id"
    code_width: int = 0

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


#: The seed gateway (an ``api-gw`` style gateway for OpenAI), from its API page.
SEED_GATEWAY = GatewayTable(
    name="gateway",
    kinds={
        "2000": K.BAD_RESPONSE,
        "4000": K.SERVER_ERROR,
        "4001": K.CONNECTION,
        "4002": K.SERVER_ERROR,
        "4003": K.INVALID_REQUEST,
        "4004": K.AUTHENTICATION,
        "4005": K.AUTHENTICATION,
        "4006": K.PERMISSION_DENIED,
        "4007": K.PERMISSION_DENIED,
        "4008": K.RATE_LIMITED,
        "4009": K.OVERLOADED,
        "4010": K.NOT_FOUND,
        "4012": K.PERMISSION_DENIED,
        "4013": K.QUOTA_EXCEEDED,
        "4014": K.INVALID_REQUEST,
        "4015": K.INVALID_REQUEST,
        "4016": K.QUOTA_EXCEEDED,
        "4017": K.TIMEOUT,
        "5000": K.UNKNOWN,
    },
    success_codes={"0000"},
    billed={"0000", "2000", "4000", "4001", "4002", "4017", "5000"},
    code_width=4,
)

_tables: list[GatewayTable] = [SEED_GATEWAY]
_lock = threading.Lock()


def register_gateway(table: GatewayTable) -> None:
    """Recognise *table*'s envelope in every answer from now on (before older tables).

    Registering a table with the name of one already registered replaces it.
    """
    with _lock:
        _tables[:] = [t for t in _tables if t.name != table.name]
        _tables.insert(0, table)


def unregister_gateway(name: str) -> None:
    """Forget the table registered under *name* (the seed table cannot be removed)."""
    with _lock:
        _tables[:] = [t for t in _tables if t.name != name or t is SEED_GATEWAY]


def match(document: Any, provider: str | None) -> tuple[GatewayTable, str] | None:
    """The table whose envelope *document* is, and its code; ``None`` when it is none.

    With *provider* naming a registered table, only that table is tried.
    """
    if type(document) is not dict:
        return None
    for table in _tables:
        if provider is not None and provider != table.name:
            continue
        if table.code_field in document:
            code = table.code_of(document)
            if code is not None:
                return table, code
    return None


def envelope_message(table: GatewayTable, document: Mapping[str, Any], code: str) -> str:
    """The envelope's own words, or a sentence naming the code."""
    parts = []
    for field in table.message_fields:
        value = document.get(field)
        if isinstance(value, str) and value.strip() and value.strip() not in parts:
            parts.append(value.strip())
    text = "; ".join(parts)
    return f"gateway code {code}: {text}" if text else f"gateway code {code}"
