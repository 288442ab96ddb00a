"""scan: its advice runs, its findings follow names, texts, chains and the legacy API.

Every expression scan prints as advice (``v1_expr``, ``compat_expr``) is run here
against the exceptions the current SDK really raises for the answers of the
legacy-attribute oracle, and compared with what openai 0.28.1 said for the same
answers (tests/data/legacy_oracle/openai_0_28_1.json): where the v1 advice cannot
say the same, the difference is listed with its reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import compat
import compat.legacy as legacy
from compat._legacy_errors import LEGACY_ATTRIBUTES
from compat.migration.scan import ATTRIBUTE_ADVICE, MEANING, Finding, scan_source
from compat.testing import FaultServer
from tests.data.legacy_oracle import cases
from tests.legacy_oracle import DIFFERENCES, ORACLE, V1, current

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

v1_only = pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")


def findings(source: str) -> list[Finding]:
    return scan_source(textwrap.dedent(source))[0]


@pytest.fixture(scope="module")
def raised() -> dict[str, BaseException]:
    """The exception the current SDK raises for each oracle case."""
    out = {}
    for name in cases.CASES:
        with FaultServer() as server:
            out[name] = current(name, server)
    return out


def evaluate(expression: str, exc: BaseException) -> Any:
    return eval(expression, {"openai": openai, "compat": compat, "e": exc})


def normaliser(exc: BaseException) -> Any:
    """The oracle's normalisation (date, port, addresses) for the answer behind *exc*."""
    port = getattr(getattr(getattr(exc, "request", None), "url", None), "port", None)
    return cases.normaliser(port, cases.dates_in(exc))


# ---------------------------------------------------------------------- the advice runs

ALL_CLASSES = """
    import openai

    def call():
        try:
            pass
        except openai.error.{name} as e:
            pass
"""

#: legacy name -> (why the v1 test says otherwise than 0.28.1, for which cases).
CLASS_DIFFERENCES: dict[str, tuple[str, frozenset[str]]] = {
    "InvalidRequestError": (
        "0.28.1 read an HTML page as APIError whatever its status; v1's classes go by status",
        frozenset({"400 HTML page"}),
    ),
    "RateLimitError": (
        "0.28.1 read a 429 without an error object as APIError; v1's classes go by status",
        frozenset({"429 as text/plain"}),
    ),
    "APIError": (
        "0.28.1 read an answer without an error object as APIError whatever its status; "
        "v1's classes go by status",
        frozenset({"400 HTML page", "429 as text/plain"}),
    ),
}


@v1_only
@pytest.mark.parametrize("name", sorted(MEANING))
def test_class_advice_runs_on_v1_exceptions(name: str, raised: dict[str, BaseException]) -> None:
    """The v1 test scan gives for a legacy class is true exactly where 0.28.1 raised that
    class (but for the listed answers); compat.legacy's name always is."""
    (finding,) = [f for f in findings(ALL_CLASSES.format(name=name)) if f.what == "except"]
    assert finding.v1_expr is not None
    assert finding.compat_expr is not None
    reason, where = CLASS_DIFFERENCES.get(name, ("", frozenset()))
    for case, exc in raised.items():
        expected = name == "OpenAIError" or ORACLE["cases"][case]["class"] == name
        assert expected == evaluate(finding.compat_expr, exc), case
        if case in where:
            assert expected != evaluate(finding.v1_expr, exc), f"{case}: {reason}"
        else:
            assert expected == evaluate(finding.v1_expr, exc), case


ALL_ATTRIBUTES = """
    import openai

    def call():
        try:
            pass
        except openai.error.OpenAIError as e:
            value = e.{name}
"""


def _error_dict(value: Any) -> Any:
    return {"message": None, "type": None, **value} if isinstance(value, dict) else value


#: attribute -> (how the v1 expression's value compares with 0.28.1's, its exceptions).
#: The comparisons say what the advice's note says (e.g. v1's body is 0.28.1's
#: json_body["error"]).
ATTRIBUTE_RELATIONS: dict[str, tuple[Any, str, frozenset[str]]] = {
    "http_status": (
        lambda old, new: old == new,
        "the v1 SDK keeps a stream's error event without its answer",
        frozenset({"stream error event"}),
    ),
    "http_body": (
        lambda old, new: old == new,
        "the v1 SDK keeps a stream's error event without its answer",
        frozenset({"stream error event"}),
    ),
    "json_body": (
        lambda old, new: (
            isinstance(old, dict) and isinstance(old.get("error"), dict) and old["error"] == new
        ),
        "0.28.1 kept no body for a 503 or a body that was not JSON, and a body without an "
        "error object whole, and appended internal_message to the message; the v1 SDK keeps "
        "the error object as sent, or the body",
        frozenset(
            {
                "500 with internal_message",
                "503 overloaded",
                "503 HTML page",
                "502 HTML page",
                "502 empty body",
                "504 HTML page",
                "400 HTML page",
                "429 as text/plain",
                "500 JSON without an error object",
                "timeout",
                "connection reset",
                "connection refused",
            }
        ),
    ),
    "headers": (
        lambda old, new: old == new,
        "0.28.1 dropped the headers of a body without an error object; the v1 SDK keeps a "
        "stream's error event without its answer",
        frozenset({"429 as text/plain", "500 JSON without an error object", "stream error event"}),
    ),
    "user_message": (
        lambda old, new: old == new,
        "0.28.1 wrote its own text for a 503, an answer that was not JSON, a status without "
        "a class of its own, a stream's error event and the transport failures; v1 gives the "
        "server's message or its own text",
        frozenset(
            {
                "503 overloaded",
                "503 HTML page",
                "500 server error",
                "500 with internal_message",
                "500 JSON without an error object",
                "502 HTML page",
                "502 empty body",
                "504 HTML page",
                "400 HTML page",
                "429 as text/plain",
                "422 unprocessable",
                "stream error event",
                "timeout",
                "connection reset",
                "connection refused",
            }
        ),
    ),
    "code": (lambda old, new: old == new, DIFFERENCES["code"][0], DIFFERENCES["code"][1]),
    "request_id": (
        lambda old, new: old == new,
        DIFFERENCES["request_id"][0],
        DIFFERENCES["request_id"][1],
    ),
    "param": (
        lambda old, new: old == "<absent>" or old == new,
        "0.28.1 had param on InvalidRequestError only",
        frozenset(),
    ),
    "error": (
        lambda old, new: (
            (old is None and not isinstance(new, dict))
            or (old or {}).get("items") == _error_dict(new)
        ),
        "0.28.1 had no error object for a 503 and for a body without one, and appended "
        "internal_message to the message; v1 keeps the body's error object as sent, or the "
        "whole body",
        frozenset(
            {"503 overloaded", "500 JSON without an error object", "500 with internal_message"}
        ),
    ),
    "organization": (lambda old, new: old == new, "", frozenset()),
}


@v1_only
@pytest.mark.parametrize("name", sorted(ATTRIBUTE_RELATIONS))
def test_attribute_advice_runs_on_v1_exceptions(
    name: str, raised: dict[str, BaseException]
) -> None:
    """Each attribute's v1 expression runs on every exception the SDK raises and gives
    0.28.1's value (as its note describes it), but for the listed answers; the compat
    expression (the name, kept by --fix) gives 0.28.1's value as the oracle test lists."""
    (finding,) = [f for f in findings(ALL_ATTRIBUTES.format(name=name)) if f.what == "attribute"]
    assert finding.v1_expr is not None
    assert finding.compat_expr == f"e.{name}"
    same, reason, where = ATTRIBUTE_RELATIONS[name]
    field = "headers_get" if name == "headers" else name
    for case, exc in raised.items():
        old = ORACLE["cases"][case][field]
        new = evaluate(finding.v1_expr, exc)
        if name == "headers":
            new = {key: new.get(key) for key in ("Retry-After", "retry-after", "CONTENT-TYPE")}
        normalise = normaliser(exc)
        new = normalise(new)
        if case in where:
            assert not same(old, new), f"{case}: {reason}"
        else:
            assert same(old, new), case
        compat_value = evaluate(finding.compat_expr, exc)
        if name == "headers":
            compat_value = {
                k: compat_value.get(k) for k in ("Retry-After", "retry-after", "CONTENT-TYPE")
            }
        elif name == "error":
            compat_value = None if compat_value is None else dict(compat_value)
            old = None if old is None else old["items"]
        differs = case in DIFFERENCES.get(field, ("", frozenset()))[1]
        assert differs == (old != normalise(compat_value)), case


def test_every_legacy_attribute_has_advice() -> None:
    """Every legacy attribute read from a caught error is reported with advice."""
    assert set(LEGACY_ATTRIBUTES) <= set(ATTRIBUTE_ADVICE)
    assert set(LEGACY_ATTRIBUTES) <= set(ATTRIBUTE_RELATIONS) | {"param"}


def test_http_status_advice_is_not_e_status() -> None:
    """The advice for e.http_status is an expression the v1 exception answers (a timeout
    has no status_code), not compat's e.status."""
    (finding,) = [
        f for f in findings(ALL_ATTRIBUTES.format(name="http_status")) if f.what == "attribute"
    ]
    assert 'getattr(e, "status_code", None)' == finding.v1_expr
    assert "e.status " not in finding.v1 + " "


def test_api_error_advice_is_not_openai_api_error() -> None:
    """The legacy APIError is not advised as openai.APIError, which in v1 is the parent of
    every error: the advice names the status errors without a class of their own."""
    (finding,) = [f for f in findings(ALL_CLASSES.format(name="APIError")) if f.what == "except"]
    assert finding.v1.startswith("openai.APIStatusError and e.status_code not in")
    assert "openai.APIError of every v1 error" in finding.v1


# ---------------------------------------------------------------------- texts

TEXT_CASES = {
    "connection aborted": '"connection aborted" not in str(e).lower()',
    "Error communicating with OpenAI": "'Error communicating with OpenAI' in str(e)",
    "server is overloaded": 'str(e).startswith("The server is overloaded or not ready yet")',
    "HTTP code": '"HTTP code 502" in str(e)',
    "Read timed out": '"Read timed out" in str(e)',
    "streaming": '"Error occurred while streaming" in str(e)',
}
#: text -> the answers where the v1 text's check says otherwise than 0.28.1's did.
TEXT_DIFFERENCES = {
    # v1 says "Connection error." for every connection failure: a refused connection
    # (not "aborted" on 0.28.1) reads the same as a broken one (its cause tells).
    "connection aborted": frozenset({"connection refused"}),
}


@v1_only
@pytest.mark.parametrize("key", sorted(TEXT_CASES))
def test_text_branches_are_flagged_with_running_advice(
    key: str, raised: dict[str, BaseException]
) -> None:
    """A branch on a text 0.28.1 wrote itself is reported at its line, with the v1 text
    that replaces it and compat's (e.user_message keeps 0.28.1's text); both run, and
    compat's agrees with 0.28.1 on every answer."""
    source = f"""
        import openai

        def call():
            try:
                pass
            except openai.error.OpenAIError as e:
                if {TEXT_CASES[key]}:
                    pass
    """
    (finding,) = [f for f in findings(source) if f.what == "text"]
    assert finding.line == 8
    assert finding.code == TEXT_CASES[key]
    assert finding.v1_expr is not None
    assert finding.compat_expr is not None
    assert "e.user_message" in finding.compat_expr
    for case, exc in raised.items():

        class Legacy:
            def __str__(self, case: str = case) -> str:
                return ORACLE["cases"][case]["str"]  # type: ignore[no-any-return]

        old = eval(finding.code, {"e": Legacy()})
        compat_said = eval(finding.compat_expr, {"e": holding(normaliser(exc)(exc.user_message))})
        assert old == compat_said, case
        v1_said = evaluate(finding.v1_expr, exc)
        if case in TEXT_DIFFERENCES.get(key, frozenset()):
            assert old != v1_said, case
        else:
            assert old == v1_said, case


def holding(user_message: str) -> Any:
    """An object whose user_message is the one given."""

    class Holder:
        pass

    holder = Holder()
    holder.user_message = user_message  # type: ignore[attr-defined]
    return holder


def test_texts_of_the_server_are_not_flagged() -> None:
    """A branch on the server's own words (which v1's text keeps) is not reported."""
    source = """
        import openai
        try:
            pass
        except openai.error.RateLimitError as e:
            if "Please retry after" in str(e) or "insufficient_quota" in str(e):
                pass
    """
    assert [] == [f for f in findings(source) if f.what == "text"]


# ---------------------------------------------------------------------- names bound to tuples


def test_except_through_a_variable_and_a_default_is_followed() -> None:
    """except ERRORS as e, where ERRORS is a tuple of legacy classes in a variable (even
    assigned further down) or a parameter's default, reports the clause and the
    attributes read from e; --fix rewrites the tuple where it is made."""
    source = textwrap.dedent(
        """
        import openai

        def call(errors=(openai.error.RateLimitError, openai.error.Timeout)):
            try:
                pass
            except errors as e:
                print(e.http_status, e.headers)

        def other():
            try:
                pass
            except RETRY as err:
                print(err.json_body, err.user_message, err.error)

        RETRY: tuple = (openai.error.APIError, openai.error.ServiceUnavailableError)
        """
    )
    found, fixed = scan_source(source)
    excepts = [(f.line, f.code) for f in found if f.what == "except"]
    assert [(7, "except errors"), (13, "except RETRY")] == excepts
    reads = [(f.line, f.code) for f in found if f.what == "attribute"]
    assert [
        (8, "e.http_status"),
        (8, "e.headers"),
        (14, "err.json_body"),
        (14, "err.user_message"),
        (14, "err.error"),
    ] == reads
    (through_default,) = [f for f in found if f.code == "except errors"]
    assert "RateLimitError, Timeout" in through_default.today
    assert "except errors as e:" in fixed
    assert "errors=(compat.legacy.RateLimitError, compat.legacy.Timeout)" in fixed
    assert [] == [f for f in scan_source(fixed)[0] if f.what != "api"]


# ---------------------------------------------------------------------- chains


CHAIN = """
    import openai

    def call(fn):
        try:
            return fn()
        except openai.error.RateLimitError:
            return "rate"
        except {first}:
            return "first"
        except {second}:
            return "second"
        except openai.error.OpenAIError:
            return "other"
"""
SITUATION_CASES = {
    "a 400": "400 context length",
    "a 404": "404 model",
    "a 401": "401 wrong key",
    "a 403": "403 not allowed",
    "a 409": "409 warming up",
    "a 429": "429 rate limit",
    "a 503": "503 overloaded",
    "a 500": "500 server error",
    "a 422": "422 unprocessable",
    "a stream's error event": "stream error event",
    "a timeout": "timeout",
    "a connection failure": "connection reset",
}


def _v1_chain(source: str) -> str:
    """*source* with every legacy name replaced by the v1 classes scan advises."""
    for name, advice in MEANING.items():
        if advice.v1_catch:
            names = ", ".join(f"openai.{c}" for c in advice.v1_catch)
            source = source.replace(f"openai.error.{name}:", f"({names}):")
    return source


@v1_only
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("openai.error.APIConnectionError", "openai.error.Timeout"),
        ("openai.error.Timeout", "openai.error.APIConnectionError"),
        ("openai.error.APIError", "openai.error.InvalidRequestError"),
        ("openai.error.InvalidRequestError", "openai.error.APIError"),
        ("openai.error.ServiceUnavailableError", "openai.error.APIError"),
        ("openai.error.AuthenticationError", "openai.error.PermissionError"),
    ],
)
def test_chain_order_findings_are_the_branches_that_move(
    first: str, second: str, raised: dict[str, BaseException]
) -> None:
    """Written with the v1 classes scan advises, an except chain sends a failure to
    another clause exactly where scan reported it: each reported clause receives
    failures that went elsewhere (per the compat.legacy chain, 0.28.1's meaning), and
    a chain without a report sends every failure where it went."""
    source = textwrap.dedent(CHAIN.format(first=first, second=second))
    reported = {f.line for f in scan_source(source)[0] if f.what == "order"}
    fixed = scan_source(source)[1]
    legacy_ns: dict[str, Any] = {}
    exec(compile(fixed, "legacy_chain", "exec"), legacy_ns)
    v1_ns: dict[str, Any] = {}
    exec(compile(_v1_chain(source), "v1_chain", "exec"), v1_ns)
    lines = {"rate": 7, "first": 9, "second": 11, "other": 13}  # each clause's except line
    moved = set()
    for case in SITUATION_CASES.values():
        exc = raised[case]

        def fn(exc: BaseException = exc) -> None:
            raise exc

        today, then = legacy_ns["call"](fn), v1_ns["call"](fn)
        if today != then:
            moved.add(lines[then])
    assert moved == reported


# ---------------------------------------------------------------------- the legacy API


def test_legacy_api_is_listed_with_v1_equivalents_and_left_alone() -> None:
    """openai.ChatCompletion.create, Completion, Embedding, the module settings and engine=
    are listed with their v1 equivalents; --fix changes none of them."""
    source = textwrap.dedent(
        """
        import openai

        openai.api_key = "sk-..."
        openai.api_base = "https://example.openai.azure.com"
        openai.api_type = "azure"
        openai.api_version = "2023-05-15"

        def ask(text):
            reply = openai.ChatCompletion.create(engine="gpt-35", messages=[], request_timeout=30)
            vector = openai.Embedding.create(input=[text], engine="ada")
            return openai.Completion.create(model="davinci", prompt=text), reply, vector
        """
    )
    found, fixed = scan_source(source)
    api = [(f.line, f.code, f.v1) for f in found if f.what == "api"]
    assert fixed == source
    codes = [code for _, code, _ in api]
    assert codes == [
        'openai.api_key = "sk-..."',
        'openai.api_base = "https://example.openai.azure.com"',
        'openai.api_type = "azure"',
        'openai.api_version = "2023-05-15"',
        "openai.ChatCompletion.create",
        'engine="gpt-35"',
        "request_timeout=30",
        "openai.Embedding.create",
        'engine="ada"',
        "openai.Completion.create",
    ]
    v1 = dict((code, text) for _, code, text in api)
    assert v1["openai.ChatCompletion.create"].startswith("client.chat.completions.create(")
    assert v1["openai.Embedding.create"].startswith("client.embeddings.create(")
    assert v1["openai.Completion.create"].startswith("client.completions.create(")
    assert v1['engine="gpt-35"'].startswith("model=")
    assert v1["request_timeout=30"].startswith("timeout=")
    assert "base_url" in v1['openai.api_base = "https://example.openai.azure.com"']
    assert "AzureOpenAI" in v1['openai.api_type = "azure"']


# ---------------------------------------------------------------------- the command


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compat", "scan", *args], capture_output=True, text=True, timeout=60
    )


def test_summary_counts_the_files_scanned(tmp_path: Path) -> None:
    """Five files without a use say so: '0 ... in 0 of 5 file(s) scanned' (the count used
    to be of the files with findings, so it said 'in 0 file(s)')."""
    for index in range(5):
        (tmp_path / f"clean_{index}.py").write_text("import openai\nx = 1\n")
    done = scan(str(tmp_path))
    assert 0 == done.returncode
    assert "0 use(s) of openai.error in 0 of 5 file(s) scanned" == done.stdout.strip()
    (tmp_path / "legacy.py").write_text("import openai.error\n")
    report = json.loads(scan(str(tmp_path), "--json").stdout)
    assert (6, 1) == (report["files_scanned"], report["count"])


def test_fix_imports_compat_legacy_at_module_level(tmp_path: Path) -> None:
    """When openai is only imported inside functions, ``import compat.legacy`` goes after
    the module's imports, where every function sees it, and the fixed module runs."""
    source = textwrap.dedent(
        '''
        """A module."""
        from __future__ import annotations

        import logging


        def first():
            import openai
            return openai.error.Timeout


        def second():
            import openai
            return openai.error.APIError
        '''
    ).lstrip()
    fixed = scan_source(source)[1]
    assert fixed.splitlines()[3:5] == ["import logging", "import compat.legacy"]
    namespace: dict[str, Any] = {}
    exec(compile(fixed, "fixed", "exec"), namespace)
    if openai is not None:
        assert legacy.Timeout is namespace["first"]()
        assert legacy.APIError is namespace["second"]()


def test_except_through_a_sum_of_tuples_is_followed() -> None:
    """A variable made by adding tuples (canopy's ``OPEN_AI_RETRY_EXCEPTIONS + (...)``)
    holds the legacy names of its parts."""
    source = """
        import json
        import openai
        RETRY = (openai.error.Timeout, openai.error.APIError)
        MORE = RETRY + (json.JSONDecodeError,)
        try:
            pass
        except MORE as e:
            print(e.http_status)
    """
    found = findings(source)
    (clause,) = [f for f in found if f.what == "except"]
    assert "MORE, bound at line 5: Timeout, APIError" in clause.today
    assert ["e.http_status"] == [f.code for f in found if f.what == "attribute"]
