"""The layout's import rules: rag/ knows nothing of Slack, the scheduler, bot/, jobs/ or the composition root; inside
rag/, each subpackage imports only the shared modules and the subpackages its ``__init__`` docstring names."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAG = ROOT / "rag"
FORBIDDEN = {
    "rag": {"bot", "jobs", "bestbefore", "slack_bolt", "slack_sdk", "apscheduler"},
    "bot": {"jobs", "bestbefore", "apscheduler"},
    "jobs": {"bot", "bestbefore", "slack_sdk", "slack_bolt"},  # jobs compute data; the bot publishes (#11)
}
SUBPACKAGES = sorted(p.name for p in RAG.iterdir() if (p / "__init__.py").exists())
SHARED = sorted(p.stem for p in RAG.glob("*.py") if p.stem != "__init__")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (type-only imports make no runtime dependency)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def imported_modules(path: Path, *, depth: int = 1) -> set[str]:
    """Absolute imports of ``path``, cut to their first ``depth`` dotted parts."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(".".join(alias.name.split(".")[:depth]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(".".join(node.module.split(".")[:depth]))
    return found


def allowed_subpackages(package: str) -> set[str]:
    """The ``rag.<name>`` subpackages named in the docstring's "Imports ..." sentence (up to ";" or the full stop)."""
    doc = ast.get_docstring(ast.parse((RAG / package / "__init__.py").read_text(encoding="utf-8"))) or ""
    match = re.search(r"Imports (.*?)(?:;|\.\s|\.$)", " ".join(doc.split()))
    assert match, f"rag/{package}/__init__.py must say what it imports in a sentence starting with 'Imports'"
    return set(re.findall(r"``rag\.(\w+)``", match.group(1)))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_the_layout(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    violations = {str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN[package]) for path in files}
    assert {path: mods for path, mods in violations.items() if mods} == {}


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_rag_subpackages_import_only_what_their_docstring_names(package: str) -> None:
    allowed = {f"rag.{name}" for name in [*SHARED, package, *allowed_subpackages(package)]}
    assert allowed_subpackages(package) <= set(SUBPACKAGES), "the docstring names a subpackage that does not exist"
    violations = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path, depth=2) if m.startswith("rag.") and m not in allowed
        )
        for path in sorted((RAG / package).rglob("*.py"))
    }
    assert {path: mods for path, mods in violations.items() if mods} == {}


def test_shared_rag_modules_import_only_each_other() -> None:
    allowed = {f"rag.{name}" for name in SHARED}
    violations = {
        path.name: sorted(m for m in imported_modules(path, depth=2) if m.startswith("rag.") and m not in allowed)
        for path in sorted(RAG.glob("*.py"))
    }
    assert {name: mods for name, mods in violations.items() if mods} == {}


def test_benchmarks_import_test_helpers_only_from_tests_fakes() -> None:
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        helpers = {m for m in imported_modules(path, depth=3) if m.startswith("tests.")}
        assert {m for m in helpers if not m.startswith("tests.fakes")} == set(), path.name


def test_the_architecture_picture_is_generated_from_the_current_code() -> None:
    graph = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "import_graph.py")], capture_output=True, text=True, check=True
    ).stdout
    assert graph.strip() in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"), (
        "docs/architecture.md is out of date: paste the output of tools/import_graph.py into it"
    )
