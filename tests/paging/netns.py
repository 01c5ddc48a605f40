"""A private network namespace for multicast tests: loopback up, multicast on, 224.0.0.0/4 routed
to it. Every page sent in a test stays inside; the namespace is deleted at teardown.

Processes run in it through `ip netns exec` (which execs, so the PID is the program's own);
`inside()` lets this test process open sockets in it (a socket keeps its namespace for life).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

CLONE_NEWNET = 0x40000000
_counter = itertools.count()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


class Netns:
    """A network namespace made for one test module."""

    def __init__(self) -> None:
        self.name = f"tuiphone-paging-{os.getpid()}-{next(_counter)}"
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "link", "set", "lo", "multicast", "on")
            _ip("-n", self.name, "route", "add", "224.0.0.0/4", "dev", "lo")
        except subprocess.CalledProcessError:
            self.delete()
            raise
        self._procs: list[subprocess.Popen] = []

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start a program in the namespace; it is killed by PID at teardown if still running."""
        proc = subprocess.Popen(self.command(argv), **kwargs)
        self._procs.append(proc)
        return proc

    def joined(self) -> str:
        """The multicast groups joined on the namespace's loopback (`ip maddr`)."""
        out = subprocess.run(["ip", "-n", self.name, "maddr", "show", "dev", "lo"], check=False,
                             capture_output=True,
                             text=True, timeout=10)
        return out.stdout

    @contextmanager
    def inside(self) -> Iterator[None]:
        """Run the body with this thread in the namespace: sockets opened there stay there."""
        libc = ctypes.CDLL(None, use_errno=True)
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/var/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the test namespace failed")
            try:
                yield
            finally:
                if libc.setns(home, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the host namespace failed")
        finally:
            os.close(home)
            os.close(target)

    def delete(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        subprocess.run(["ip", "netns", "delete", self.name], check=False, capture_output=True, timeout=10)


def netns_available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    return None


@pytest.fixture(scope="module")
def netns() -> Iterator[Netns]:
    why = netns_available()
    if why:     # fail, not skip: every multicast test needs a namespace, so a skip would hide them all
        pytest.fail(f"the paging tests cannot make a network namespace: {why}", pytrace=False)
    ns = Netns()
    try:
        yield ns
    finally:
        ns.delete()
