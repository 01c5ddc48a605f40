"""Run `tuiphone page`/`listen` and ffmpeg inside a test namespace and read what they report."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.paging.netns import Netns

# until the cli group registers the paging commands, run them through the same click group by hand
_LAUNCH = ("from tuiphone.cli import main; from tuiphone.cli.paging import page, listen; "
           "main.add_command(page); main.add_command(listen); main(prog_name='tuiphone')")


def tuiphone_argv(*args: str, config: Path) -> list[str]:
    from tuiphone.cli import main

    head = [sys.executable, "-m", "tuiphone"] if "page" in main.commands else [sys.executable, "-c", _LAUNCH]
    return [*head, "--config", str(config), "--bind", "127.0.0.1", *args]


def start(ns: Netns, argv: Sequence[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_stderr(proc: subprocess.Popen, text: str, timeout: float = 15.0) -> None:
    """Block until `proc` writes a stderr line containing `text` (it says it is ready)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            line = proc.stderr.readline()
            seen.append(line)
            if text in line:
                return
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"{proc.args[-3:]} never said {text!r}; stderr: {''.join(seen)!r}")


def finish(proc: subprocess.Popen, timeout: float = 20.0) -> tuple[int, dict, str]:
    """Wait for a `--json` run; returns the exit code, the JSON object and stderr."""
    out, err = proc.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {out!r} (stderr {err!r})"
    return proc.returncode, json.loads(lines[0]), err


def wait_joined(ns: Netns, group: str, timeout: float = 10.0) -> None:
    """Block until some process in the namespace has joined `group` on loopback."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line.split()[:2] == ["inet", group] for line in ns.joined().splitlines()):
            return
        time.sleep(0.05)
    raise AssertionError(f"nobody joined {group}: {ns.joined()}")
