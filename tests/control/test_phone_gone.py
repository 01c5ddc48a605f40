"""Whether the phone's process has ended, as the attached TUI decides it when the phone's socket closes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

from tuiphone.screens import phone_stopped
from tuiphone.screens.phone_stopped import _ended


def child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_killed_child_not_yet_reaped_has_ended_at_once():
    proc = child("import time; time.sleep(30)")
    try:
        proc.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while open(f"/proc/{proc.pid}/stat").read().rsplit(") ", 1)[1][:1] != "Z":   # a zombie: not reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert asyncio.run(_ended(proc.pid))
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_exits_a_moment_after_its_socket_closed_has_ended(monkeypatch):
    monkeypatch.setattr(phone_stopped, "EXIT_WAIT_S", 5.0)
    proc = child("import time; time.sleep(0.3)")
    try:
        started = time.monotonic()
        assert asyncio.run(_ended(proc.pid))
        assert time.monotonic() - started < 5.0
    finally:
        proc.kill()
        proc.wait()


def test_a_phone_still_running_has_not_ended(monkeypatch):
    monkeypatch.setattr(phone_stopped, "EXIT_WAIT_S", 0.2)
    proc = child("import time; time.sleep(30)")
    try:
        assert not asyncio.run(_ended(proc.pid))
    finally:
        proc.kill()
        proc.wait()
