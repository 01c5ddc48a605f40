"""The collector while a process of the phone starts: held off by the entry point, back to Python's own
thresholds once a command runs. Checked in child processes: the thresholds are the process's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tuiphone.collector import PYTHON_THRESHOLDS, START_THRESHOLD

CHILD = """
import gc, json, sys
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


DAEMON = """
import gc, json, os, signal, sys, threading, time

def watch():
    deadline = time.monotonic() + 60
    while gc.get_freeze_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    print(json.dumps({"frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold(),
                      "switch": sys.getswitchinterval()}), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)       # the daemon stops as for any SIGTERM

threading.Thread(target=watch, daemon=True).start()
from tuiphone.__main__ import main
main()
"""


def test_the_daemon_once_up_keeps_what_lives_out_of_the_collector_and_hands_the_gil_over_sooner(tmp_path) -> None:
    """The daemon holds the sound devices: it tunes the interpreter as the TUI does (a full collection of its
    start's objects held the GIL ~50 ms)."""
    from tuiphone.audio.realtime import SWITCH_INTERVAL_S
    from tuiphone.collector import GC_THRESHOLDS

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    config = tmp_path / "phone.toml"
    config.write_text('[audio]\ninput_device = "null"\noutput_device = "null"\n')
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    out = subprocess.run([sys.executable, "-c", DAEMON, "--config", str(config), "--data-dir", str(tmp_path / "data"),
                          "--bind", "127.0.0.1", "--port", "0", "daemon"],
                         capture_output=True, text=True, timeout=90, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[0])
    assert seen["frozen"] > 10_000                  # the config's models, pjsua2's classes, numpy, ...
    assert tuple(seen["thresholds"]) == GC_THRESHOLDS
    assert seen["switch"] == SWITCH_INTERVAL_S
