"""No import cycle among the UI's modules (app, screens, widgets, messages, keymap, i18n), counting the imports
inside functions too: a screen that opens another imports it, so the shared pieces stay in modules that import
no screen (screens/base.py, screens/menu_list.py)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tuiphone"
UI = ("tuiphone.app", "tuiphone.messages", "tuiphone.keymap", "tuiphone.i18n", "tuiphone.screens", "tuiphone.widgets")


def _ui_modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if any(name == ui or name.startswith(ui + ".") for ui in UI):
            found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The UI modules `path` imports anywhere in it (`from tuiphone.screens import x` counts as screens.x)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            named.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            named.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module or ""
                         for a in node.names)
    return {n for n in named if n in modules}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in `graph`, or []."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_ui_modules():
    modules = _ui_modules()
    assert "tuiphone.screens.menu" in modules and "tuiphone.app" in modules
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert "tuiphone.screens.settings" in graph["tuiphone.screens.menu"]      # imports inside functions count
    assert _cycle(graph) == [], " -> ".join(_cycle(graph))
