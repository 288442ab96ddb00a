"""``python -m compat scan``: find the legacy error module in a code base, and fix it.

It reads Python files with :mod:`ast` and reports every use of ``openai.error``
(openai<1): imports in all their spellings, ``except`` clauses (tuples
included), ``isinstance``/``issubclass`` checks, ``raise``, other references,
and the legacy attributes read from a caught error (``e.http_status``...). For
each it says what the code does today and what it becomes on v1 and with compat.

``--fix`` rewrites the module to :mod:`compat.legacy` (same names, same meaning,
catching the v1+ SDK's errors and compat's): only the spans that name the
module change, so formatting and comments stay as they were, and a second run
changes nothing.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import os
import sys
import tokenize
from collections.abc import Iterator
from typing import Any

import attrs

from compat._legacy_errors import LEGACY_ATTRIBUTES, NAMES

#: Per legacy name: what it caught, its v1+ counterpart, its compat counterpart.
MEANING: dict[str, tuple[str, str, str]] = {
    "OpenAIError": ("every failure the SDK reported", "openai.OpenAIError", "compat.LLMError"),
    "APIError": (
        "any status without a class of its own (500, 502, 422, ...), a stream's error event",
        "openai.APIStatusError / openai.InternalServerError (500) / openai.APIError",
        "compat.ServerError (compat.LLMError for the rest)",
    ),
    "TryAgain": ("409: the model is still loading", "openai.ConflictError", "compat.ConflictError"),
    "Timeout": ("the request timed out", "openai.APITimeoutError", "compat.APITimeoutError"),
    "APIConnectionError": (
        "the connection failed",
        "openai.APIConnectionError (also the parent of APITimeoutError)",
        "compat.APIConnectionError",
    ),
    "InvalidRequestError": (
        "400, 404 and 415: the request was wrong",
        "openai.BadRequestError / openai.NotFoundError / openai.APIStatusError (415)",
        "compat.InvalidRequestError / compat.NotFoundError (compat.ContextLengthExceededError, compat.ContentFilteredError)",
    ),
    "AuthenticationError": ("401", "openai.AuthenticationError", "compat.AuthenticationError"),
    "PermissionError": ("403", "openai.PermissionDeniedError", "compat.PermissionDeniedError"),
    "RateLimitError": (
        "every 429, an exhausted quota included",
        "openai.RateLimitError (quota included)",
        "compat.RateLimitError (wait and retry) / compat.QuotaExceededError (stop: no money left)",
    ),
    "ServiceUnavailableError": (
        "503",
        "openai.InternalServerError (status_code 503)",
        "compat.OverloadedError",
    ),
    "InvalidAPIType": (
        "an unknown api_type (client configuration)",
        "none: choose openai.OpenAI or openai.AzureOpenAI",
        "none",
    ),
}
ATTRIBUTE_MEANING: dict[str, tuple[str, str]] = {
    "http_status": ("{v}.status_code", "{v}.status ({v}.http_status works)"),
    "http_body": ("{v}.response.text", "{v}.body ({v}.http_body works)"),
    "json_body": (
        "{v}.response.json() ({v}.body is only the error object)",
        "{v}.body ({v}.json_body works)",
    ),
    "headers": ("{v}.response.headers", "{v}.headers"),
    "user_message": ("{v}.message", "{v}.message ({v}.user_message works)"),
    "code": ("{v}.code", "{v}.code"),
    "request_id": ("{v}.request_id", "{v}.request_id"),
    "param": ("{v}.param", "{v}.param"),
    "error": ("{v}.body", "{v}.body ({v}.error works)"),
    "organization": (
        '{v}.response.headers.get("openai-organization")',
        '{v}.headers.get("openai-organization")',
    ),
}
SKIP_DIRS = {
    ".git",
    ".hg",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    "site-packages",
    "build",
    "dist",
}


@attrs.frozen
class Finding:
    path: str
    line: int
    column: int
    what: str  # import, except, isinstance, raise, reference, attribute
    code: str
    today: str
    v1: str
    compat: str


@attrs.frozen
class _Edit:
    start: tuple[int, int]  # (line, utf-8 column)
    end: tuple[int, int]
    text: str


class _Visitor(ast.NodeVisitor):
    def __init__(self, source: str, path: str) -> None:
        self.source = source
        self.path = path
        self.findings: list[Finding] = []
        self.edits: list[_Edit] = []
        self.openai_names: set[str] = set()  # names bound to the openai package
        self.module_names: set[str] = set()  # names bound to openai.error
        self.class_names: dict[str, str] = {}  # local name -> legacy class name
        self.caught: list[set[str]] = []  # names of caught legacy errors, innermost last
        self.context: list[str] = []
        self.needs_import = False
        self.last_openai_import: ast.stmt | None = None
        self.has_compat_legacy_import = False

    # ------------------------------------------------------------ helpers

    def _segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ""

    def _add(self, node: ast.AST, what: str, name: str | None, code: str | None = None) -> None:
        today, v1, compat = MEANING.get(
            name or "", ("the legacy error module", "openai's exceptions", "compat.legacy")
        )
        if name and what != "import":
            compat = f"{compat}; compat.legacy.{name} keeps today's meaning"
        self.findings.append(
            Finding(
                self.path,
                getattr(node, "lineno", 0),
                getattr(node, "col_offset", 0) + 1,
                what,
                (code if code is not None else self._segment(node)).strip(),
                today,
                v1,
                compat,
            )
        )

    def _legacy_name(self, node: ast.AST) -> tuple[str, ast.AST | None] | None:
        """``(legacy class name or "", the openai.error node to rewrite)`` when *node* names one."""
        if isinstance(node, ast.Name) and node.id in self.class_names:
            return self.class_names[node.id], None
        if isinstance(node, ast.Attribute):
            value = node.value
            if isinstance(value, ast.Name) and value.id in self.module_names:
                return node.attr, None
            if self._is_openai_error(value):
                return node.attr, value
        if self._is_openai_error(node):
            return "", node
        return None

    def _is_openai_error(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "error"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.openai_names
        )

    def _rewrite_openai_error(self, node: Any) -> None:
        assert node.end_lineno is not None
        assert node.end_col_offset is not None
        self.edits.append(
            _Edit(
                (node.lineno, node.col_offset),
                (node.end_lineno, node.end_col_offset),
                "compat.legacy",
            )
        )
        self.needs_import = True

    def _targets(self, node: ast.AST | None) -> Iterator[ast.AST]:
        if isinstance(node, ast.Tuple):
            for element in node.elts:
                yield from self._targets(element)
        elif node is not None:
            yield node

    # ------------------------------------------------------------ imports

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "openai":
                self.openai_names.add(alias.asname or "openai")
                self.last_openai_import = node
            elif alias.name == "compat.legacy":
                self.has_compat_legacy_import = True
            elif alias.name == "openai.error":
                self._add(
                    node,
                    "import",
                    None,
                    f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""),
                )
                span = self._alias_span(node, alias)
                if alias.asname:
                    self.module_names.add(alias.asname)
                    if span:
                        self.edits.append(
                            _Edit(span[0], span[1], f"compat.legacy as {alias.asname}")
                        )
                else:
                    # `import openai.error` also binds `openai`: keep it bound unless an
                    # earlier import did.
                    bound = "openai" in self.openai_names
                    self.openai_names.add("openai")
                    self.last_openai_import = node
                    if span:
                        text = "compat.legacy" if bound else "openai, compat.legacy"
                        self.edits.append(_Edit(span[0], span[1], text))
                    self.has_compat_legacy_import = True

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            return
        if node.module == "openai.error":
            self._add(node, "import", None)
            for alias in node.names:
                if alias.name == "*":
                    for name in NAMES:
                        self.class_names[name] = name
                else:
                    self.class_names[alias.asname or alias.name] = alias.name
            span = self._module_span(node, "openai.error")
            if span:
                self.edits.append(_Edit(span[0], span[1], "compat.legacy"))
        elif node.module == "openai" and any(a.name == "error" for a in node.names):
            self._add(node, "import", None)
            for alias in node.names:
                if alias.name == "error":
                    self.module_names.add(alias.asname or "error")
            self._rewrite_from_openai(node)

    def _rewrite_from_openai(self, node: ast.ImportFrom) -> None:
        """``from openai import error [as x], ...`` -> compat.legacy, token by token.

        When ``error`` is all it imports, ``openai`` becomes ``compat`` and ``error``
        becomes ``legacy as error`` in place. Otherwise ``error`` (with one comma) leaves
        the statement, a line left empty goes with it, and ``from compat import legacy as
        error`` follows on the next line. Comments stay where they were.
        """
        text = self._segment(node)
        tokens = [
            t for t in _tokens(text) if t.type in (tokenize.NAME, tokenize.OP, tokenize.COMMENT)
        ]
        at = next((i for i, t in enumerate(tokens) if t.string == "import"), None)
        if at is None or len(tokens) < 2:
            return
        # Each imported name: [name token, last token (the alias when there is one), comma].
        items: list[list[Any]] = []
        alias_next = False
        for token in tokens[at + 1 :]:
            if token.type == tokenize.COMMENT or token.string in ("(", ")"):
                continue
            if token.string == ",":
                items[-1][2] = token
            elif token.string == "as":
                alias_next = True
            elif alias_next:
                items[-1][1], alias_next = token, False
            else:
                items.append([token, token, None])
        if [t[0].string for t in items] != [a.name for a in node.names]:
            return  # not the statement's shape as read: leave it alone

        def position(point: tuple[int, int]) -> tuple[int, int]:
            return _shift(node, point, text)

        if all(a.name == "error" for a in node.names):
            module = tokens[1]
            self.edits.append(_Edit(position(module.start), position(module.end), "compat"))
            for (name, _, _), alias in zip(items, node.names):
                replacement = "legacy" if alias.asname else "legacy as error"
                self.edits.append(_Edit(position(name.start), position(name.end), replacement))
            return
        kept = [i for i, a in enumerate(node.names) if a.name != "error"]
        # A run of removed names after the last kept one, without a trailing comma, takes
        # the comma *before* each name; every other removed name takes its own.
        backwards = items[-1][2] is None
        for i, alias in enumerate(node.names):
            if alias.name != "error":
                continue
            name, last, comma = items[i]
            if backwards and i > kept[-1]:
                before = items[i - 1][2]
                between = tokens[tokens.index(before) + 1 : tokens.index(name)]
                if any(t.type == tokenize.COMMENT for t in between):
                    self.edits.append(_Edit(position(before.start), position(before.end), ""))
                    self._delete(position(name.start), position(last.end))
                else:
                    self._delete(position(before.start), position(last.end))
            else:
                start, end = name.start, comma.end
                following = tokens[tokens.index(comma) + 1 : tokens.index(comma) + 2]
                if following and following[0].start[0] == end[0]:
                    if following[0].string == ")":  # (a, error,) -> (a,)
                        previous = tokens[tokens.index(name) - 1]
                        if previous.end[0] == start[0]:
                            start = previous.end
                    else:  # error, b -> b
                        end = following[0].start
                self._delete(position(start), position(end))
        statements = [
            f"from compat import legacy as {a.asname or 'error'}"
            for a in node.names
            if a.name == "error"
        ]
        assert node.end_lineno is not None
        self.edits.append(self._after_line(node.end_lineno, node.col_offset, statements))

    def _delete(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        """Delete from *start* to *end* (file positions), with the whole line when nothing
        but indentation would be left of it."""
        lines = self.lines
        head = lines[start[0] - 1].encode("utf-8")[: start[1]]
        tail = lines[end[0] - 1].encode("utf-8")[end[1] :]
        if not head.strip() and not tail.strip():
            start, end = (start[0], 0), (end[0] + 1, 0)
        elif not head.strip() and tail.lstrip().startswith(b"#"):
            end = (end[0], end[1] + len(tail) - len(tail.lstrip()))  # the comment keeps its place
        self.edits.append(_Edit(start, end, ""))

    def _after_line(self, lineno: int, indent: int, statements: list[str]) -> _Edit:
        """Statements to insert after line *lineno* (after any comment that ends it)."""
        line = self.lines[lineno - 1]
        body = line.rstrip("\r\n")
        newline = line[len(body) :] or "\n"
        end = (lineno, len(body.encode("utf-8")))
        return _Edit(end, end, "".join(f"{newline}{' ' * indent}{s}" for s in statements))

    @functools.cached_property
    def lines(self) -> list[str]:
        return _lines(self.source)

    def _alias_span(
        self, node: ast.Import, alias: ast.alias
    ) -> tuple[tuple[int, int], tuple[int, int]] | None:
        if getattr(alias, "end_lineno", None) is not None:  # Python 3.10+
            return (alias.lineno, alias.col_offset), (alias.end_lineno, alias.end_col_offset)  # type: ignore[return-value]
        return self._module_span(node, alias.name, with_alias=alias.asname)

    def _module_span(
        self, node: ast.stmt, dotted: str, with_alias: str | None = None
    ) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Where the dotted module name is written in *node* (by tokens: comments never match)."""
        text = self._segment(node)
        parts = dotted.split(".")
        tokens = [t for t in _tokens(text) if t.type in (tokenize.NAME, tokenize.OP)]
        for index in range(len(tokens)):
            window = tokens[index : index + 2 * len(parts) - 1]
            if [t.string for t in window] == [p for part in parts for p in (part, ".")][:-1]:
                end_token = window[-1]
                if with_alias:
                    after = tokens[index + len(window) : index + len(window) + 2]
                    if len(after) == 2 and after[0].string == "as":
                        end_token = after[1]
                start = _shift(node, window[0].start, text)
                end = _shift(node, end_token.end, text)
                return start, end
        return None

    # ------------------------------------------------------------ uses

    def visit_Try(self, node: ast.Try) -> None:
        for statement in node.body:
            self.visit(statement)
        for handler in node.handlers:
            self.visit_ExceptHandler(handler)
        for statement in node.orelse + node.finalbody:
            self.visit(statement)

    def visit_TryStar(self, node: Any) -> None:  # except* (Python 3.11+)
        self.visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        caught = False
        for target in self._targets(node.type):
            found = self._legacy_name(target)
            if found is None:
                self.visit(target)
                continue
            name, rewrite = found
            caught = True
            self._add(target, "except", name, f"except {self._segment(target)}")
            if rewrite is not None:
                self._rewrite_openai_error(rewrite)
        self.caught.append({node.name} if caught and node.name else set())
        for statement in node.body:
            self.visit(statement)
        self.caught.pop()

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if (
            isinstance(function, ast.Name)
            and function.id in ("isinstance", "issubclass")
            and len(node.args) == 2
        ):
            self.visit(node.args[0])
            for target in self._targets(node.args[1]):
                found = self._legacy_name(target)
                if found is None:
                    self.visit(target)
                    continue
                name, rewrite = found
                self._add(
                    target, "isinstance", name, f"{function.id}(..., {self._segment(target)})"
                )
                if rewrite is not None:
                    self._rewrite_openai_error(rewrite)
            for keyword in node.keywords:
                self.visit(keyword)
            return
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        self.context.append("raise")
        self.generic_visit(node)
        self.context.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        found = self._legacy_name(node)
        if found is not None:
            name, rewrite = found
            self._add(node, "raise" if self.context[-1:] == ["raise"] else "reference", name)
            if rewrite is not None:
                self._rewrite_openai_error(rewrite)
            return
        if (
            isinstance(node.value, ast.Name)
            and node.attr in LEGACY_ATTRIBUTES
            and any(node.value.id in names for names in self.caught)
        ):
            v1, compat = ATTRIBUTE_MEANING[node.attr]
            self.findings.append(
                Finding(
                    self.path,
                    node.lineno,
                    node.col_offset + 1,
                    "attribute",
                    self._segment(node),
                    f"the legacy error's {node.attr}",
                    v1.format(v=node.value.id),
                    f"{compat.format(v=node.value.id)}; kept as it is by --fix",
                )
            )
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in self.class_names:
            self._add(
                node,
                "raise" if self.context[-1:] == ["raise"] else "reference",
                self.class_names[node.id],
            )


def _lines(source: str) -> list[str]:
    """*source*'s lines as Python counts them (\\n, \\r\\n, \\r; not form feeds), with their ends."""
    return io.StringIO(source, newline="").readlines() or [""]


def _tokens(text: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return []


def _shift(node: ast.stmt, position: tuple[int, int], text: str) -> tuple[int, int]:
    """A token position inside *node*'s segment as a (line, utf-8 column) in the file."""
    row, col = position
    line_text = text.split("\n")[row - 1]
    col_bytes = len(line_text[:col].encode("utf-8"))
    if row == 1:
        return node.lineno, node.col_offset + col_bytes
    return node.lineno + row - 1, col_bytes


def scan_source(source: str, path: str = "<source>") -> tuple[list[Finding], str]:
    """The findings in *source*, and *source* rewritten to compat.legacy."""
    tree = ast.parse(source, filename=path)
    visitor = _Visitor(source, path)
    visitor.visit(tree)
    fixed = _apply(source, visitor)
    findings = sorted(visitor.findings, key=lambda f: (f.line, f.column))
    return findings, fixed


def _apply(source: str, visitor: _Visitor) -> str:
    edits = list(dict.fromkeys(visitor.edits))
    if visitor.needs_import and not visitor.has_compat_legacy_import:
        anchor = visitor.last_openai_import
        if anchor is not None and anchor.end_lineno is not None:
            edits.append(
                visitor._after_line(anchor.end_lineno, anchor.col_offset, ["import compat.legacy"])
            )
    if not edits:
        return source
    lines = visitor.lines
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: tuple[int, int]) -> int:
        row, col = position
        line = lines[row - 1] if row - 1 < len(lines) else ""
        return starts[row - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))

    out = source
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        out = out[: offset(edit.start)] + edit.text + out[offset(edit.end) :]
    return out


def python_files(paths: list[str]) -> Iterator[str]:
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(
                    d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                )
                for name in sorted(files):
                    if name.endswith(".py"):
                        yield os.path.join(root, name)
        else:
            yield path


def _read(path: str) -> tuple[str, str]:
    with open(path, "rb") as handle:
        raw = handle.read()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    return raw.decode(encoding), encoding


def run(paths: list[str], fix: bool, as_json: bool, out: Any = sys.stdout) -> int:
    """The ``scan`` command: 0 when nothing is found (or all was fixed), 1 when
    something is, 2 when a file could not be read."""
    findings: list[Finding] = []
    unreadable: list[str] = []
    changed: list[str] = []
    for path in python_files(paths):
        try:
            source, encoding = _read(path)
            found, fixed = scan_source(source, path)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
            unreadable.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        findings += found
        if fix and fixed != source:
            with open(path, "w", encoding=encoding, newline="") as handle:
                handle.write(fixed)
            changed.append(path)
    remaining = findings
    if fix:
        remaining = []
        for path in changed:
            source, _ = _read(path)
            remaining += scan_source(source, path)[0]
    if as_json:
        document = {
            "findings": [attrs.asdict(f) for f in findings],
            "count": len(findings),
            "fixed_files": changed,
            "remaining": len(remaining),
            "unreadable": unreadable,
        }
        print(json.dumps(document, indent=2), file=out)
    else:
        for f in findings:
            print(f"{f.path}:{f.line}:{f.column}: {f.what}: {f.code}", file=out)
            print(f"    today:  {f.today}", file=out)
            print(f"    v1:     {f.v1}", file=out)
            print(f"    compat: {f.compat}", file=out)
        for problem in unreadable:
            print(f"could not scan {problem}", file=out)
        files = len({f.path for f in findings})
        summary = f"{len(findings)} use(s) of openai.error in {files} file(s)"
        if fix:
            summary += (
                f"; rewrote {len(changed)} file(s) to compat.legacy, {len(remaining)} use(s) left"
            )
        print(summary, file=out)
    if unreadable and not remaining:
        return 2
    return 1 if remaining else 0
