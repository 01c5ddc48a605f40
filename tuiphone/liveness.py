"""Which process owns a call still in progress in the history, and whether that process still runs.

A history row written when a call starts names its process; when the database opens again, a row whose
process is gone (a crash, `kill -9`, a power cut) was interrupted. On Linux the name is the pid with the
process's start time and the boot id, so a pid reused by another process, or after a reboot, is not taken
for the phone; elsewhere it is the pid alone.
"""

from __future__ import annotations

import os
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks since boot) of a process from /proc, or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()     # the command name in brackets may hold spaces
    return (fields[0], fields[19]) if len(fields) > 19 else None


def this_process() -> str:
    """The owner name of the running process: "pid:start@boot" on Linux, "pid" elsewhere."""
    pid = os.getpid()
    boot, stat = _boot_id(), _stat(pid)
    return f"{pid}:{stat[1]}@{boot}" if boot and stat else str(pid)


def still_running(owner: str) -> bool:
    """Whether the process an owner name (from `this_process`) stands for is still running."""
    pid_part, _, boot = owner.partition("@")
    pid_text, _, start = pid_part.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid() and owner == this_process():
        return True
    if boot:
        stat = _stat(pid)
        return (boot == _boot_id() and stat is not None and stat[1] == start
                and stat[0] not in ("Z", "X"))         # a zombie has stopped: only its exit status is left
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True       # another user's process
    return True
