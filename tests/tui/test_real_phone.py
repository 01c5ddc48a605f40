"""The UI over the real engine: start on port 0 bound to 127.0.0.1, show idle, quit cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_app_runs_over_the_real_phone_and_quits_cleanly():
    proc = subprocess.run([sys.executable, "-m", "tests.tui.real_phone_smoke"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert out.splitlines()[0] == "IdleScreen"
    assert "smoke" in out and "no audio device" in out
    assert "RETURN 0" in out
    assert out.rstrip().endswith("QUIT-OK")
