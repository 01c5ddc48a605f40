"""Workers forked from the parent, which imports the worker's modules (pjsua2 and numpy among them) once.

A fresh interpreter per worker spends over a second of CPU importing before its endpoint starts (1.5-2.5 s
on this 2-core box), and a 200-call run starts over 100 workers. The parent imports them once instead and
forks every worker at once, before any thread of its own is started (its reader threads come after), so a
child inherits no lock held by another thread. Each child starts its own session, gets its own stdin, stdout
and stderr, closes the pipe ends of its siblings, and runs `worker.serve` as a spawned worker does; it ends
with os._exit, so nothing of the parent's (buffers, atexit) runs twice.

`Forked` has the part of subprocess.Popen the pool uses (pid, stdin, stdout, poll, wait).
TUIPHONE_LOAD_SPAWN=1 spawns fresh interpreters instead (the benchmark compares both).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO


def can_fork() -> bool:
    """Forking is safe here: Linux, asked for, and no other thread in this process yet."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and not os.environ.get("TUIPHONE_LOAD_SPAWN")
            and threading.active_count() == 1)


def preload() -> None:
    """Import what every worker needs, here, once."""
    import tuiphone.engine.sip  # noqa: F401  (pjsua2: the worker's endpoint is made in the child)
    import tuiphone.load.worker  # noqa: F401


class Forked:
    """A forked worker process, as the pool sees it."""

    def __init__(self, pid: int, stdin_fd: int, stdout_fd: int):
        self.pid = pid
        self.stdin: IO[str] = os.fdopen(stdin_fd, "w", buffering=1)
        self.stdout: IO[str] = os.fdopen(stdout_fd, "r")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"load worker {self.pid}", timeout or 0.0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode


def fork_workers(err_paths: list[Path]) -> list[Forked]:
    """One forked worker per stderr file, all forked before any is wrapped (see the module's docstring)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pipes = []        # (the child's stdin read end, our write end, our read end, the child's write end)
    for _ in err_paths:
        r0, w0 = os.pipe()
        r1, w1 = os.pipe()
        pipes.append((r0, w0, r1, w1))
    ours = [fd for p in pipes for fd in (p[1], p[2])]
    started: list[tuple[int, int, int]] = []
    try:
        for (r0, w0, r1, w1), err_path in zip(pipes, err_paths, strict=True):
            err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            pid = os.fork()
            if pid == 0:                         # the child: never returns
                _child(r0, w1, err, ours + [fd for p in pipes for fd in (p[0], p[3])])
            os.close(err)
            started.append((pid, w0, r1))
    finally:
        for r0, _, _, w1 in pipes:
            os.close(r0)
            os.close(w1)
    return [Forked(pid, w0, r1) for pid, w0, r1 in started]


def _child(stdin_fd: int, stdout_fd: int, err_fd: int, close: list[int]) -> None:
    code = 1
    try:
        os.setsid()
        os.dup2(stdin_fd, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(err_fd, 2)
        for fd in {*close, stdin_fd, stdout_fd, err_fd} - {0, 1, 2}:
            try:
                os.close(fd)
            except OSError:
                pass
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        sys.stdin = open(0, closefd=False)       # noqa: SIM115  (the parent's may hold read-ahead)
        from tuiphone.load.worker import serve
        code = serve()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(code)
