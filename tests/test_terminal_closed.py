"""SIGHUP (the terminal closed) asks for one clean stop; later SIGHUPs, and writes to the dead terminal, are
harmless; `nohup` keeps its meaning."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys

from tuiphone.terminal_closed import _QuietWhenGone

PROGRAM = """
import os, signal, time
from tuiphone.terminal_closed import stop_on_terminal_closed
stops = []
stop_on_terminal_closed(lambda: stops.append(1))
for _ in range(2):
    os.kill(os.getpid(), signal.SIGHUP)
    time.sleep(0.05)
print(len(stops))
"""


def _run(ignored: bool) -> subprocess.CompletedProcess:
    def start() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN if ignored else signal.SIG_DFL)
    return subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=20,
                          preexec_fn=start)


def test_the_first_sighup_stops_and_a_second_one_cannot_kill_the_stopping_phone():
    proc = _run(ignored=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "1"), proc.stderr


def test_a_sighup_ignored_from_the_start_stays_ignored_as_nohup_asks():
    proc = _run(ignored=True)
    assert (proc.returncode, proc.stdout.strip()) == (0, "0"), proc.stderr


class _DeadTerminal:
    def write(self, text: str) -> int:
        raise OSError(errno.EIO, "Input/output error")

    def flush(self) -> None:
        raise OSError(errno.EIO, "Input/output error")

    def fileno(self) -> int:
        return 2


def test_writes_to_a_terminal_that_has_gone_go_nowhere():
    out = _QuietWhenGone(_DeadTerminal())
    assert out.write("\x1b[?1049l") == len("\x1b[?1049l")
    out.flush()
    assert out.gone and out.fileno() == 2
