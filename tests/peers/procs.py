"""Start and stop peer processes by PID, and find free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

PortKind = Literal["udp", "tcp", "both"]

# ports handed out in this test session, so two peers never get the same one
_given_ports: set[int] = set()


def _bind_probe(kind: str, host: str, port: int) -> socket.socket | None:
    """Bind a socket of ``kind`` to host:port, or None if the port is taken."""
    sock_type = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, sock_type)
    if kind == "tcp":
        # a port in TIME_WAIT is still usable by a server that sets SO_REUSEADDR
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    return sock


def free_port(kind: PortKind = "udp", host: str = "127.0.0.1") -> int:
    """A port on ``host`` that is free now for ``kind`` ("udp", "tcp" or "both").

    "both" means free for UDP and TCP at once, for a SIP port that serves both.
    """
    for _ in range(200):
        first = _bind_probe("udp" if kind in ("udp", "both") else "tcp", host, 0)
        if first is None:
            continue
        port = first.getsockname()[1]
        try:
            if port in _given_ports:
                continue
            if kind == "both":
                second = _bind_probe("tcp", host, port)
                if second is None:
                    continue
                second.close()
            _given_ports.add(port)
            return port
        finally:
            first.close()
    raise RuntimeError(f"no free {kind} port on {host} after 200 tries")


def free_port_pair(host: str = "127.0.0.1") -> int:
    """An even UDP port whose next port is free too (RTP and RTCP)."""
    return free_port_block(host, 2)


def free_port_block(host: str = "127.0.0.1", size: int = 2) -> int:
    """An even UDP port such that it and the `size - 1` ports after it are free and none was handed out
    before (a SIP port given a moment ago is not bound yet: a peer's media ports must not land on it)."""
    for _ in range(200):
        port = free_port("udp", host)
        block = range(port, port + size)
        if port % 2 or block.stop > 65536 or any(p in _given_ports for p in block[1:]):
            continue
        if not all(_bindable(p, host) for p in block[1:]):
            continue
        _given_ports.update(block)
        return port
    raise RuntimeError(f"no free block of {size} UDP ports on {host}")


def _bindable(port: int, host: str) -> bool:
    probe = _bind_probe("udp", host, port)
    if probe is None:
        return False
    probe.close()
    return True


def udp_port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when some process has bound UDP host:port (or the wildcard address) on it.

    Reads /proc/net/udp rather than binding a probe, so it never steals the port from a
    peer that is just starting.
    """
    wanted = {_proc_net_address(host, port), _proc_net_address("0.0.0.0", port)}
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        probe = _bind_probe("udp", host, port)
        if probe is None:
            return True
        probe.close()
        return False
    return any(line.split()[1] in wanted for line in lines if len(line.split()) > 1)


def _proc_net_address(host: str, port: int) -> str:
    """host:port as /proc/net/udp writes it (little-endian hex IPv4, hex port)."""
    packed = socket.inet_aton(host)
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"


def tcp_port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP server could bind host:port now."""
    probe = _bind_probe("tcp", host, port)
    if probe is None:
        return False
    probe.close()
    return True


def tcp_port_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when some process listens on TCP host:port (or the wildcard address).

    Reads /proc/net/tcp, so the peer never sees a probe connection.
    """
    wanted = {_proc_net_address(host, port), _proc_net_address("0.0.0.0", port)}
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        try:
            with socket.create_connection((host, port), timeout=0.3):
                return True
        except OSError:
            return False
    listen_state = "0A"
    return any(
        fields[1] in wanted and fields[3] == listen_state
        for fields in (line.split() for line in lines)
        if len(fields) > 3
    )


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class PeerProcess:
    """One peer program running in its own process group, its output in a log file."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the program; its stdout and stderr go to the log file."""
        if self.running:
            raise RuntimeError(f"{self.argv[0]} is already running as PID {self.pid}")
        with open(self.log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                # own process group: stop() can reach children the program forked
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def wait(self, timeout: float) -> int | None:
        """Wait for the program to exit; its return code, or None if it is still running."""
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = 3.0) -> int | None:
        """SIGTERM the PID, wait ``grace`` seconds, then SIGKILL its process group."""
        if self._popen is None:
            return None
        pid = self._popen.pid
        if self._popen.returncode is None:
            _signal_pid(pid, signal.SIGTERM)
            _wait_exited_unreaped(pid, grace)
            # the leader is a zombie or alive, so its PID (our group id) cannot be reused yet;
            # this also reaches children the program forked (kamailio workers)
            _signal_group(pid, signal.SIGKILL)
        try:
            return self._popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.argv[0]} (PID {pid}) did not die after SIGKILL") from None

    def log_text(self) -> str:
        """Everything the program has written so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _wait_exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited without reaping it; True if it exited in time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if info is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
