"""Fixtures for the control tests: `tuiphone daemon` processes with their own XDG_RUNTIME_DIR, and `ctl`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.phoneproc import PhoneProc


@pytest.fixture
def runtime_dir(monkeypatch):
    """A short XDG_RUNTIME_DIR (a Unix socket path has 108 bytes) that the daemons and ctl inherit."""
    path = Path(tempfile.mkdtemp(prefix="tp-run-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def ctl_daemons(tmp_path, runtime_dir):
    """Factory: ctl_daemons(name="phone", config=None, ready=True) -> a started daemon PhoneProc; every one
    is stopped by its PID at teardown."""
    started: list[PhoneProc] = []

    def make(name: str = "phone", config: dict[str, Any] | None = None, ready: bool = True,
             config_name: str | None = None) -> PhoneProc:
        proc = PhoneProc(tmp_path, name, ["daemon"], config)
        if config_name is not None:         # a second daemon for another daemon's config file
            proc.config_path = tmp_path / f"{config_name}.toml"
            proc.argv[proc.argv.index("--config") + 1] = str(proc.config_path)
        proc.start()
        started.append(proc)
        if ready:
            proc.wait_ready()
        return proc

    yield make
    for proc in started:
        proc.stop()


def ctl(config: Path, *args: str, timeout: float = 20.0) -> tuple[int, Any, str]:
    """(exit code, parsed --json stdout or the text, stderr) of `tuiphone --config CONFIG ARGS...`."""
    done = subprocess.run([sys.executable, "-m", "tuiphone", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=os.environ.copy(), check=False)
    out = done.stdout
    try:
        parsed: Any = json.loads(out) if "--json" in args and out.strip() else out
    except json.JSONDecodeError:
        parsed = out
    return done.returncode, parsed, done.stderr
