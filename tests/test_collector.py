"""The collector while a process of the phone starts: held off by the entry point, back to Python's own
thresholds once a command runs. Checked in child processes: the thresholds are the process's own."""

from __future__ import annotations

import json
import subprocess
import sys

from tuiphone.collector import PYTHON_THRESHOLDS, START_THRESHOLD

CHILD = """
import gc, json, sys
import click
from tuiphone.cli import main as group

@group.command("probe")
def probe():
    print(json.dumps({"running": gc.get_threshold()}))

import tuiphone.__main__ as entry
def seen_at_start(*args, **kwargs):
    print(json.dumps({"starting": gc.get_threshold()}))
    return real(*args, **kwargs)
real, group.main = group.main, seen_at_start
sys.argv = ["tuiphone", "probe"]
entry.main()
"""


def test_no_collection_runs_while_the_process_starts_and_a_command_runs_with_pythons_thresholds() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = {key: tuple(value) for line in out.stdout.splitlines() for key, value in json.loads(line).items()}
    assert seen["starting"][0] == START_THRESHOLD > 100_000
    assert seen["running"] == PYTHON_THRESHOLDS
