"""Print the package import graph as a Mermaid diagram (the picture in docs/architecture.md).

    .venv/bin/python tools/import_graph.py          # paste the output between the ```mermaid fences

Nodes are the top-level packages and rag's subpackages (rag's shared modules are one node, ``rag (shared)``); an
edge A --> B means some module of A imports B at run time (imports under ``if TYPE_CHECKING:`` are left out).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bestbefore", "bot", "jobs", "rag")


def node_of(module: str) -> str | None:
    """The graph node a dotted module name belongs to (None for third-party modules)."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    if parts[0] == "rag":
        sub = parts[1] if len(parts) > 1 else ""
        return f"rag.{sub}" if (ROOT / "rag" / sub / "__init__.py").exists() else "rag (shared)"
    return parts[0]


def runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def edges() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = node_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for module in runtime_imports(path):
                target = node_of(module)
                if source and target and target != source:
                    found.add((source, target))
    return found


def mermaid(graph: set[tuple[str, str]]) -> str:
    names = sorted({n for edge in graph for n in edge})
    ids = {name: name.replace("rag (shared)", "rag_shared").replace(".", "_") for name in names}
    lines = ["graph TD"]
    lines += [f'    {ids[n]}["{n}"]' for n in names]
    lines += [f"    {ids[a]} --> {ids[b]}" for a, b in sorted(graph)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(mermaid(edges()) + "\n")
