"""The engine and audio packages stay free of UI imports, and only the package engine/sip/ touches pjsua2."""

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


def _pjsua2_importers(root: Path) -> list[str]:
    """The modules under `root` with an import of pjsua2 anywhere in them (a function's too), as paths from it."""
    importers = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "pjsua2" for n in names):
                importers.append(path.relative_to(root).as_posix())
                break
    return importers


def test_only_the_engine_sip_package_imports_pjsua2():
    importers = _pjsua2_importers(PACKAGE)
    assert importers, "nothing imports pjsua2: is the SIP package still where this test looks?"
    outside = [p for p in importers if not p.startswith("engine/sip/")]
    assert not outside, f"only engine/sip/ may import pjsua2, not {outside}"


def test_the_pjsua2_check_sees_an_import_outside_engine_sip(tmp_path):
    for where, text in {"engine/sip/calls.py": "import pjsua2 as pj\n",
                        "engine/capacity.py": "def f():\n    from pjsua2 import Endpoint\n",
                        "audio/devices.py": "import numpy, pjsua2.x\n"}.items():
        (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / where).write_text(text)
    assert _pjsua2_importers(tmp_path) == ["audio/devices.py", "engine/capacity.py", "engine/sip/calls.py"]


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
