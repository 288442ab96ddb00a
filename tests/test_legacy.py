"""Migrating legacy code: compat.legacy's names, the openai.error shim, and scan --fix.

A sample application written for openai<1 (tests/data/legacy_app) passes its own
error handling on the installed SDK three ways: unchanged with the legacy SDK,
unchanged with ``compat.legacy.install()`` on v1+, and after ``scan --fix``.
"""

from __future__ import annotations

import importlib
import json
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
import compat.legacy as legacy
from compat.migration.scan import scan_source
from compat.testing import FaultServer, faults
from tests.conftest import track

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
LEGACY = openai is not None and not V1
SAMPLE = Path(__file__).parent / "data" / "legacy_app"
MESSAGES = [{"role": "user", "content": "hi"}]
WRONG_KEY = (
    "Incorrect API key provided: sk-test****. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
TOO_LONG = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in "
    "130412 tokens. Please reduce the length of the messages."
)
# Each fault, and what the sample's handler says about it: the legacy SDK's own meaning.
# (The legacy SDK kept no code for statuses without a class of their own; v1 does.)
OUTCOMES: list[tuple[str, Any, tuple[Any, ...]]] = [
    ("401", faults.unauthorized(), ("auth", 401, WRONG_KEY)),
    ("429 rate", faults.rate_limited(0.1), ("rate", 429, "100")),
    ("429 quota", faults.quota_exceeded(), ("rate", 429, None)),
    (
        "409",
        faults.answer(409, {}, {"error": {"message": "warming up", "type": None}}),
        ("rate", 409, None),
    ),
    (
        "404",
        faults.not_found(),
        ("invalid", 404, "The model `gpt-4o` does not exist or you do not have access to it."),
    ),
    ("400 context", faults.context_length(), ("invalid", 400, TOO_LONG)),
    (
        "415",
        faults.answer(415, {}, {"error": {"message": "bad media type"}}),
        ("invalid", 415, "bad media type"),
    ),
    ("503", faults.overloaded(), ("unavailable", 503)),
    ("500", faults.server_error(), ("api", 500, None)),
    (
        "422",
        faults.answer(422, {}, {"error": {"message": "no", "code": "unprocessable"}}),
        ("api", 422, None if LEGACY else "unprocessable"),
    ),
    ("timeout", faults.slow(3.0), ("timeout",)),
    ("reset", faults.reset(), ("connection",)),
    ("success", faults.success(), ("ok",)),
]


def sdk_call(server: FaultServer) -> Callable[[], Any]:
    """One chat call with the installed SDK, its own retries off, a 0.5 s timeout."""
    if V1:
        client = track(
            openai.OpenAI(base_url=server.openai_url, api_key="sk-test", max_retries=0, timeout=0.5)
        )
        return lambda: client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    openai.api_base, openai.api_key = server.openai_url, "sk-test"
    openai.api_type, openai.api_version = "open_ai", None
    return lambda: openai.ChatCompletion.create(
        model="gpt-4o", messages=MESSAGES, request_timeout=0.5, timeout=0
    )


def load(root: Path, package: str) -> tuple[Any, Any]:
    """Import the sample (copied to *root*/*package*) fresh."""
    sys.path.insert(0, str(root))
    try:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]
        handlers = importlib.import_module(f"{package}.handlers")
        retrying = importlib.import_module(f"{package}.retrying")
    finally:
        sys.path.remove(str(root))
    return handlers, retrying


@pytest.fixture
def fixed_sample(tmp_path: Path) -> Iterator[Path]:
    """The sample, copied and rewritten by ``python -m compat scan --fix``."""
    target = tmp_path / "fixed_app"
    shutil.copytree(SAMPLE, target)
    done = subprocess.run(
        [sys.executable, "-m", "compat", "scan", str(target), "--fix"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    yield target
    for name in [n for n in sys.modules if n.startswith("fixed_app")]:
        del sys.modules[name]


def check_sample(handlers: Any, retrying: Any, server: FaultServer) -> None:
    """The sample's handlers say, for every fault, what the legacy SDK meant."""
    call = sdk_call(server)
    for name, fault, expected in OUTCOMES:
        server.script(fault)
        assert expected == handlers.handle(call), name
    # Its retry loop: transient failures are retried, an exhausted quota is not.
    server.clear()
    server.script(faults.rate_limited(0.01), faults.overloaded(), faults.server_error())
    assert retrying.with_retries(call) is not None
    assert [429, 503, 500, 200] == server.answered
    server.clear()
    server.script(faults.quota_exceeded())
    with pytest.raises(legacy.RateLimitError) as info:
        retrying.with_retries(call)
    assert 429 == retrying.status_of(info.value)
    assert "transient" == handlers.classify(info.value)
    assert 1 == len(server.requests)
    with pytest.raises(legacy.InvalidRequestError):
        handlers.fail_fast("too long")


# ---------------------------------------------------------------------- the sample, three ways


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")
def test_sample_unchanged_on_the_legacy_sdk(server: FaultServer, tmp_path: Path) -> None:
    """The sample legacy application runs unchanged on openai 0.28.1 and says what it should
    about every failure."""
    shutil.copytree(SAMPLE, tmp_path / "plain_app")
    handlers, retrying = load(tmp_path, "plain_app")
    check_sample(handlers, retrying, server)


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_sample_unchanged_with_the_shim(server: FaultServer, tmp_path: Path) -> None:
    """The same application, unchanged, on the current SDK with compat.legacy.install(): its
    handlers say the same."""
    shutil.copytree(SAMPLE, tmp_path / "shimmed_app")
    assert legacy.install()
    try:
        handlers, retrying = load(tmp_path, "shimmed_app")
        check_sample(handlers, retrying, server)
    finally:
        legacy.uninstall()
        for name in [n for n in sys.modules if n.startswith("shimmed_app")]:
            del sys.modules[name]


@pytest.mark.skipif(openai is None, reason="openai is not installed")
def test_sample_after_scan_fix(server: FaultServer, fixed_sample: Path) -> None:
    """Rewritten to compat.legacy, without the shim, on whichever SDK is installed."""
    assert not legacy.installed()
    assert "openai.error" not in (fixed_sample / "handlers.py").read_text()
    handlers, retrying = load(fixed_sample.parent, "fixed_app")
    check_sample(handlers, retrying, server)


# ---------------------------------------------------------------------- the shim


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_install_is_idempotent_and_reversible() -> None:
    """install() makes openai.error importable again (twice is once), and uninstall() takes it
    away."""
    with pytest.raises(ImportError):
        importlib.import_module("openai.error")
    assert legacy.install()
    assert legacy.install()
    try:
        module = importlib.import_module("openai.error")
        assert module is openai.error
        assert legacy.RateLimitError is openai.error.RateLimitError
        from openai.error import ServiceUnavailableError  # type: ignore[import-not-found]

        assert legacy.ServiceUnavailableError is ServiceUnavailableError
    finally:
        legacy.uninstall()
    legacy.uninstall()
    assert not legacy.installed()
    assert not hasattr(openai, "error")
    with pytest.raises(ImportError):
        importlib.import_module("openai.error")


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")
def test_install_warns_and_does_nothing_on_the_legacy_sdk() -> None:
    """With openai<1 installed, install() warns, returns False and leaves the SDK's own
    openai.error."""
    native = openai.error
    with pytest.warns(RuntimeWarning, match="openai<1 is installed"):
        assert not legacy.install()
    assert openai.error is native
    assert not legacy.installed()


# ---------------------------------------------------------------------- the names


@pytest.mark.parametrize(
    ("status", "body", "name"),
    [
        (400, {"error": {"message": "bad", "code": "invalid_value"}}, "InvalidRequestError"),
        (
            400,
            {"error": {"message": "x", "code": "context_length_exceeded"}},
            "InvalidRequestError",
        ),
        (404, {"error": {"message": "no such model"}}, "InvalidRequestError"),
        (401, {"error": {"message": "bad key", "code": "invalid_api_key"}}, "AuthenticationError"),
        (403, {"error": {"message": "not allowed"}}, "PermissionError"),
        (409, {"error": {"message": "warming up"}}, "TryAgain"),
        (429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, "RateLimitError"),
        (429, {"error": {"message": "no money", "code": "insufficient_quota"}}, "RateLimitError"),
        (
            503,
            {"error": {"message": "The engine is currently overloaded"}},
            "ServiceUnavailableError",
        ),
        (500, {"error": {"message": "oops", "type": "server_error"}}, "APIError"),
        (502, "<html>bad gateway</html>", "APIError"),
    ],
)
def test_compat_errors_are_their_legacy_class(status: int, body: Any, name: str) -> None:
    """An error compat read from an answer is an instance of the legacy class that status
    meant."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
    error = compat.from_response(status, {"x-request-id": "req_1"}, raw)
    assert error is not None
    assert isinstance(error, getattr(legacy, name))
    assert isinstance(error, legacy.OpenAIError)
    assert getattr(legacy, name) is legacy.legacy_class(error)
    assert status == error.http_status


def test_compat_errors_answer_the_legacy_attributes() -> None:
    """compat's errors answer the legacy attribute names, secrets replaced."""
    body = {
        "error": {
            "message": "Bad param sk-abcdefghijklmnopqrstuvwxyz123456",
            "param": "temperature",
            "code": "invalid_value",
        }
    }
    error = compat.from_response(
        400,
        {
            "x-request-id": "req_9",
            "openai-organization": "org-7",
            "authorization": "Bearer sk-secretsecretsecretsecret12",
        },
        json.dumps(body).encode(),
    )
    assert error is not None
    assert 400 == error.http_status
    assert error.message == error.user_message
    assert "sk-abcdef" not in error.user_message
    assert "[REDACTED]" in error.json_body["error"]["message"]
    assert error.json_body == json.loads(error.http_body)
    # openai<1's ErrorObject: message and type always there, keys read as attributes too.
    assert {"type": None, **error.json_body["error"]} == error.error
    assert "temperature" == error.error.param == error.error["param"]
    assert ("invalid_value", "req_9", "temperature", "org-7") == (
        error.code,
        error.request_id,
        error.param,
        error.organization,
    )
    assert "sk-secret" not in str(error.headers)
    transport = compat.from_response(None, {}, b"")
    assert transport is None or transport.json_body is None


def test_legacy_classes_keep_the_legacy_constructor() -> None:
    """Code that raises the legacy classes itself (tests, mocks) keeps working with the legacy
    constructor."""
    error = legacy.InvalidRequestError(
        "too long",
        "messages",
        code="context_length_exceeded",
        http_status=400,
        json_body={"error": {"message": "too long"}},
        headers={"request-id": "req_3"},
    )
    assert ("too long", "messages", 400, "req_3") == (
        error.user_message,
        error.param,
        error.http_status,
        error.request_id,
    )
    assert "Request req_3: too long" == str(error)
    assert {"message": "too long", "type": None} == error.error
    assert "too long" == error.error.message
    again = pickle.loads(pickle.dumps(error))
    assert (again.param, again.http_status, str(again)) == (
        error.param,
        error.http_status,
        str(error),
    )
    limited = legacy.RateLimitError("slow down", http_body=b"\xff\xfe", http_status=429)
    assert limited.http_body.startswith("<Could not decode")
    assert isinstance(limited, legacy.OpenAIError)
    with pytest.raises(AttributeError):
        limited.nothing_like_this  # noqa: B018


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
def test_adopted_sdk_errors_keep_their_own_class(server: FaultServer) -> None:
    """A v1 exception also becomes its legacy class; it stays what it was, and compat
    translates it as before."""
    call = sdk_call(server)
    server.script(faults.overloaded(), faults.server_error())
    for expected in (legacy.ServiceUnavailableError, legacy.APIError):
        with pytest.raises(openai.InternalServerError) as info:
            call()
        assert isinstance(info.value, expected)
        assert "InternalServerError" == type(info.value).__name__
        assert type(info.value).__module__.startswith("openai")
        translated = compat.translate(info.value)
        assert translated is not None
        assert 500 <= translated.status < 600
    assert not isinstance(info.value, legacy.ServiceUnavailableError)  # the 500 is not a 503


def test_not_openai_is_not_adopted() -> None:
    """An exception that is not the SDK's is left as it is."""
    error = ValueError("x")
    assert legacy.adopt(error) is error
    assert type(error) is ValueError
    assert legacy.legacy_class(error) is None


# ---------------------------------------------------------------------- scan


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compat", "scan", *args], capture_output=True, text=True, timeout=60
    )


def test_scan_finds_every_use() -> None:
    """scan finds every use of openai.error in the sample application, by what it is."""
    done = scan(str(SAMPLE), "--json")
    assert 1 == done.returncode, done.stderr
    report = json.loads(done.stdout)
    by_what: dict[str, int] = {}
    for finding in report["findings"]:
        by_what[finding["what"]] = by_what.get(finding["what"], 0) + 1
    # handlers.py: 4 imports, 9 excepts (a tuple counts twice), 3 isinstance targets,
    # 1 raise, 10 attribute reads, 3 clauses whose chain means otherwise with v1 names;
    # retrying.py: 1 import, 3 excepts, 1 isinstance, 1 read, 1 such clause.
    assert {
        "import": 5,
        "except": 12,
        "isinstance": 4,
        "raise": 1,
        "attribute": 10,
        "order": 4,
    } == by_what
    assert 36 == report["count"]
    assert 3 == report["files_scanned"]  # __init__.py has none
    lines = {(Path(f["path"]).name, f["line"]) for f in report["findings"]}
    assert ("handlers.py", 17) in lines  # except openai.error.AuthenticationError
    assert ("retrying.py", 13) in lines  # except oe.RateLimitError


def test_scan_text_output_explains() -> None:
    """scan's text output names each use with its line and column, what it does today and its
    replacements."""
    done = scan(str(SAMPLE / "retrying.py"))
    assert 1 == done.returncode
    assert "retrying.py:13:16: except: except oe.RateLimitError" in done.stdout
    assert "today:  every 429 answered with an error object, an exhausted quota included" in (
        done.stdout
    )
    assert "compat.QuotaExceededError (stop: no money left)" in done.stdout
    assert done.stdout.rstrip().endswith(
        "6 use(s) of openai.error in 1 of 1 file(s) scanned; "
        "1 except chain clause(s) whose meaning changes with v1 names"
    )


def test_fix_keeps_formatting_and_is_idempotent(fixed_sample: Path) -> None:
    """scan --fix keeps comments and line count, and a second run changes nothing."""
    text = (fixed_sample / "handlers.py").read_text()
    original = (SAMPLE / "handlers.py").read_text()
    assert "# a wrong key: tell the operator" in text
    assert 'from compat.legacy import (  # the two that mean "try later"' in text
    assert len(original.splitlines()) == len(text.splitlines())
    before = {p.name: p.read_bytes() for p in fixed_sample.glob("*.py")}
    done = scan(str(fixed_sample), "--fix")
    assert 0 == done.returncode
    assert before == {p.name: p.read_bytes() for p in fixed_sample.glob("*.py")}
    assert 0 == scan(str(fixed_sample)).returncode


@pytest.mark.parametrize(
    ("source", "fixed"),
    [
        (
            "import openai\nx = openai.error.Timeout\n",
            "import openai\nimport compat.legacy\nx = compat.legacy.Timeout\n",
        ),
        (
            "import openai as oa\ntry:\n    pass\nexcept oa.error.APIError:  # keep me\n    pass\n",
            "import openai as oa\nimport compat.legacy\ntry:\n    pass\nexcept compat.legacy.APIError:  # keep me\n    pass\n",
        ),
        (
            "from openai import OpenAI, error\nerror.RateLimitError\n",
            "from openai import OpenAI\nfrom compat import legacy as error\nerror.RateLimitError\n",
        ),
        (
            "from openai.error import *\nraise Timeout()\n",
            "from compat.legacy import *\nraise Timeout()\n",
        ),
        ("s = 'openai.error.RateLimitError'  # openai.error in a comment\n", None),
        (
            "import openai.error\r\nopenai.error.TryAgain\r\n",
            "import openai, compat.legacy\r\ncompat.legacy.TryAgain\r\n",
        ),
        # Comments stay, inside and after the statement; a line left empty goes.
        (
            "from openai import (\n    error as e,  # keep\n)\ne.Timeout\n",
            "from compat import (\n    legacy as e,  # keep\n)\ne.Timeout\n",
        ),
        (
            "import openai  # the SDK\nopenai.error.Timeout\n",
            "import openai  # the SDK\nimport compat.legacy\ncompat.legacy.Timeout\n",
        ),
        (
            "from openai import error, OpenAI  # noqa: F401\r\n",
            "from openai import OpenAI  # noqa: F401\r\nfrom compat import legacy as error\r\n",
        ),
        (
            "from openai import (\n    OpenAI,  # client\n    error,\n    Stream,\n)\n",
            "from openai import (\n    OpenAI,  # client\n    Stream,\n)\n"
            "from compat import legacy as error\n",
        ),
        (
            "from openai import (\n    OpenAI,  # client\n    error  # errors\n)\n",
            "from openai import (\n    OpenAI  # client\n    # errors\n)\n"
            "from compat import legacy as error\n",
        ),
        (
            "from openai import (OpenAI, error,)\n",
            "from openai import (OpenAI,)\nfrom compat import legacy as error\n",
        ),
        # A form feed is not a line break to Python, nor to the fix.
        (
            "\x0c\nimport openai\nx = 1; \x0c y = openai.error.Timeout\n",
            "\x0c\nimport openai\nimport compat.legacy\nx = 1; \x0c y = compat.legacy.Timeout\n",
        ),
    ],
)
def test_fix_spellings(source: str, fixed: str | None) -> None:
    """scan --fix rewrites each spelling of the legacy module's imports and uses, token by
    token."""
    findings, result = scan_source(source)
    if fixed is None:
        assert [] == findings
        assert source == result
        return
    assert findings
    assert fixed == result
    assert ([], result) == scan_source(result)


def test_scan_reports_unreadable_files(tmp_path: Path) -> None:
    """A file that does not parse is reported, and scan exits 2."""
    (tmp_path / "broken.py").write_text("def (:\n")
    done = scan(str(tmp_path))
    assert 2 == done.returncode
    assert "could not scan" in done.stdout


# ---------------------------------------------------------------------- explain


@pytest.mark.parametrize(
    ("transcript", "expected"),
    [
        (
            "openai_429_quota.txt",
            {"kind": "quota_exceeded", "retryable": False, "provider": "openai"},
        ),
        (
            "azure_429_retry_after.txt",
            {"kind": "rate_limited", "retry_after": 2.5, "provider": "azure"},
        ),
        ("gateway_4008.txt", {"kind": "rate_limited", "code": "4008", "provider": "gateway"}),
        ("proxy_502_html.txt", {"kind": "server_error", "retryable": True, "status": 502}),
    ],
)
def test_explain_real_transcripts(transcript: str, expected: dict[str, Any]) -> None:
    """explain reads real curl transcripts into the expected kind and fields, and shows no key."""
    path = Path(__file__).parent / "data" / "transcripts" / transcript
    done = subprocess.run(
        [sys.executable, "-m", "compat", "explain", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == done.returncode, done.stderr
    result = json.loads(done.stdout)
    assert expected == {key: result[key] for key in expected}
    assert result["default policy"].startswith(("retry after", "raise now"))
    assert "0123456789abcdef0123456789abcdef" not in done.stdout  # the Azure key on the curl line
