"""Sources: who can send an answer, and what each one's codes, types, phrases and statuses mean.

A :class:`Source` is one sender of answers (OpenAI, Azure OpenAI, a gateway's
envelope, HTTP itself, and each family of OpenAI-compatible servers: OpenRouter,
LiteLLM, vLLM, ...) as data: its rows (each a :class:`Row`: a kind, and whether
a retry can help and whether the failure was billed, when the source says so),
the marks that show an answer is its own, and optional readers (an envelope
around the error, an error shape other than OpenAI's, an error nested inside
another, content-filter verdicts, retryability told by numbers in the words).
Each built-in source is one module of :mod:`compat.adapters` that owns all its
rows: a new mapping is one row in one file.

The core knows the built-in sources only by module name (:data:`BUILTIN`) and
imports each the first time an answer is read; :func:`register_source` adds
others. The classifier reads every source's rows merged into one
:class:`Tables`, rebuilt when a source is registered or removed.

Rows are merged in this order of precedence: registered sources (the latest
first), then the built-in ones in :data:`BUILTIN`'s order. A code is looked up
without regard to case (``DeploymentNotFound`` and ``deploymentnotfound`` are
one row), as is a ``type``; phrases are matched against the lower-cased
message, kind by kind in :data:`PHRASE_ORDER` (a text that names two failures
is the more specific one), and weak hints in :data:`HINT_ORDER`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Union

import attrs

from compat._kinds import ErrorKind
from compat._parse import SIGNAL_HEADERS

K = ErrorKind

#: The built-in sources: module names, each with a ``SOURCE``, imported on first use.
#: Gateways and proxies come before the servers whose answers they relay, so that
#: their marks name who sent an answer that quotes another's words.
BUILTIN = (
    "compat.adapters.gateway",
    "compat.adapters.litellm",
    "compat.adapters.openrouter",
    "compat.adapters.oneapi",
    "compat.adapters.portkey",
    "compat.adapters.helicone",
    "compat.adapters.cloudflare",
    "compat.adapters.vllm",
    "compat.adapters.tgi",
    "compat.adapters.llamacpp",
    "compat.adapters.mistral",
    "compat.adapters.anthropic",
    "compat.adapters.gemini",
    "compat.adapters.groq",
    "compat.adapters.together",
    "compat.adapters.fireworks",
    "compat.adapters.perplexity",
    "compat.adapters.deepinfra",
    "compat.adapters.deepseek",
    "compat.adapters.dashscope",
    "compat.adapters.zhipu",
    "compat.adapters.siliconflow",
    "compat.adapters.ollama",
    "compat.adapters.azure",
    "compat.adapters.openai_v1",
    "compat.adapters.http",
)

#: When a message holds phrases of several kinds, the kind tried first wins.
PHRASE_ORDER = (
    K.CONTEXT_LENGTH_EXCEEDED,
    K.QUOTA_EXCEEDED,
    K.RATE_LIMITED,
    K.OVERLOADED,
    K.SERVER_ERROR,
    K.CONTENT_FILTERED,
    K.PERMISSION_DENIED,
    K.AUTHENTICATION,
    K.NOT_FOUND,
    K.INVALID_REQUEST,
    K.CONNECTION,
    K.TIMEOUT,
)
#: The same for weak hints, read only when nothing else spoke.
HINT_ORDER = (
    K.RATE_LIMITED,
    K.TIMEOUT,
    K.AUTHENTICATION,
    K.NOT_FOUND,
    K.OVERLOADED,
    K.CONNECTION,
)


def _to_kind(value: ErrorKind | str) -> ErrorKind:
    return value if isinstance(value, ErrorKind) else ErrorKind(value)


@attrs.frozen
class Row:
    """What one code, type, phrase or status means.

    *kind* is the kind of failure; *retryable* overrides the kind's default
    retryability when it is not ``None``; *billed* says whether the sender charged
    for the failure (gateways), ``None`` when it does not say.
    """

    kind: ErrorKind = attrs.field(converter=_to_kind)
    retryable: bool | None = None
    billed: bool | None = None


def _row(value: Row | ErrorKind | str) -> Row:
    return value if isinstance(value, Row) else Row(_to_kind(value))


def _rows(table: Mapping[Any, Row | ErrorKind | str]) -> Mapping[Any, Row]:
    return {key: _row(value) for key, value in table.items()}


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _texts(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _readers(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(values)


def _refiners(
    table: Mapping[ErrorKind, Iterable[Refine]],
) -> Mapping[ErrorKind, tuple[Refine, ...]]:
    return {ErrorKind(kind): tuple(readers) for kind, readers in table.items()}


def _valued(table: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return {key: frozenset(values) for key, values in table.items()}


def _sets(values: Iterable[Iterable[str]]) -> frozenset[frozenset[str]]:
    return frozenset(frozenset(keys) for keys in values)


@attrs.frozen
class Wrapper:
    """An envelope around an answer, as the source that knows it read it.

    *provider* is who wrapped it; *code* the envelope's own code and *row* what
    that code means (``None``: a code its table does not know); *success* whether
    the code means success; *billed* whether the sender charged for it; *message*
    the envelope's own words; *upstream* the error object inside, when there is
    one (it is more specific than the envelope's code and decides); *request_id*
    the envelope's id.
    """

    provider: str
    code: str
    row: Row | None
    success: bool
    billed: bool | None
    message: str
    upstream: Mapping[str, Any] | None = None
    request_id: str | None = None


#: Reads an envelope: the parsed body and the provider the caller named (or
#: ``None``) in, the :class:`Wrapper` out, or ``None`` when the body is not one.
Unwrap = Callable[[Mapping[str, Any], Union[str, None]], Union[Wrapper, None]]
#: Reads an error nested inside an error object: the inner error, or ``None``.
Nested = Callable[[Mapping[str, Any]], Union[Mapping[str, Any], None]]
#: Reads the error object out of a parsed body in a shape other than OpenAI's
#: ``{"error": {...}}`` (a top-level ``{"object": "error", ...}``, a framework's
#: ``{"statusCode", "error", "message"}``): the error, or ``None`` when the body is not that shape.
Shape = Callable[[Mapping[str, Any]], Union[Mapping[str, Any], None]]
#: Says from an error's words whether a retry can help, where its rows leave it open:
#: the lower-cased message of an error of the kind it is listed under in, ``True``/``False``
#: or ``None`` out.
Refine = Callable[[str], Union[bool, None]]
#: Reads content-filter verdicts out of a body: a tuple of results, empty when none.
ContentFilter = Callable[[Any], tuple[Any, ...]]


@attrs.frozen
class Source:
    """One sender of answers and everything compat knows about its answers, as data.

    *name* is the provider an answer is said to come from when this source's marks
    are on it. *codes* are its specific codes (``error.code``, ``innererror.code``,
    a specific ``error.type``), written as the source writes them; *types* its
    generic ``type`` values, which only refine; *phrases* text (lower case) that
    names a failure outright; *hints* weak text, read when nothing else spoke;
    *statuses* what an HTTP status means.

    Marks, the evidence that an answer is this source's: *mark_headers* (a header
    present), *mark_keys* (a key of the error object), *mark_values* (a key of the
    error object holding one of the values listed, as written), *mark_top_keys* and
    *mark_top_values* (the same for the top level of the body, beside the error),
    *mark_top_sets* (sets of top-level keys that, exactly, make up the source's body),
    *mark_phrases* (wording in the message, lower case), and with *marked_codes* a
    code written exactly as in *codes*. Readers: *unwrap* reads an envelope around
    the answer (a gateway's), *shapes* read the error out of a body in a shape other
    than OpenAI's, *nested* read an error nested inside an error (the innermost
    decides), *content_filter* reads per-category verdicts, *refine* (readers per
    kind) says from the words whether a retry can help where the rows leave it open. *body_keys* names the
    top-level keys whose presence in a successful body means it may be a failure in
    disguise (an envelope's code field): ``compat.wrap`` reads only such bodies as answers.
    """

    name: str
    codes: Mapping[str, Row] = attrs.field(factory=dict, converter=_rows)
    types: Mapping[str, Row] = attrs.field(factory=dict, converter=_rows)
    phrases: Mapping[str, Row] = attrs.field(factory=dict, converter=_rows)
    hints: Mapping[str, Row] = attrs.field(factory=dict, converter=_rows)
    statuses: Mapping[int, Row] = attrs.field(factory=dict, converter=_rows)
    mark_headers: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    mark_keys: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    mark_values: Mapping[str, frozenset[str]] = attrs.field(factory=dict, converter=_valued)
    mark_top_keys: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    mark_top_values: Mapping[str, frozenset[str]] = attrs.field(factory=dict, converter=_valued)
    mark_top_sets: frozenset[frozenset[str]] = attrs.field(default=frozenset(), converter=_sets)
    mark_phrases: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    marked_codes: bool = False
    unwrap: Unwrap | None = None
    shapes: tuple[Shape, ...] = attrs.field(default=(), converter=_readers)
    nested: tuple[Nested, ...] = attrs.field(default=(), converter=_readers)
    content_filter: ContentFilter | None = None
    refine: Mapping[ErrorKind, tuple[Refine, ...]] = attrs.field(factory=dict, converter=_refiners)
    body_keys: Callable[[], Iterable[str]] | None = None


#: Top-level keys of a successful body that may carry a failure, whatever the source:
#: an error object, a failed status. Sources add their own (``Source.body_keys``).
FAILURE_KEYS = ("error", "status")

#: One row per kind, for what an SDK's class or a fallback says.
ROW_OF: dict[ErrorKind, Row] = {kind: Row(kind) for kind in ErrorKind}


class Tables:
    """Every source's rows, merged, as the classifier reads them."""

    __slots__ = (
        "anchored_phrases",
        "body_keys",
        "body_markers",
        "codes",
        "content_filters",
        "header_names",
        "hints",
        "mark_header_names",
        "mark_headers",
        "mark_key_names",
        "mark_keys",
        "mark_phrases",
        "mark_top_key_names",
        "mark_top_keys",
        "mark_top_sets",
        "mark_value_index",
        "mark_value_names",
        "mark_values",
        "marked_codes",
        "nested",
        "phrases",
        "phrases_of",
        "refine",
        "refiners",
        "shapes",
        "sources",
        "statuses",
        "types",
        "unwrappers",
    )

    def __init__(self, sources: tuple[Source, ...]) -> None:
        self.sources = sources
        #: lower-cased code -> (row, source name); the first source that lists a code wins
        self.codes: dict[str, tuple[Row, str]] = {}
        #: a code exactly as a marking source writes it -> that source's name
        self.marked_codes: dict[str, str] = {}
        self.types: dict[str, Row] = {}
        self.statuses: dict[int, Row] = {}
        phrases: list[tuple[str, Row]] = []
        hints: list[tuple[str, Row]] = []
        for source in sources:
            for code, row in source.codes.items():
                self.codes.setdefault(code.lower(), (row, source.name))
                if source.marked_codes:
                    self.marked_codes.setdefault(code, source.name)
            for type_, row in source.types.items():
                self.types.setdefault(type_.lower(), row)
            for status, row in source.statuses.items():
                self.statuses.setdefault(status, row)
            phrases.extend(source.phrases.items())
            hints.extend(source.hints.items())
        self.phrases = _ordered(phrases, PHRASE_ORDER)
        #: the same, each with its anchor: its longest word that spaces bound inside it
        #: (present as a whole word in any text that holds the phrase), or None
        self.anchored_phrases = tuple(
            (needle, row, _anchor(needle)) for needle, row in self.phrases
        )
        #: the phrases of each kind, in the same order
        phrases_of: dict[ErrorKind, list[tuple[str, Row]]] = {}
        for needle, row in self.phrases:
            phrases_of.setdefault(row.kind, []).append((needle, row))
        self.phrases_of = {kind: tuple(found) for kind, found in phrases_of.items()}
        self.hints = _ordered(hints, HINT_ORDER)
        #: per kind, the phrases that refine the retryability a code of that kind left open
        refiners: dict[ErrorKind, list[tuple[str, bool]]] = {}
        for needle, row in self.phrases:
            if row.retryable is not None:
                refiners.setdefault(row.kind, []).append((needle, row.retryable))
        self.refiners = {kind: tuple(found) for kind, found in refiners.items()}
        self.mark_headers = tuple((h, s.name) for s in sources for h in sorted(s.mark_headers))
        self.mark_keys = tuple((k, s.name) for s in sources for k in sorted(s.mark_keys))
        self.mark_header_names = frozenset(h for h, _ in self.mark_headers)
        self.mark_key_names = frozenset(k for k, _ in self.mark_keys)
        #: (key, the values that mark, source) for the error object
        self.mark_values = tuple(
            (k, v, s.name) for s in sources for k, v in sorted(s.mark_values.items())
        )
        self.mark_value_names = frozenset(k for k, _, _ in self.mark_values)
        #: {key: {value: source}}: the same, looked up at once (the first source wins)
        value_index: dict[str, dict[str, str]] = {}
        for key, values, name in self.mark_values:
            by_value = value_index.setdefault(key, {})
            for value in sorted(values):
                by_value.setdefault(value, name)
        self.mark_value_index = value_index
        #: (key, the values that mark or None for any, source) for the top level of a body
        self.mark_top_keys = tuple(
            [(k, None, s.name) for s in sources for k in sorted(s.mark_top_keys)]
            + [(k, v, s.name) for s in sources for k, v in sorted(s.mark_top_values.items())]
        )
        self.mark_top_key_names = frozenset(k for k, _, _ in self.mark_top_keys)
        #: {number of keys: ((exact set of top-level keys, source), ...)}
        top_sets: dict[int, list[tuple[frozenset[str], str]]] = {}
        for s in sources:
            for exact in sorted(s.mark_top_sets, key=sorted):
                top_sets.setdefault(len(exact), []).append((exact, s.name))
        self.mark_top_sets = {size: tuple(found) for size, found in top_sets.items()}
        self.mark_phrases = tuple((p, s.name) for s in sources for p in s.mark_phrases)
        self.unwrappers = tuple(s.unwrap for s in sources if s.unwrap is not None)
        self.shapes = tuple(reader for s in sources for reader in s.shapes)
        self.nested = tuple(reader for s in sources for reader in s.nested)
        #: per kind, the readers that refine its retryability from the words
        refine: dict[ErrorKind, list[Refine]] = {}
        for s in sources:
            for kind, readers in s.refine.items():
                refine.setdefault(kind, []).extend(readers)
        self.refine = {kind: tuple(found) for kind, found in refine.items()}
        self.content_filters = tuple(
            (s.name, s.content_filter) for s in sources if s.content_filter is not None
        )
        #: the headers an answer's reading keeps: the decision headers and every mark
        self.header_names = SIGNAL_HEADERS | {h for h, _ in self.mark_headers}
        #: top-level keys of a successful body that may carry a failure, and their bytes
        keys = set(FAILURE_KEYS)
        for source in sources:
            if source.body_keys is not None:
                keys.update(source.body_keys())
        self.body_keys = frozenset(keys)
        self.body_markers = (*(f'"{key}"'.encode() for key in sorted(keys)), b'"failed"')


def _anchor(needle: str) -> str | None:
    """The longest word of *needle* with a space on each side inside it, else ``None``."""
    inner = needle.split(" ")[1:-1]
    return max(inner, key=len) if inner and max(map(len, inner)) > 0 else None


def _ordered(
    rows: list[tuple[str, Row]], order: tuple[ErrorKind, ...]
) -> tuple[tuple[str, Row], ...]:
    rank = {kind: at for at, kind in enumerate(order)}
    return tuple(sorted(rows, key=lambda item: rank.get(item[1].kind, len(order))))


_added: list[Source] = []
_builtin: list[Source] = []
_tables: list[Tables] = []  # the current merged tables, once built
_lock = threading.RLock()


def _load_builtin() -> None:
    if _builtin:
        return
    loaded = [importlib.import_module(name).SOURCE for name in BUILTIN]
    _builtin[:] = loaded


def sources() -> tuple[Source, ...]:
    """Every source, in order of precedence: registered ones (latest first), then built-in."""
    with _lock:
        _load_builtin()
        return (*_added, *_builtin)


#: The merged tables once built (``None`` until then, and after a change): what the
#: reading path reads, as ``CURRENT or tables()``, without a call.
CURRENT: Tables | None = None


def tables() -> Tables:
    """The merged tables of every source (built on first use, rebuilt after a change)."""
    global CURRENT
    if _tables:
        return _tables[0]
    with _lock:
        if not _tables:
            _tables.append(Tables(sources()))
            CURRENT = _tables[0]
        return _tables[0]


def register_source(source: Source) -> None:
    """Read answers with *source*'s rows, marks and readers, before every other source's.

    Registering a source with the name of one already registered replaces it. A
    family of OpenAI-compatible servers is a module with a ``SOURCE`` and a call
    of this function.
    """
    with _lock:
        _added[:] = [s for s in _added if s.name != source.name]
        _added.insert(0, source)
        _forget()


def unregister_source(name: str) -> None:
    """Forget the source registered under *name* (built-in sources stay)."""
    with _lock:
        _added[:] = [s for s in _added if s.name != name]
        _forget()


def changed() -> None:
    """Rebuild the merged tables at next use: a source's readers changed what they know."""
    with _lock:
        _forget()


def _forget() -> None:
    global CURRENT
    CURRENT = None
    _tables.clear()


def content_filter(body: Any) -> tuple[Any, ...]:
    """The content-filter verdicts in *body*, from the first source that finds any."""
    for _, reader in tables().content_filters:
        found = reader(body)
        if found:
            return found
    return ()


class _KindsView(Mapping[Any, ErrorKind]):
    """A read-only view of one column of the merged tables: key -> kind."""

    def __init__(self, column: str) -> None:
        self._column = column

    def _table(self) -> Mapping[Any, ErrorKind]:
        current = tables()
        if self._column == "codes":
            return {code: row.kind for code, (row, _) in current.codes.items()}
        return {status: row.kind for status, row in current.statuses.items()}

    def __getitem__(self, key: Any) -> ErrorKind:
        return self._table()[key.lower() if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return repr(self._table())


#: Every source's codes (lower case) and the kind each means: a view of the merged rows.
CODE_KINDS: Mapping[str, ErrorKind] = _KindsView("codes")
#: What each HTTP status means when nothing more specific was said: a view of the merged rows.
STATUS_KINDS: Mapping[int, ErrorKind] = _KindsView("statuses")
