"""The engine and audio packages stay free of UI imports, and only engine/sip.py touches pjsua2."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tuiphone"


def _modules(sub: str) -> list[str]:
    return sorted("tuiphone." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
                  for p in (PACKAGE / sub).rglob("*.py") if p.name != "__init__.py")


def _loaded_after_import(*modules: str) -> set[str]:
    code = f"import sys, json, {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def test_engine_and_audio_import_neither_textual_nor_rich():
    loaded = _loaded_after_import(*_modules("engine"), *_modules("audio"))
    ui = sorted(m for m in loaded if m.split(".")[0] in ("textual", "rich"))
    assert not ui, f"engine/audio pull in {ui[:3]}"


def test_only_engine_sip_imports_pjsua2():
    importers = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "pjsua2" for n in names):
                importers.append(str(path.relative_to(PACKAGE)))
    assert importers == ["engine/sip.py"]


def test_phone_logic_loads_without_pjsua2():
    loaded = _loaded_after_import("tuiphone.engine.phone")
    assert "pjsua2" not in loaded


def test_start_up_loads_no_ui_and_no_click():
    loaded = _loaded_after_import("tuiphone.runtime", "tuiphone.daemon", "tuiphone.headless")
    ui = sorted(m for m in loaded if m.split(".")[0] in ("textual", "rich", "click"))
    assert not ui, f"runtime/daemon/headless pull in {ui[:3]}"


def test_the_command_modules_never_import_the_cli_group():
    back = []
    for path in (PACKAGE / "cli").glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "tuiphone.cli":
                back.append(path.name)
            elif isinstance(node, ast.Import) and any(a.name == "tuiphone.cli" for a in node.names):
                back.append(path.name)
    assert back == []
