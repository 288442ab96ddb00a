"""Helpers the adapters share."""

from __future__ import annotations

from compat.extend import ErrorKind


def kind_by_class(cls: type, table: dict[str, ErrorKind | None]) -> tuple[bool, ErrorKind | None]:
    """Look the class and its bases up by name in *table*, most specific first.

    Returns ``(found, kind)``: a class listed with ``None`` is known and has no
    kind of its own (the answer decides), while ``found`` false means no class of
    the MRO is listed.
    """
    for klass in cls.__mro__:
        name = klass.__name__
        if name in table:
            return True, table[name]
    return False, None


def describe(exc: BaseException) -> str:
    """``"ClassName: text"`` of an exception, with the text of its cause when it has none."""
    text = str(exc)
    if not text and exc.__cause__ is not None:
        text = str(exc.__cause__)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
