"""Whether the phone's process has ended, as the attached TUI decides it when the phone's socket closes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tuiphone.screens import phone_stopped
from tuiphone.screens.phone_stopped import _ended


@contextmanager
def child(seconds: float) -> Iterator[subprocess.Popen]:
    """A child process that sleeps `seconds`, killed and reaped at the end."""
    proc = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_child_not_yet_reaped_has_ended_at_once():
    with child(30) as proc:
        proc.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(") ", 1)[1][:1] != "Z":   # a zombie: not reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert asyncio.run(_ended(proc.pid))


def test_a_process_that_exits_a_moment_after_its_socket_closed_has_ended(monkeypatch):
    monkeypatch.setattr(phone_stopped, "EXIT_WAIT_S", 5.0)
    with child(0.3) as proc:
        started = time.monotonic()
        assert asyncio.run(_ended(proc.pid))
        assert time.monotonic() - started < 5.0


def test_a_phone_still_running_has_not_ended(monkeypatch):
    monkeypatch.setattr(phone_stopped, "EXIT_WAIT_S", 0.2)
    with child(30) as proc:
        assert not asyncio.run(_ended(proc.pid))
