"""The parent's side of the workers: start them (each its own process, session and SIP port), read their
JSON lines on one thread each, stop them by PID. This pjsua2 wheel holds CALLS_PER_WORKER calls per process."""

from __future__ import annotations

import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

CALLS_PER_WORKER = 4          # PJSUA_MAX_CALLS of this wheel: a 5th call in one process is refused


class WorkerFailed(Exception):
    """A worker could not start; the message says why."""


class Worker:
    def __init__(self, index: int, spec: dict[str, Any], events: queue.SimpleQueue, logdir: Path,
                 proc: Any = None):
        self.index = index
        self.err_path = logdir / f"worker-{index}.err"
        self.events = events
        self.address = ""
        self.active = 0                   # calls given and not finished
        self.talking = 0                  # of those, answered (calling side)
        self.given: set[int] = set()      # the numbers of those calls (calling side)
        self.cpu_s = 0.0
        self.bye: dict[str, Any] = {}     # its last line: CPU, calls left, whether it unregistered
        self.frame_ports = 0              # Python frame ports the worker made (none: its media is pjmedia's)
        self.scratch = ""                 # the worker's folder of WAV files, removed here too when it crashed
        self.done = threading.Event()
        self._ready: queue.SimpleQueue[dict] = queue.SimpleQueue()
        if proc is not None:
            self.proc = proc                  # forked already (fork.py)
        else:
            with open(self.err_path, "wb") as err:
                self.proc = subprocess.Popen([sys.executable, "-m", "tuiphone.load.worker"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({**spec, "index": index}) + "\n")
        self.proc.stdin.flush()
        threading.Thread(target=self._read, name=f"load-worker-{index}", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "ready" in msg or "error" in msg:
                self._ready.put(msg)
            elif "talking" in msg:
                self.talking += 1                 # the calling side: answered; the record follows at the end
            elif "up" in msg:
                self.active = msg["up"]           # the answering side: calls up in the worker now
            elif "bye" in msg:
                self.cpu_s = msg.get("cpu_s", 0.0)
                self.bye = msg
                self.frame_ports = msg.get("frame_ports", 0)
            else:
                self.events.put((self, msg))
        self._ready.put({"error": "the worker ended"})
        self.done.set()
        self.events.put((self, {"gone": True}))

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        try:
            msg = self._ready.get(timeout=timeout)
        except queue.Empty:
            raise WorkerFailed(f"load worker {self.index} did not start within {timeout:g} s") from None
        if "error" in msg:
            tail = self.err_path.read_text(errors="replace").strip()[-400:]
            raise WorkerFailed(f"load worker {self.index} could not start: {msg['error']}"
                               + (f" ({tail})" if tail and msg["error"] == "the worker ended" else ""))
        self.address = msg["address"]
        self.scratch = msg.get("scratch", "")
        return msg

    def tell(self, **cmd: Any) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def stop(self, timeout: float = 8.0) -> None:
        """Ask it to hang up and quit; SIGTERM then SIGKILL by PID when it does not."""
        if self.proc.poll() is None:
            self.tell(cmd="stop")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(self.proc.pid, sig)
                    self.proc.wait(3)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
        self.done.wait(2)
        if self.scratch and self.proc.poll() is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def start_workers(n: int, spec: dict[str, Any], logdir: Path, events: queue.SimpleQueue,
                  timeout: float = 30.0) -> list[Worker]:
    """Start `n` workers at once and wait for all; on any failure stop the started ones and raise."""
    return start_these([spec] * n, logdir, events, timeout)


def start_these(specs: list[dict[str, Any]], logdir: Path, events: queue.SimpleQueue,
                timeout: float = 30.0) -> list[Worker]:
    """Start one worker per spec (worker i gets specs[i]) at once and wait for all, as start_workers. They are
    forked from this process when it can (fork.py), else each is a fresh interpreter."""
    from tuiphone.load import fork

    n = len(specs)
    procs: list[Any] = [None] * n
    if fork.can_fork():
        fork.preload()
        procs = list(fork.fork_workers([logdir / f"worker-{i}.err" for i in range(n)]))
    workers = [Worker(i, spec, events, logdir, procs[i]) for i, spec in enumerate(specs)]
    try:
        for w in workers:
            w.wait_ready(timeout)
    except BaseException:
        stop_all(workers)
        raise
    return workers


def stop_all(workers: list[Worker]) -> None:
    for w in workers:
        if w.proc.poll() is None:
            w.tell(cmd="stop")
    for w in workers:
        w.stop()


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def own_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes `pids` have used so far (from /proc; gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK
