"""TCP connections to a phone's SIP port as an attacker makes them: opened and closed as fast as possible
(`connect_close`), or opened and held (`Holder`). Bounded in count and time; loopback only."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class FloodResult:
    made: int = 0              # connections the kernel completed
    failed: int = 0            # connects that timed out or were refused
    seconds: float = 0.0
    slowest_s: float = 0.0     # the longest single connect
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.made / self.seconds if self.seconds else 0.0


def connect_close(host: str, port: int, total: int = 600, threads: int = 4, max_s: float = 5.0,
                  connect_timeout: float = 0.5, source: str = "127.0.0.1") -> FloodResult:
    """`total` connections, each closed as soon as it is made, from `threads` threads; stops after `max_s`."""
    result, lock = FloodResult(), threading.Lock()
    left = [total]
    deadline = time.monotonic() + max_s

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            began = time.monotonic()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(connect_timeout)
            try:
                sock.bind((source, 0))
                sock.connect((host, port))
                ok, err = True, ""
            except OSError as exc:
                ok, err = False, type(exc).__name__
            finally:
                sock.close()
            took = time.monotonic() - began
            with lock:
                result.slowest_s = max(result.slowest_s, took)
                if ok:
                    result.made += 1
                else:
                    result.failed += 1
                    result.errors[err] = result.errors.get(err, 0) + 1

    start = time.monotonic()
    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(max_s + connect_timeout + 1)
    result.seconds = time.monotonic() - start
    return result


class Holder:
    """Connections opened and kept (a slowloris): `open` up to `count` of them, `close` them all."""

    def __init__(self, host: str, port: int, connect_timeout: float = 0.3, source: str = "127.0.0.1"):
        self.address = (host, port)
        self.source = source
        self.connect_timeout = connect_timeout
        self.socks: list[socket.socket] = []
        self.failed = 0

    @property
    def made(self) -> int:
        return len(self.socks)

    def open(self, count: int, max_s: float = 4.0) -> None:
        """Open up to `count` connections, giving up after `max_s`."""
        deadline = time.monotonic() + max_s
        for _ in range(count):
            if time.monotonic() > deadline:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(self.connect_timeout)
            try:
                sock.bind((self.source, 0))
                sock.connect(self.address)
                self.socks.append(sock)
            except OSError:
                sock.close()
                self.failed += 1

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks.clear()
