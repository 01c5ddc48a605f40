"""The answering side's one SIP address in front of its workers: a UDP dispatcher.

Each new Call-ID is given to the worker with the fewest calls (round robin among equals); every datagram of
that Call-ID from the caller goes to it unchanged, and what the worker sends back to this address goes to the
caller. In-dialog requests then go straight between the caller and the worker (its Contact), and so does the
RTP (its SDP): the dispatcher sees the INVITE transaction only (and what follows it from callers that send
everything to one address).
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Callable

_CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.I | re.M)
FORGET_S = 300.0


class Front:
    def __init__(self, bind: str, port: int, workers: list[tuple[str, int]], load: Callable[[int], int]):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, port))
        host, bound = self.sock.getsockname()
        self.address = f"{host}:{bound}"
        self._workers: list[tuple[str, int]] = []
        self._worker_set: set[tuple[str, int]] = set()
        self._load = load                  # calls a worker has now (by index)
        self._route: dict[bytes, tuple[int, tuple[str, int], float]] = {}
        self._next = 0
        self._recent: list[list[float]] = []    # INVITEs given, not yet in `load`
        self.attach(workers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-front", daemon=True)
        self._thread.start()

    def attach(self, workers: list[tuple[str, int]]) -> None:
        """The workers to give calls to (the address can be bound, and registered, before they start);
        until then requests are dropped, as a busy server's are (the caller retransmits)."""
        self._recent = [[] for _ in workers]
        self._worker_set = set(workers)
        self._workers = workers

    def _pick(self) -> int:
        n = len(self._workers)
        order = [(self._next + i) % n for i in range(n)]
        t = time.monotonic()
        for r in self._recent:
            while r and r[0] < t - 0.5:
                r.pop(0)
        best = min(order, key=lambda i: self._load(i) + len(self._recent[i]))
        self._recent[best].append(t)
        self._next = (best + 1) % n
        return best

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if not ready:
                continue
            try:
                data, src = self.sock.recvfrom(65535)
            except OSError:
                return
            m = _CALL_ID.search(data)
            if m is None:
                continue
            key = m.group(1)
            route = self._route.get(key)
            if src in self._worker_set:
                if route is not None:
                    self.sock.sendto(data, route[1])
                continue
            if route is None:
                if not self._workers:
                    continue
                if not data.startswith(b"INVITE "):
                    if data.startswith(b"OPTIONS "):
                        self._route[key] = (self._pick(), src, time.monotonic())
                        route = self._route[key]
                    else:
                        continue
                else:
                    route = (self._pick(), src, time.monotonic())
                    self._route[key] = route
                    self._forget_old()
            self.sock.sendto(data, self._workers[route[0]])

    def _forget_old(self) -> None:
        if len(self._route) < 5000:
            return
        cutoff = time.monotonic() - FORGET_S
        for k in [k for k, r in self._route.items() if r[2] < cutoff]:
            del self._route[k]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
