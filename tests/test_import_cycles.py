"""No import cycles inside tuiphone/: the graph of every import statement in each module (at the top, inside
functions, in try blocks; not under `if TYPE_CHECKING:`, which never runs) has no cycle. A cycle that works
today breaks the day someone moves an import to the top of a module. Read from the source with `ast`,
nothing is imported."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under `package_dir` (a package's own name for its __init__.py)."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, skipping the bodies of `if TYPE_CHECKING:` (not their else)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports_in(other)
            continue
        yield from _imports_in(child)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _imports(node)


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that module `name` (at `path`) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[:len(up) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            # `from a import b` imports a, and a.b too when b is a module
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:     # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    known = module_names(package_dir)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each module that is on a cycle, each cycle once, as [a, b, ..., a]."""
    found: dict[frozenset[str], list[str]] = {}
    for start in sorted(graph):
        parent: dict[str, str] = {}          # breadth-first from start's imports until one leads back to it
        queue: deque[str] = deque()
        for first in sorted(graph[start]):
            parent[first] = start
            queue.append(first)
        while queue and start not in parent:
            node = queue.popleft()
            for nxt in sorted(graph.get(node, ())):
                if nxt not in parent:
                    parent[nxt] = node
                    queue.append(nxt)
        if start not in parent:
            continue
        path, node = [start], parent[start]
        while node != start:
            path.append(node)
            node = parent[node]
        path.append(start)
        path.reverse()
        found.setdefault(frozenset(path), path)
    return sorted(found.values(), key=lambda c: (len(c), c))


def test_tuiphone_has_no_import_cycles():
    found = cycles(import_graph(ROOT / "tuiphone"))
    if found:
        pytest.fail(f"{len(found)} import cycles in tuiphone/:\n" + "\n".join(" -> ".join(c) for c in found),
                    pytrace=False)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pkg"


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    pkg = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/b.py": "def thing():\n    from . import c\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/d.py": "from pkg import a\n",
    })
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_imports_under_type_checking_do_not_count(tmp_path):
    pkg = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from typing import TYPE_CHECKING\nimport pkg.b\n",
        "pkg/b.py": ("import typing\nif typing.TYPE_CHECKING:\n    from pkg.a import X\nelse:\n    pass\n"
                     "if TYPE_CHECKING:\n    from .a import Y\n"),
    })
    assert import_graph(pkg) == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert cycles(import_graph(pkg)) == []
