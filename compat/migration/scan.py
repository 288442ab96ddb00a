"""``python -m compat scan``: find what a code base written for openai<1 must change, and fix
the error handling.

It reads Python files with :mod:`ast` and reports:

* every use of ``openai.error``: imports in all their spellings, ``except``
  clauses (tuples, and names bound to tuples of legacy classes: a variable or a
  parameter's default), ``isinstance``/``issubclass`` checks, ``raise``, other
  references, and the legacy attributes read from a caught error (``e.http_status``);
* ``except`` chains whose order means something else once the legacy names are
  replaced by the v1 SDK's (in v1, ``openai.APIError`` is the parent of
  ``RateLimitError``, ``BadRequestError`` and ``APIConnectionError``, and
  ``APIConnectionError`` the parent of ``APITimeoutError``);
* branches on a text that openai 0.28.1 wrote itself (``"connection aborted" in
  str(e)``), which reads differently on v1;
* the legacy API around the errors (``openai.ChatCompletion.create``,
  ``openai.api_key = ...``, ``engine=``), with its v1 equivalent.

For each it says what the code does today and what it becomes on v1 and with
compat; where the advice is an expression, ``v1_expr`` and ``compat_expr`` hold it
ready to run (the tests run every one against real SDK exceptions).

``--fix`` rewrites the error module to :mod:`compat.legacy` (same names, same
meaning, catching the v1+ SDK's errors and compat's): only the spans that name
the module change, so formatting and comments stay as they were, and a second
run changes nothing. The API calls, the texts and the chains are reported only.
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

from compat._legacy_errors import NAMES


@attrs.frozen
class ClassAdvice:
    """What a legacy class caught, and what catches the same on v1 and with compat."""

    today: str
    #: The v1 classes to catch (names under ``openai.``), in the order to write them.
    v1_catch: tuple[str, ...]
    #: A condition on the caught error (``{v}`` is its name), when the classes catch more.
    v1_condition: str | None
    v1_note: str
    compat: str
    #: What the legacy class also caught that those classes do not: a test on ``{v}``,
    #: and what it is.
    v1_also: tuple[str, str] | None = None

    def v1_text(self) -> str:
        if not self.v1_catch:
            return self.v1_note
        names = ", ".join(f"openai.{c}" for c in self.v1_catch)
        caught = names if len(self.v1_catch) == 1 else f"({names})"
        condition = f" and {self.v1_condition.format(v='e')}" if self.v1_condition else ""
        also = f", or {self.v1_also[0].format(v='e')} ({self.v1_also[1]})" if self.v1_also else ""
        note = f"; {self.v1_note}" if self.v1_note else ""
        return f"{caught}{condition}{also}{note}"

    def v1_expr(self, v: str) -> str:
        """A test, true where the legacy class would have caught ``v``."""
        if not self.v1_catch:
            return "False"
        names = ", ".join(f"openai.{c}" for c in self.v1_catch)
        test = f"isinstance({v}, ({names},))"
        if self.v1_condition:
            test = f"({test} and {self.v1_condition.format(v=v)})"
        if self.v1_also:
            test = f"{test} or ({self.v1_also[0].format(v=v)})"
        return test


_STATUSES_WITH_CLASSES = "(400, 401, 403, 404, 409, 415, 429, 503)"

#: Per legacy name: what it caught, and its v1 and compat counterparts.
MEANING: dict[str, ClassAdvice] = {
    "OpenAIError": ClassAdvice(
        "every failure the SDK reported", ("OpenAIError",), None, "", "compat.LLMError"
    ),
    "APIError": ClassAdvice(
        "a status without a class of its own (500, 502, 422, ...), an answer that could "
        "not be read (an HTML page, a body without an error object), a stream's error event",
        ("APIStatusError",),
        f"{{v}}.status_code not in {_STATUSES_WITH_CLASSES}",
        "after the handlers of the statuses with classes of their own: openai.APIStatusError "
        "is the parent of every v1 status error (BadRequestError, RateLimitError, ...), and "
        "openai.APIError of every v1 error, APIConnectionError and APITimeoutError included",
        "compat.ServerError (compat.LLMError for the rest)",
        (
            "isinstance({v}, openai.APIError) and not isinstance({v}, (openai.APIStatusError, "
            "openai.APIConnectionError))",
            "a stream's error event",
        ),
    ),
    "TryAgain": ClassAdvice(
        "409: the model is still loading", ("ConflictError",), None, "", "compat.ConflictError"
    ),
    "Timeout": ClassAdvice(
        "the request timed out", ("APITimeoutError",), None, "", "compat.APITimeoutError"
    ),
    "APIConnectionError": ClassAdvice(
        "the connection failed (not a timeout)",
        ("APIConnectionError",),
        "not isinstance({v}, openai.APITimeoutError)",
        "in v1 it is also the parent of APITimeoutError",
        "compat.APIConnectionError",
    ),
    "InvalidRequestError": ClassAdvice(
        "400, 404 and 415 answered with an error object: the request was wrong",
        ("BadRequestError", "NotFoundError"),
        None,
        "",
        "compat.InvalidRequestError / compat.NotFoundError (compat.ContextLengthExceededError, "
        "compat.ContentFilteredError)",
        (
            "isinstance({v}, openai.APIStatusError) and {v}.status_code == 415",
            "415 has no class of its own",
        ),
    ),
    "AuthenticationError": ClassAdvice(
        "401", ("AuthenticationError",), None, "", "compat.AuthenticationError"
    ),
    "PermissionError": ClassAdvice(
        "403", ("PermissionDeniedError",), None, "", "compat.PermissionDeniedError"
    ),
    "RateLimitError": ClassAdvice(
        "every 429 answered with an error object, an exhausted quota included",
        ("RateLimitError",),
        None,
        'quota included: e.code == "insufficient_quota"',
        "compat.RateLimitError (wait and retry) / compat.QuotaExceededError (stop: no money left)",
    ),
    "ServiceUnavailableError": ClassAdvice(
        "503, whatever the body",
        ("InternalServerError",),
        "{v}.status_code == 503",
        "InternalServerError is every 5xx",
        "compat.OverloadedError",
    ),
    "InvalidAPIType": ClassAdvice(
        "an unknown api_type (client configuration)",
        (),
        None,
        "none: choose openai.OpenAI or openai.AzureOpenAI",
        "none",
    ),
}


@attrs.frozen
class AttributeAdvice:
    """How a legacy attribute reads on v1 (``{v}`` is the error's name)."""

    v1_expr: str
    v1_note: str
    compat_note: str


_RESPONSE = 'getattr({v}, "response", None)'
ATTRIBUTE_ADVICE: dict[str, AttributeAdvice] = {
    "http_status": AttributeAdvice(
        'getattr({v}, "status_code", None)',
        "timeouts and connection errors have no status_code",
        "compat.LLMError: {v}.status",
    ),
    "http_body": AttributeAdvice(
        f'getattr({_RESPONSE}, "text", None)', "the answer's text", "compat.LLMError: {v}.body"
    ),
    "json_body": AttributeAdvice(
        'getattr({v}, "body", None)',
        'only the body\'s error object: {v}.json_body["error"] is {v}.body '
        "(the whole body: {v}.response.json())",
        "compat.LLMError: {v}.body",
    ),
    "headers": AttributeAdvice(
        f'getattr({_RESPONSE}, "headers", {{{{}}}})',
        "httpx's headers, case-insensitive",
        "compat.LLMError: {v}.headers",
    ),
    "user_message": AttributeAdvice(
        '{v}.body.get("message") if isinstance(getattr({v}, "body", None), dict) else str({v})',
        "v1's {v}.message and str({v}) start with 'Error code: <status> - '",
        "compat.LLMError: {v}.message",
    ),
    "_message": AttributeAdvice(
        '{v}.body.get("message") if isinstance(getattr({v}, "body", None), dict) else str({v})',
        "v1's {v}.message and str({v}) start with 'Error code: <status> - '",
        "compat.LLMError: {v}.message",
    ),
    "code": AttributeAdvice(
        'getattr({v}, "code", None)',
        "v1 reads the body's code on every status (0.28.1 kept it for 400, 404 and 415 only)",
        "compat.LLMError: {v}.code",
    ),
    "request_id": AttributeAdvice(
        'getattr({v}, "request_id", None)',
        "x-request-id (0.28.1 read request-id, which OpenAI does not send)",
        "compat.LLMError: {v}.request_id",
    ),
    "param": AttributeAdvice('getattr({v}, "param", None)', "", "compat.LLMError: {v}.param"),
    "error": AttributeAdvice(
        'getattr({v}, "body", None)',
        'a plain dict, without the "message" and "type" 0.28.1 always put in: '
        '{v}.error.type becomes ({v}.body or {{}}).get("type")',
        'compat.LLMError: {v}.body["error"]',
    ),
    "organization": AttributeAdvice(
        f'getattr({_RESPONSE}, "headers", {{{{}}}}).get("openai-organization")',
        "",
        'compat.LLMError: {v}.headers.get("openai-organization")',
    ),
    "should_retry": AttributeAdvice(
        "False", "v1 does not say; 0.28.1 always said False", "compat.LLMError: {v}.retryable"
    ),
}
SCANNED_ATTRIBUTES = frozenset(ATTRIBUTE_ADVICE)


@attrs.frozen
class TextAdvice:
    """A text openai 0.28.1 wrote itself, and what the v1 SDK writes instead."""

    needle: str  # lower case
    today: str
    #: What to look for in v1's ``str(e)`` instead, as v1 writes it (lower-cased when the
    #: code's text is lower case); ``None`` when no text tells, and *v1_test* does.
    v1_text: str | None
    v1_note: str
    #: A test on the error (``{v}``) that replaces the whole comparison.
    v1_test: str | None = None


TEXTS = (
    TextAdvice(
        "error communicating with openai",
        "0.28.1's message for every connection failure",
        "Connection error",
        "v1's str(e) is 'Connection error.'",
    ),
    TextAdvice(
        "connection aborted",
        "0.28.1's text (from requests) for a connection that broke after it was made",
        "Connection error",
        "v1's str(e) is 'Connection error.' for every connection failure; a broken "
        "connection's e.__cause__ is an httpx.ReadError or httpx.RemoteProtocolError",
    ),
    TextAdvice(
        "max retries exceeded",
        "0.28.1's text (from requests) for a connection that could not be made",
        "Connection error",
        "v1's str(e) is 'Connection error.' for every connection failure; one that could "
        "not be made has an httpx.ConnectError for e.__cause__",
    ),
    TextAdvice(
        "failed to establish a new connection",
        "0.28.1's text (from requests) for a connection that could not be made",
        "Connection error",
        "v1's str(e) is 'Connection error.' for every connection failure; one that could "
        "not be made has an httpx.ConnectError for e.__cause__",
    ),
    TextAdvice(
        "read timed out",
        "0.28.1's text (from requests) for a timeout",
        "Request timed out",
        "v1's str(e) is 'Request timed out.'",
    ),
    TextAdvice(
        "the server is overloaded or not ready yet",
        "0.28.1's message for every 503",
        None,
        "v1's str(e) for a 503 is the server's own text, worded differently across v1 "
        "releases; its status tells",
        'getattr({v}, "status_code", None) == 503',
    ),
    TextAdvice(
        "http code ",
        "0.28.1's message for an answer that was not JSON: 'HTTP code <status> from API (<body>)'",
        None,
        "v1's str(e) for a body that is not JSON is the body itself on 1.x and 2.x and "
        "'Error code: <status>' and the body on 3.x; its status tells",
        'getattr({v}, "status_code", None) == {status}',
    ),
    TextAdvice(
        "from api (",
        "0.28.1's message for an answer that was not JSON: 'HTTP code <status> from API (<body>)'",
        "Error code: ",
        "v1's str(e) is 'Error code: <status>' (and the body)",
    ),
    TextAdvice(
        "invalid response object from api",
        "0.28.1's message for a body without an error object",
        "Error code: ",
        "v1's str(e) is 'Error code: <status> - ' and the body",
    ),
    TextAdvice(
        "error occurred while streaming",
        "0.28.1's note after a stream's error event",
        None,
        "v1's str(e) is the event's message alone; the error is an openai.APIError that is "
        "neither a status error nor a connection error",
        "isinstance({v}, openai.APIError) and not isinstance("
        "{v}, (openai.APIStatusError, openai.APIConnectionError))",
    ),
    TextAdvice(
        "no api key provided",
        "0.28.1's message for a missing key",
        "api_key client option must be set",
        "v1 raises openai.OpenAIError when the client is made",
    ),
)


def _status_in(text: str) -> str | None:
    """The HTTP status a 0.28.1 text names ("HTTP code 502 from API"), if it names one."""
    at = text.lower().find("http code ")
    digits = text[at + 10 : at + 13] if at >= 0 else ""
    return digits if len(digits) == 3 and digits.isdigit() else None


def _v1_text(constant: str, advice: TextAdvice) -> str:
    """The code's text, with the part that was 0.28.1's written as v1 writes it."""
    assert advice.v1_text is not None
    lower = constant.lower()
    at = lower.find(advice.needle)
    if at < 0:  # the code's text is a part of 0.28.1's
        text = advice.v1_text
    else:
        text = constant[:at] + advice.v1_text + constant[at + len(advice.needle) :]
    return text.lower() if constant == lower else text


#: The legacy API around the errors, and its v1 equivalent (report only).
API_CALLS: dict[tuple[str, str], str] = {
    ("ChatCompletion", "create"): "client.chat.completions.create(...) (client = openai.OpenAI())",
    ("ChatCompletion", "acreate"): "await client.chat.completions.create(...) (openai.AsyncOpenAI)",
    ("Completion", "create"): "client.completions.create(...)",
    ("Completion", "acreate"): "await client.completions.create(...) (openai.AsyncOpenAI)",
    ("Embedding", "create"): "client.embeddings.create(...)",
    ("Embedding", "acreate"): "await client.embeddings.create(...) (openai.AsyncOpenAI)",
    ("Image", "create"): "client.images.generate(...)",
    ("Moderation", "create"): "client.moderations.create(...)",
    ("Model", "list"): "client.models.list()",
    ("Model", "retrieve"): "client.models.retrieve(...)",
    ("Edit", "create"): "none: the edits endpoint is gone; use client.chat.completions.create",
    ("Audio", "transcribe"): "client.audio.transcriptions.create(...)",
}
API_CLASSES = {cls for cls, _ in API_CALLS}
API_SETTINGS: dict[str, str] = {
    "api_key": "openai.OpenAI(api_key=...)",
    "api_base": "openai.OpenAI(base_url=...) (openai.AzureOpenAI(azure_endpoint=...))",
    "api_type": 'openai.AzureOpenAI(...) for "azure"; openai.OpenAI(...) otherwise',
    "api_version": "openai.AzureOpenAI(api_version=...)",
    "organization": "openai.OpenAI(organization=...)",
    "api_key_path": "none: read the key and pass api_key=...",
    "proxy": "openai.OpenAI(http_client=httpx.Client(proxy=...))",
}
API_KEYWORDS: dict[str, str] = {
    "engine": "model=... (with openai.AzureOpenAI, the deployment's name)",
    "deployment_id": "model=... (with openai.AzureOpenAI, the deployment's name)",
    "request_timeout": "timeout=... (or openai.OpenAI(timeout=...))",
}

# The v1 exception tree, each class with its bases, for reading except chains.
V1_BASES: dict[str, tuple[str, ...]] = {
    "OpenAIError": (),
    "APIError": ("OpenAIError",),
    "APIStatusError": ("APIError", "OpenAIError"),
    "APIConnectionError": ("APIError", "OpenAIError"),
    "APITimeoutError": ("APIConnectionError", "APIError", "OpenAIError"),
    **{
        name: ("APIStatusError", "APIError", "OpenAIError")
        for name in (
            "BadRequestError",
            "AuthenticationError",
            "PermissionDeniedError",
            "NotFoundError",
            "ConflictError",
            "UnprocessableEntityError",
            "RateLimitError",
            "InternalServerError",
        )
    },
}
#: The failures an except chain sorts: (what it is, the legacy class 0.28.1 raised,
#: the v1 class the SDK raises).
SITUATIONS = (
    ("a 400", "InvalidRequestError", "BadRequestError"),
    ("a 404", "InvalidRequestError", "NotFoundError"),
    ("a 401", "AuthenticationError", "AuthenticationError"),
    ("a 403", "PermissionError", "PermissionDeniedError"),
    ("a 409", "TryAgain", "ConflictError"),
    ("a 429", "RateLimitError", "RateLimitError"),
    ("a 503", "ServiceUnavailableError", "InternalServerError"),
    ("a 500", "APIError", "InternalServerError"),
    ("a 422", "APIError", "UnprocessableEntityError"),
    ("a stream's error event", "APIError", "APIError"),
    ("a timeout", "Timeout", "APITimeoutError"),
    ("a connection failure", "APIConnectionError", "APIConnectionError"),
)
CATCH_ALL = frozenset({"Exception", "BaseException"})

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
#: What each kind of finding is, for the summary.
ERROR_KINDS = frozenset({"import", "except", "isinstance", "raise", "reference", "attribute"})


@attrs.frozen
class Finding:
    path: str
    line: int
    column: int
    #: import, except, isinstance, raise, reference, attribute (the error module and
    #: its names); order (an except chain), text (a branch on 0.28.1's text), api.
    what: str
    code: str
    today: str
    v1: str
    compat: str
    #: Where the advice is an expression: the v1 one and the compat one, ready to run
    #: with the names the code uses (``openai`` and ``compat.legacy`` imported).
    v1_expr: str | None = None
    compat_expr: str | None = None


@attrs.frozen
class _Edit:
    start: tuple[int, int]  # (line, utf-8 column)
    end: tuple[int, int]
    text: str


def _legacy_in(
    node: ast.AST | None, resolve: Any, variables: dict[str, tuple[list[str], int]] | None = None
) -> list[str]:
    """The legacy class names *node* holds: a name or an attribute naming one, a tuple
    of them, a sum of tuples, or a variable already known to hold some."""
    if node is None:
        return []
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for element in node.elts for n in _legacy_in(element, resolve, variables)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _legacy_in(node.left, resolve, variables) + _legacy_in(
            node.right, resolve, variables
        )
    found = resolve(node)
    if found is not None and found[0]:
        return [found[0]]
    if variables and isinstance(node, ast.Name) and node.id in variables:
        return list(variables[node.id][0])
    return []


class _Bindings(ast.NodeVisitor):
    """A first pass: the names bound to tuples of legacy classes (``ERRORS = (...)``),
    wherever in the file they are assigned, for ``except ERRORS as e``."""

    def __init__(self) -> None:
        self.openai_names: set[str] = set()
        self.module_names: set[str] = set()
        self.class_names: dict[str, str] = {}
        self.variables: dict[str, tuple[list[str], int]] = {}

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "openai":
                self.openai_names.add(alias.asname or "openai")
            elif alias.name == "openai.error":
                if alias.asname:
                    self.module_names.add(alias.asname)
                else:
                    self.openai_names.add("openai")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            return
        if node.module == "openai.error":
            for alias in node.names:
                if alias.name == "*":
                    self.class_names.update({name: name for name in NAMES})
                else:
                    self.class_names[alias.asname or alias.name] = alias.name
        elif node.module == "openai":
            for alias in node.names:
                if alias.name == "error":
                    self.module_names.add(alias.asname or "error")

    def resolve(self, node: ast.AST) -> tuple[str, None] | None:
        if isinstance(node, ast.Name) and node.id in self.class_names:
            return self.class_names[node.id], None
        if isinstance(node, ast.Attribute):
            value = node.value
            if isinstance(value, ast.Name) and value.id in self.module_names:
                return node.attr, None
            if (
                isinstance(value, ast.Attribute)
                and value.attr == "error"
                and isinstance(value.value, ast.Name)
                and value.value.id in self.openai_names
            ):
                return node.attr, None
        return None

    def _bind(self, target: ast.AST, value: ast.AST | None, line: int) -> None:
        if isinstance(target, ast.Name):
            names = _legacy_in(value, self.resolve, self.variables)
            if names:
                self.variables[target.id] = (names, line)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind(target, node.value, node.lineno)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._bind(node.target, node.value, node.lineno)
        self.generic_visit(node)


class _Visitor(ast.NodeVisitor):
    def __init__(self, source: str, path: str, bindings: _Bindings) -> None:
        self.source = source
        self.path = path
        self.bindings = bindings
        self.findings: list[Finding] = []
        self.edits: list[_Edit] = []
        self.openai_names: set[str] = set()  # names bound to the openai package
        self.module_names: set[str] = set()  # names bound to openai.error
        self.class_names: dict[str, str] = {}  # local name -> legacy class name
        self.caught: list[set[str]] = []  # names of caught legacy errors, innermost last
        self.parameters: list[dict[str, list[str]]] = []  # parameters defaulting to legacy tuples
        self.context: list[str] = []
        self.depth = 0  # functions and classes around the node
        self.needs_import = False
        self.last_openai_import: ast.stmt | None = None
        self.last_module_import: ast.stmt | None = None
        self.has_compat_legacy_import = False
        self.reported_texts: set[int] = set()

    # ------------------------------------------------------------ helpers

    def _segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ""

    def _finding(
        self,
        node: ast.AST,
        what: str,
        code: str,
        today: str,
        v1: str,
        compat: str,
        v1_expr: str | None = None,
        compat_expr: str | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                self.path,
                getattr(node, "lineno", 0),
                getattr(node, "col_offset", 0) + 1,
                what,
                code.strip(),
                today,
                v1,
                compat,
                v1_expr,
                compat_expr,
            )
        )

    def _add(self, node: ast.AST, what: str, name: str | None, code: str | None = None) -> None:
        advice = MEANING.get(name or "")
        text = code if code is not None else self._segment(node)
        if advice is None:
            self._finding(
                node, what, text, "the legacy error module", "openai's exceptions", "compat.legacy"
            )
            return
        compat = advice.compat
        if what != "import":
            compat = f"{compat}; compat.legacy.{name} keeps today's meaning"
        self._finding(
            node,
            what,
            text,
            advice.today,
            advice.v1_text(),
            compat,
            advice.v1_expr("e"),
            f"isinstance(e, compat.legacy.{name})",
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

    def _bound(self, node: ast.AST) -> tuple[list[str], str] | None:
        """The legacy names a variable or parameter holds, and where they come from."""
        if not isinstance(node, ast.Name):
            return None
        for scope in reversed(self.parameters):
            if node.id in scope:
                return scope[node.id], f"the default of the parameter {node.id}"
        if node.id in self.bindings.variables:
            names, line = self.bindings.variables[node.id]
            return names, f"{node.id}, bound at line {line}"
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

    # ------------------------------------------------------------ scopes

    def _scoped(self, node: Any) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        arguments = node.args
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = list(
            zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults)
        )
        pairs += [
            (a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None
        ]
        scope = {}
        for argument, default in pairs:
            names = _legacy_in(default, self._legacy_name)
            if names:
                scope[argument.arg] = names
        self.parameters.append(scope)
        self._scoped(node)
        self.parameters.pop()

    # ------------------------------------------------------------ imports

    def visit_Import(self, node: ast.Import) -> None:
        if self.depth == 0:
            self.last_module_import = node
        for alias in node.names:
            if alias.name == "openai":
                self.openai_names.add(alias.asname or "openai")
                if self.depth == 0:
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
                    if self.depth == 0:
                        self.last_openai_import = node
                    if span:
                        text = "compat.legacy" if bound else "openai, compat.legacy"
                        self.edits.append(_Edit(span[0], span[1], text))
                    self.has_compat_legacy_import = True

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if self.depth == 0 and node.module != "__future__":
            self.last_module_import = node
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
        self._check_order(node)
        for statement in node.body:
            self.visit(statement)
        for handler in node.handlers:
            self.visit_ExceptHandler(handler)
        for statement in node.orelse + node.finalbody:
            self.visit(statement)

    def visit_TryStar(self, node: Any) -> None:  # except* (Python 3.11+)
        self.visit_Try(node)

    def _handler_names(self, handler: ast.ExceptHandler) -> tuple[list[str], bool]:
        """The legacy names an except clause names, and whether it catches everything."""
        names: list[str] = []
        everything = handler.type is None
        for target in self._targets(handler.type):
            found = self._legacy_name(target)
            if found is not None:
                names.append(found[0] or "OpenAIError")
                continue
            bound = self._bound(target)
            if bound is not None:
                names.extend(bound[0])
            elif isinstance(target, ast.Name) and target.id in CATCH_ALL:
                everything = True
        return names, everything

    def _check_order(self, node: ast.Try) -> None:
        """Report the clauses that, with the v1 names the advice gives, would catch
        another clause's failures (or stop catching their own)."""
        clauses = [self._handler_names(handler) for handler in node.handlers]
        if sum(1 for names, _ in clauses if names) < 1 or len(clauses) < 2:
            return

        def legacy_catches(names: list[str], everything: bool, legacy: str) -> bool:
            return everything or "OpenAIError" in names or legacy in names

        def v1_catches(names: list[str], everything: bool, v1: str) -> bool:
            if everything:
                return True
            family = {v1, *V1_BASES.get(v1, ())}
            return any(c in family for name in names for c in MEANING[name].v1_catch)

        moved: dict[int, list[str]] = {}
        for what, legacy, v1 in SITUATIONS:
            today = next(
                (i for i, (n, e) in enumerate(clauses) if legacy_catches(n, e, legacy)), None
            )
            then = next((i for i, (n, e) in enumerate(clauses) if v1_catches(n, e, v1)), None)
            if today == then or then is None:
                continue
            where = (
                f"line {node.handlers[today].lineno}'s clause catches it today"
                if today is not None
                else "no clause catches it today"
            )
            moved.setdefault(then, []).append(f"{what} ({where})")
        for index, situations in sorted(moved.items()):
            handler = node.handlers[index]
            target = handler.type or handler
            self._finding(
                target,
                "order",
                f"except {self._segment(target)}" if handler.type else "except",
                "the order of this except chain, with the legacy classes",
                "with the v1 names the advice gives, this clause would also catch "
                + "; ".join(situations)
                + ": reorder the clauses or test e.status_code",
                "compat.legacy's names keep today's order (--fix)",
            )

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        caught = False
        for target in self._targets(node.type):
            found = self._legacy_name(target)
            if found is None:
                bound = self._bound(target)
                if bound is not None:
                    names, origin = bound
                    caught = True
                    self._finding(
                        target,
                        "except",
                        f"except {self._segment(target)}",
                        f"the legacy classes in {origin}: {', '.join(names)}",
                        "; ".join(f"{n}: {MEANING[n].v1_text()}" for n in names if n in MEANING),
                        "the names where the tuple is made: --fix rewrites them there",
                        " or ".join(f"({MEANING[n].v1_expr('e')})" for n in names if n in MEANING),
                        f"isinstance(e, ({', '.join(f'compat.legacy.{n}' for n in names)},))",
                    )
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
        if isinstance(function, ast.Attribute) and self._api_call(function) is not None:
            for keyword in node.keywords:
                if keyword.arg in API_KEYWORDS:
                    self._finding(
                        keyword,
                        "api",
                        self._segment(keyword),
                        f"{keyword.arg}= of the legacy API",
                        API_KEYWORDS[keyword.arg],
                        "report only: --fix leaves the API to you",
                    )
        if isinstance(function, ast.Attribute) and function.attr in (
            "startswith",
            "endswith",
            "find",
            "index",
            "count",
        ):
            for argument in node.args:
                self._check_text(node, argument, function.value)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for operand in operands:
            others = [o for o in operands if o is not operand]
            for other in others:
                self._check_text(node, operand, other)
        self.generic_visit(node)

    def _check_text(self, node: ast.AST, constant: ast.AST, subject: ast.AST) -> None:
        """A branch on a text that openai 0.28.1 wrote itself."""
        if not (isinstance(constant, ast.Constant) and isinstance(constant.value, str)):
            return
        needle = constant.value.lower().strip()
        if len(needle) < 8 or id(node) in self.reported_texts:
            return
        advice = next((t for t in TEXTS if needle in t.needle or t.needle in needle), None)
        if advice is None:
            return
        self.reported_texts.add(id(node))
        code = self._segment(node)
        variable = self._str_of(subject)
        if advice.v1_text is not None:
            v1_code: str | None = self._replace(
                node, {constant: repr(_v1_text(constant.value, advice))}
            )
        elif advice.v1_test is not None and variable is not None:
            test = advice.v1_test
            status = _status_in(constant.value)
            if status is None:  # no status named: any status will do
                test = test.replace("== {status}", "is not None")
            v1_code = test.format(v=variable[1], status=status)
            if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.NotIn):
                v1_code = f"not ({v1_code})"
        else:
            v1_code = None
        compat_code = (
            self._replace(node, {variable[0]: f"{variable[1]}.user_message"}) if variable else None
        )
        self._finding(
            node,
            "text",
            code,
            f"{advice.today}: true on 0.28.1 where it said so",
            f"{advice.v1_note}" + (f": {v1_code}" if v1_code else ""),
            (
                f"e.user_message keeps 0.28.1's text: {compat_code}"
                if compat_code
                else "e.user_message keeps 0.28.1's text"
            ),
            v1_code,
            compat_code,
        )

    def _str_of(self, node: ast.AST) -> tuple[ast.AST, str] | None:
        """The ``str(<name>)`` call inside *node*, and the name."""
        for child in ast.walk(node):
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Name)
                and child.func.id == "str"
                and len(child.args) == 1
                and isinstance(child.args[0], ast.Name)
            ):
                return child, child.args[0].id
        return None

    def _replace(self, node: ast.AST, replacements: dict[ast.AST, str]) -> str:
        """*node*'s source with the given subnodes written as given (one line)."""
        text = self._segment(node)
        start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
        lines = text.split("\n")
        spans = []
        for child, new in replacements.items():
            row = child.lineno - start[0]  # type: ignore[attr-defined]
            col = child.col_offset - (start[1] if row == 0 else 0)  # type: ignore[attr-defined]
            end_row = child.end_lineno - start[0]  # type: ignore[attr-defined]
            end_col = child.end_col_offset - (start[1] if end_row == 0 else 0)  # type: ignore[attr-defined]
            spans.append((row, col, end_row, end_col, new))
        encoded = [line.encode("utf-8") for line in lines]
        for row, col, end_row, end_col, new in sorted(spans, reverse=True):
            head = encoded[row][:col]
            tail = encoded[end_row][end_col:]
            encoded[row : end_row + 1] = [head + new.encode("utf-8") + tail]
        return " ".join(line.decode("utf-8").strip() for line in encoded)

    def _api_call(self, node: ast.Attribute) -> str | None:
        """``Class.method`` when *node* is ``openai.Class.method`` of the legacy API."""
        value = node.value
        if (
            isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id in self.openai_names
            and (value.attr, node.attr) in API_CALLS
        ):
            return f"{value.attr}.{node.attr}"
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in self.openai_names
                and target.attr in API_SETTINGS
            ):
                self._finding(
                    target,
                    "api",
                    self._segment(node),
                    f"sets the legacy module's {target.attr} for every call",
                    API_SETTINGS[target.attr],
                    "report only: --fix leaves the API to you",
                )
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
        api = self._api_call(node)
        if api is not None:
            self._finding(
                node,
                "api",
                self._segment(node),
                f"the legacy API's {api}",
                API_CALLS[tuple(api.split("."))],  # type: ignore[index]
                "report only: --fix leaves the API to you",
            )
            return
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in self.openai_names
            and node.attr in API_CLASSES
        ):
            calls = [v for (cls, _), v in API_CALLS.items() if cls == node.attr]
            self._finding(
                node,
                "api",
                self._segment(node),
                f"the legacy API's {node.attr}",
                calls[0].split("(")[0].rsplit(".", 1)[0] + " (a client's resource)",
                "report only: --fix leaves the API to you",
            )
            return
        if (
            isinstance(node.value, ast.Name)
            and node.attr in SCANNED_ATTRIBUTES
            and any(node.value.id in names for names in self.caught)
        ):
            variable = node.value.id
            advice = ATTRIBUTE_ADVICE[node.attr]
            v1 = advice.v1_expr.format(v=variable)
            note = advice.v1_note.format(v=variable)
            self._finding(
                node,
                "attribute",
                self._segment(node),
                f"the legacy error's {node.attr}",
                f"{v1}" + (f" ({note})" if note else ""),
                f"{variable}.{node.attr} works as 0.28.1's, kept as it is by --fix; "
                + advice.compat_note.format(v=variable),
                v1,
                f"{variable}.{node.attr}",
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
    bindings = _Bindings()
    bindings.visit(tree)
    visitor = _Visitor(source, path, bindings)
    visitor.visit(tree)
    fixed = _apply(source, visitor, tree)
    findings = sorted(visitor.findings, key=lambda f: (f.line, f.column))
    return findings, fixed


def _apply(source: str, visitor: _Visitor, tree: ast.Module) -> str:
    edits = list(dict.fromkeys(visitor.edits))
    if visitor.needs_import and not visitor.has_compat_legacy_import:
        edits.append(_import_edit(visitor, tree))
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


def _import_edit(visitor: _Visitor, tree: ast.Module) -> _Edit:
    """``import compat.legacy`` after the module's last ``import openai`` (or, when
    openai is only imported inside functions, after its last import at the top)."""
    anchor = visitor.last_openai_import or visitor.last_module_import
    if anchor is not None and anchor.end_lineno is not None:
        return visitor._after_line(anchor.end_lineno, anchor.col_offset, ["import compat.legacy"])
    body = tree.body
    index = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        index = 1  # the docstring
    while (
        index < len(body)
        and isinstance(body[index], ast.ImportFrom)
        and (
            body[index].module == "__future__"  # type: ignore[attr-defined]
        )
    ):
        index += 1
    if index:
        last = body[index - 1]
        assert last.end_lineno is not None
        return visitor._after_line(last.end_lineno, 0, ["import compat.legacy"])
    newline = visitor.lines[0][len(visitor.lines[0].rstrip("\r\n")) :] or "\n"
    return _Edit((1, 0), (1, 0), "import compat.legacy" + newline)


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


def summary(findings: list[Finding], scanned: int) -> str:
    """One line: how many uses of each sort, in how many of the files scanned."""
    errors = [f for f in findings if f.what in ERROR_KINDS]
    files = len({f.path for f in errors})
    parts = [f"{len(errors)} use(s) of openai.error in {files} of {scanned} file(s) scanned"]
    for what, label in (
        ("order", "except chain clause(s) whose meaning changes with v1 names"),
        ("text", "branch(es) on 0.28.1's own texts"),
        ("api", "use(s) of the legacy API"),
    ):
        count = sum(1 for f in findings if f.what == what)
        if count:
            parts.append(f"{count} {label}")
    return "; ".join(parts)


def run(paths: list[str], fix: bool, as_json: bool, out: Any = sys.stdout) -> int:
    """The ``scan`` command: 0 when nothing is found (or all was fixed), 1 when
    something is, 2 when a file could not be read."""
    findings: list[Finding] = []
    unreadable: list[str] = []
    changed: list[str] = []
    scanned = 0
    for path in python_files(paths):
        scanned += 1
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
        remaining = [f for f in findings if f.path not in changed]
        for path in changed:
            source, _ = _read(path)
            remaining += scan_source(source, path)[0]
    if as_json:
        document = {
            "findings": [attrs.asdict(f) for f in findings],
            "count": len(findings),
            "counts": {
                what: sum(1 for f in findings if f.what == what)
                for what in sorted({f.what for f in findings})
            },
            "files_scanned": scanned,
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
        line = summary(findings, scanned)
        if fix:
            left = sum(1 for f in remaining if f.what in ERROR_KINDS)
            line += (
                f"; rewrote {len(changed)} file(s) to compat.legacy, "
                f"{left} use(s) of openai.error left"
            )
        print(line, file=out)
    if unreadable and not remaining:
        return 2
    return 1 if remaining else 0
