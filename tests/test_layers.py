"""The import rules that keep compat's layers apart, read from the source with ``ast``.

The core (the modules directly in compat/) imports no adapter and no client: it
finds adapters only by module name, through its lazy registries. Adapters
(adapters/, installed as compat.adapters) import only compat's public names,
compat.extend and each other, and never the library they read. ``import compat``
loads none of them, and no SDK or HTTP library.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted((ROOT / "compat").glob("*.py"))
ADAPTERS = sorted((ROOT / "adapters").glob("*.py"))
#: The core modules that name adapter modules, as strings, for lazy loading.
REGISTRIES = {"__init__.py", "_translate.py", "_sources.py"}
#: The libraries the adapters read without importing them.
LIBRARIES = {"openai", "httpx", "httpx2", "httpcore", "requests"}


def imports(path: Path) -> Iterator[tuple[str, str, bool]]:
    """Every import in *path*: (module, imported name or "", inside `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            checking.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, "", id(node) in checking
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            for alias in node.names:
                yield node.module or "", alias.name, id(node) in checking


def strings(path: Path) -> Iterator[str]:
    """The string constants of *path*'s code, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.value


def test_the_layout_is_what_the_rules_read() -> None:
    """The folders the rules read hold the modules they are about."""
    assert {"_classify.py", "_answer.py", "_sources.py", "extend.py"} <= {p.name for p in CORE}
    assert {"openai_v1.py", "openai_legacy.py", "azure.py", "gateway.py", "http.py"} <= {
        p.name for p in ADAPTERS
    }
    assert (ROOT / "compat" / "adapters").resolve() == (ROOT / "adapters").resolve()


@pytest.mark.parametrize("path", CORE, ids=[p.name for p in CORE])
def test_the_core_imports_no_adapter_and_no_client(path: Path) -> None:
    """No core module imports an adapter or a client; the package's own __init__ names
    them only for type checkers (at run time it forwards names lazily)."""
    for module, _, for_type_checkers in imports(path):
        if module.startswith(("compat.adapters", "compat.clients")):
            assert path.name == "__init__.py", f"{path.name} imports {module}"
            assert for_type_checkers, f"__init__.py imports {module} at run time"


@pytest.mark.parametrize("path", CORE, ids=[p.name for p in CORE])
def test_the_core_names_adapters_only_in_its_registries(path: Path) -> None:
    """Adapter modules are named (for lazy loading) only by the registries."""
    named = [s for s in strings(path) if s.startswith("compat.adapters")]
    assert not named or path.name in REGISTRIES, f"{path.name} names {named}"


@pytest.mark.parametrize("path", ADAPTERS, ids=[p.name for p in ADAPTERS])
def test_adapters_import_only_the_public_interface(path: Path) -> None:
    """An adapter imports compat's public names, compat.extend and other adapters only,
    and never the library it reads."""
    for module, name, _ in imports(path):
        root = module.split(".")[0]
        assert root not in LIBRARIES, f"{path.name} imports {module}"
        if root != "compat":
            continue
        assert module in ("compat", "compat.extend") or module.startswith("compat.adapters"), (
            f"{path.name} imports {module}"
        )
        assert not name.startswith("_") or module.startswith("compat.adapters"), (
            f"{path.name} imports {module}.{name}"
        )


def test_the_extend_interface_imports_only_the_core() -> None:
    """compat.extend, the adapters' interface, is made of the core's names only."""
    modules = {module for module, _, _ in imports(ROOT / "compat" / "extend.py")}
    assert modules
    assert all(m == "__future__" or m.startswith("compat._") for m in modules), modules


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}; print('\\n'.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return set(out.split())


def test_import_compat_loads_no_adapter_client_sdk_or_http_library() -> None:
    """`import compat` (and touching the error model) loads no adapter, no client, no SDK,
    no httpx and no requests."""
    for code in ("import compat", "import compat; compat.LLMError; compat.ErrorKind"):
        loaded = loaded_after(code)
        assert not {m for m in loaded if m.startswith(("compat.adapters", "compat.clients"))}
        assert not {m.split(".")[0] for m in loaded} & LIBRARIES


def test_reading_an_answer_loads_the_sources_but_no_library() -> None:
    """The first answer read loads the built-in sources through the registry, and still
    no SDK or HTTP library."""
    loaded = loaded_after("import compat; compat.from_response(429, {}, b'{}')")
    assert {"compat.adapters.azure", "compat.adapters.gateway", "compat.adapters.http"} <= loaded
    assert not {m.split(".")[0] for m in loaded} & LIBRARIES


def test_every_test_says_what_it_shows() -> None:
    """Every test function of the suite has a docstring: a newcomer reads what it shows
    before how."""
    missing = []
    for path in sorted(Path(__file__).resolve().parent.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.name.startswith("test")
                and not ast.get_docstring(node)
            ):
                missing.append(f"{path.name}:{node.lineno} {node.name}")
    assert [] == missing


def test_no_test_module_imports_another() -> None:
    """Helpers shared by tests live in helper modules (tests/bodies.py, tests/conftest.py,
    ...), never in a test module another one imports."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for module, name, _ in imports(path):
            if module.startswith("tests.test_") or (module == "tests" and name.startswith("test_")):
                offenders.append(f"{path.name} imports {module or name}")
    assert not offenders, offenders
