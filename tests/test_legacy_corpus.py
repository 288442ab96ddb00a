"""Real legacy error handling, run as it was on openai 0.28.1 and after scan --fix on the
current SDK: the same branch, the same attempts, the same sleeps.

tests/data/legacy_corpus holds the error handling of ten public projects written
for openai<1 (each file names its source). For every file and every scenario
below (each fault answered twice, then a success), the handler runs against
compat's fault server with ``time.sleep`` recorded instead of slept and the
random jitter seeded, and the run is observed: the statements of the file that
ran, the requests the server got, the sleeps asked for, and how the call ended.
(Statements, not lines: a line event inside a statement of several lines is
counted for the statement, since Python versions differ on which line they report.
The statements are compared only on the Python version that recorded them.)

* On openai 0.28.1 the files run unchanged; expected.json holds what they did
  (``COMPAT_RECORD_CORPUS=1`` rewrites it there).
* On the current SDK the files run after ``python -m compat scan --fix``, with
  the legacy API (``openai.ChatCompletion.create``, ...) answered by a v1 client,
  as scan's API advice says; the one branch on a text 0.28.1 wrote itself is
  rewritten as scan's advice for it says (``str(e)`` becomes ``e.user_message``).
  Every observation must equal 0.28.1's; without that one rewrite, exactly the
  runs that reach that branch differ.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import compat.legacy as legacy
from compat.migration.scan import scan_source
from compat.testing import FaultServer, faults

try:
    import openai
except ImportError:  # pragma: no cover - every tox environment installs one
    openai = None

V1 = openai is not None and hasattr(openai, "OpenAI")
LEGACY = openai is not None and not V1
CORPUS = Path(__file__).parent / "data" / "legacy_corpus"
EXPECTED = CORPUS / "expected.json"
FILES = sorted(p.stem for p in CORPUS.glob("*.py"))
MESSAGES = [{"role": "user", "content": "hi"}]
#: Seconds a request may take, on both SDKs; the timeout scenario answers later.
TIMEOUT = 1

SCENARIOS: dict[str, Callable[[], faults.Fault]] = {
    "429 with Retry-After": lambda: faults.rate_limited(7.0, signal="integer"),
    "429 quota": faults.quota_exceeded,
    "503": faults.overloaded,
    "500": faults.server_error,
    "502 HTML page": lambda: faults.html_page(502),
    "400 context length": faults.context_length,
    "401": faults.unauthorized,
    "timeout": lambda: faults.slow(3.0),
    "connection reset": faults.reset,
}

#: How each file's handler is called: a function of the loaded module and the legacy
#: API (the openai module on 0.28.1, a v1 client behind the legacy names otherwise).
CALLS: dict[str, Callable[[Any, Any], Callable[[], Any]]] = {
    "autogen_completion": lambda m, api: (
        lambda: m.Completion._get_response(
            {"model": "gpt-4", "messages": MESSAGES}, use_cache=False
        )
    ),
    "autogpt_llm_utils": lambda m, api: m.retry_openai_api()(
        lambda: api.ChatCompletion.create(model="gpt-4o", messages=MESSAGES)
    ),
    "babyagi_openai_call": lambda m, api: lambda: m.openai_call("hi", model="gpt-4o"),
    "bertopic_openai": lambda m, api: (
        lambda: m.chat_completions_with_backoff(model="gpt-4o", messages=MESSAGES)
    ),
    "canopy_openai_llm": lambda m, api: lambda: m.OpenAILLM("gpt-4o").chat_completion(MESSAGES),
    "langchain_chat_openai": lambda m, api: (
        lambda: m.ChatOpenAI(model_name="gpt-4o").completion_with_retry(
            model="gpt-4o", messages=MESSAGES
        )
    ),
    "lmeval_gpt3": lambda m, api: (
        lambda: m.oa_completion(engine="davinci", prompt="hi", max_tokens=1)
    ),
    "mindsdb_openai_helpers": lambda m, api: (
        lambda: m.retry_with_exponential_backoff(api.ChatCompletion.create)(
            model="gpt-4o", messages=MESSAGES
        )
    ),
    "promptflow_common": lambda m, api: m.handle_openai_error()(
        lambda: api.ChatCompletion.create(model="gpt-4o", messages=MESSAGES)
    ),
    "tooltalk_openai_utils": lambda m, api: (
        lambda: m.openai_chat_completion(model="gpt-4o", messages=MESSAGES)
    ),
}

#: The runs that reach a branch on a text 0.28.1 wrote itself, and so go another way
#: after --fix alone (scan reports the branch; its advice for it is applied above).
TEXT_BRANCH_RUNS = {("promptflow_common", "connection reset")}


# ---------------------------------------------------------------------- the v1 client behind the legacy API


def _v1_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A legacy call's arguments as the v1 SDK names them (scan's API advice)."""
    out = dict(kwargs)
    for old, new in (
        ("engine", "model"),
        ("deployment_id", "model"),
        ("request_timeout", "timeout"),
    ):
        if old in out:
            out[new] = out.pop(old)
    for setting in ("api_key", "api_base", "api_type", "api_version", "organization"):
        out.pop(setting, None)
    return out


class LegacyAPI(types.ModuleType):
    """What the corpus calls as ``openai`` on the current SDK: the legacy API's names
    (``ChatCompletion.create``, ``Completion.create``, ``Embedding.create`` and the
    module settings) answered by a v1 client; any other name is the SDK's own."""

    def __init__(self) -> None:
        super().__init__("openai")
        self.client: Any = None
        self.api_key, self.api_base, self.api_type = "sk-test", None, "open_ai"
        self.api_version = self.organization = self.api_key_path = None
        api = self

        def resource(call: Callable[[Any], Callable[..., Any]]) -> type:
            class Resource:
                @classmethod
                def create(cls, *args: Any, **kwargs: Any) -> Any:
                    result = call(api.client)(**_v1_arguments(kwargs))
                    return legacy.OpenAIObject(result.model_dump())

            return Resource

        self.ChatCompletion = resource(lambda c: c.chat.completions.create)
        self.Completion = resource(lambda c: c.completions.create)
        self.Embedding = resource(lambda c: c.embeddings.create)

    def __getattr__(self, name: str) -> Any:
        return getattr(openai, name)


# ---------------------------------------------------------------------- running and observing


class Recorder:
    """``time.sleep`` for the test's thread: records the seconds instead of sleeping."""

    def __init__(self, real: Callable[[float], None]) -> None:
        self.real = real
        self.thread = threading.get_ident()
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        if threading.get_ident() == self.thread:
            self.sleeps.append(round(float(seconds), 6))
        else:
            self.real(seconds)


def load(path: Path, name: str, api: Any) -> Any:
    """Import *path* as module *name*, with *api* as ``openai`` while it runs (when given)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with _openai_as(api):
        spec.loader.exec_module(module)
    return module


class _openai_as:
    """``sys.modules["openai"]`` is *api* inside the block (nothing changes for None)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def __enter__(self) -> None:
        if self.api is not None:
            self.saved = sys.modules["openai"]
            sys.modules["openai"] = self.api

    def __exit__(self, *exc: Any) -> None:
        if self.api is not None:
            sys.modules["openai"] = self.saved


def observe(
    module: Any, path: Path, call: Callable[[], Any], server: FaultServer, api: Any
) -> dict[str, Any]:
    """Run *call* once and say what happened: lines of *path* run, requests, sleeps, end."""
    recorder = Recorder(time.sleep)
    target = str(path)
    lines: set[int] = set()

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            lines.add(frame.f_lineno)
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == target else None

    patched = [name for name, value in vars(module).items() if value is time.sleep]
    previous = sys.gettrace()
    random.seed(20231106)
    time.sleep = recorder  # type: ignore[assignment]
    for name in patched:
        setattr(module, name, recorder)
    sys.settrace(tracer)
    try:
        with _openai_as(api):
            call()
        outcome = "returned"
    except Exception as exc:
        klass = legacy.legacy_class(exc)
        outcome = f"raised {klass.__name__ if klass is not None else type(exc).__name__}"
    finally:
        sys.settrace(previous)
        time.sleep = recorder.real  # type: ignore[assignment]
        for name in patched:
            setattr(module, name, recorder.real)
    return {
        "outcome": outcome,
        "attempts": len(server.requests),
        "sleeps": recorder.sleeps,
        "lines": sorted(lines),
    }


def statement_starts(source: str) -> dict[int, int]:
    """Each line of *source* -> the first line of the innermost statement (or except
    clause) it belongs to."""
    out: dict[int, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.stmt, ast.ExceptHandler)) and node.end_lineno is not None:
            size = node.end_lineno - node.lineno
            for line in range(node.lineno, node.end_lineno + 1):
                if line not in out or size < out[line][1]:
                    out[line] = (node.lineno, size)
    return {line: start for line, (start, _) in out.items()}


def line_map(original: str, fixed: str) -> dict[int, int]:
    """Line numbers of *fixed* -> the same lines in *original* (lines --fix only edited
    map one to one; lines it added map nowhere)."""
    out: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(
        None, original.splitlines(), fixed.splitlines(), autojunk=False
    )
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and a2 - a1 == b2 - b1):
            for offset in range(b2 - b1):
                out[b1 + offset + 1] = a1 + offset + 1
    return out


def run_scenarios(
    stem: str, path: Path, api: Any, mapping: dict[int, int] | None
) -> dict[str, Any]:
    """Every scenario for one file, on a fresh fault server each."""
    starts = statement_starts(path.read_text("utf-8"))
    results: dict[str, Any] = {}
    for scenario, fault in SCENARIOS.items():
        with FaultServer() as server:
            server.script(fault(), times=2)
            if api is None:
                openai.api_base, openai.api_key = server.openai_url, "sk-test"
                openai.api_type, openai.api_version, openai.organization = "open_ai", None, None
            else:
                api.client = openai.OpenAI(
                    base_url=server.openai_url, api_key="sk-test", max_retries=0, timeout=TIMEOUT
                )
            try:
                module = load(path, f"corpus_{stem}_{abs(hash((str(path), scenario)))}", api)
                if stem == "autogen_completion":
                    module.Completion.request_timeout = TIMEOUT  # doubled on each timeout
                found = observe(module, path, CALLS[stem](module, api or openai), server, api)
            finally:
                if api is not None:
                    api.client.close()
        statements = {starts.get(n, n) for n in found["lines"]}
        if mapping is not None:
            statements = {mapping.get(n, -n) for n in statements}
        found["lines"] = sorted(statements)
        results[scenario] = found
    return results


# ---------------------------------------------------------------------- the corpus, both ways


PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def expected() -> dict[str, Any]:
    """What the runs on 0.28.1 did, per file, and the Python version that ran them."""
    if not EXPECTED.exists():
        return {"python": PYTHON, "files": {}}
    return json.loads(EXPECTED.read_text("utf-8"))  # type: ignore[no-any-return]


def comparable(observation: dict[str, Any]) -> dict[str, Any]:
    """An observation without its statements when another Python version recorded them."""
    if expected()["python"] == PYTHON:
        return observation
    return {key: value for key, value in observation.items() if key != "lines"}


@pytest.fixture
def legacy_timeout() -> Iterator[None]:
    """0.28.1's default request timeout (600 s) shortened to the scenarios' one."""
    requestor = importlib.import_module("openai.api_requestor")
    saved = requestor.TIMEOUT_SECS
    requestor.TIMEOUT_SECS = TIMEOUT
    try:
        yield
    finally:
        requestor.TIMEOUT_SECS = saved


@pytest.mark.skipif(not LEGACY, reason="the legacy SDK (openai<1) is not installed")
@pytest.mark.parametrize("stem", FILES)
def test_corpus_on_0_28_1(stem: str, tmp_path: Path, legacy_timeout: None) -> None:
    """Each original handler, unchanged, on openai 0.28.1: what it did is what
    expected.json says (rewritten when COMPAT_RECORD_CORPUS=1)."""
    path = tmp_path / f"{stem}.py"
    shutil.copy(CORPUS / f"{stem}.py", path)
    found = run_scenarios(stem, path, None, None)
    if os.environ.get("COMPAT_RECORD_CORPUS") == "1":
        document = expected()
        if document["python"] != PYTHON:
            document = {"python": PYTHON, "files": {}}
        document["files"][stem] = found
        EXPECTED.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", "utf-8")
    recorded = expected()["files"][stem]
    for scenario in SCENARIOS:
        assert comparable(recorded[scenario]) == comparable(found[scenario]), scenario


@pytest.fixture(scope="module")
def fixed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus rewritten by ``python -m compat scan --fix``; no use of openai.error
    is left, and a second run changes nothing."""
    target = tmp_path_factory.mktemp("corpus") / "fixed"
    shutil.copytree(CORPUS, target)
    done = subprocess.run(
        [sys.executable, "-m", "compat", "scan", str(target), "--fix", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    assert len(FILES) == len(report["fixed_files"]) == report["files_scanned"]
    before = {p.name: p.read_bytes() for p in target.glob("*.py")}
    again = subprocess.run(
        [sys.executable, "-m", "compat", "scan", str(target), "--fix", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert [] == json.loads(again.stdout)["fixed_files"]
    assert before == {p.name: p.read_bytes() for p in target.glob("*.py")}
    left = {f["what"] for f in json.loads(again.stdout)["findings"]}
    assert left <= {"api", "text"}
    return target


def with_text_advice(source: str) -> str:
    """*source* with each branch on 0.28.1's texts rewritten as scan advises."""
    for finding in scan_source(source)[0]:
        if finding.what == "text":
            assert finding.compat_expr is not None
            assert finding.code in source
            source = source.replace(finding.code, finding.compat_expr)
    return source


@pytest.mark.skipif(not V1, reason="the v1+ SDK is not installed")
@pytest.mark.parametrize("stem", FILES)
def test_corpus_after_fix_on_the_current_sdk(stem: str, fixed_corpus: Path, tmp_path: Path) -> None:
    """Each handler after --fix (and scan's advice for texts) takes the branch it took on
    0.28.1, makes as many requests, sleeps as long and ends the same way, in every
    scenario; without the text advice, only the runs through that branch differ."""
    original = (CORPUS / f"{stem}.py").read_text("utf-8")
    fixed = (fixed_corpus / f"{stem}.py").read_text("utf-8")
    assert "openai.error" not in fixed
    api = LegacyAPI()
    recorded = expected()["files"][stem]

    advised = with_text_advice(fixed)
    path = tmp_path / f"{stem}_advised.py"
    path.write_text(advised, "utf-8")
    found = run_scenarios(stem, path, api, line_map(original, advised))
    for scenario in SCENARIOS:
        assert comparable(recorded[scenario]) == comparable(found[scenario]), scenario

    if advised != fixed:
        path = tmp_path / f"{stem}_fixed.py"
        path.write_text(fixed, "utf-8")
        plain = run_scenarios(stem, path, api, line_map(original, fixed))
        for scenario in SCENARIOS:
            if (stem, scenario) in TEXT_BRANCH_RUNS:
                assert comparable(recorded[scenario]) != comparable(plain[scenario]), scenario
            else:
                assert comparable(recorded[scenario]) == comparable(plain[scenario]), scenario
    else:
        assert not any((stem, s) in TEXT_BRANCH_RUNS for s in SCENARIOS)


def test_corpus_files_name_their_source() -> None:
    """Every corpus file says where it comes from, at which commit and under which
    licence, and has a way to be called here."""
    assert len(FILES) >= 10
    assert set(FILES) == set(CALLS)
    for stem in FILES:
        head = (CORPUS / f"{stem}.py").read_text("utf-8").split("\n\n", 1)[0]
        assert "# Source: https://github.com/" in head, stem
        assert "commit" in head, stem
        assert "licence: " in head, stem
