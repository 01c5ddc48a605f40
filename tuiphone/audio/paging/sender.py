"""PagingSender: a frame source (mic, file, tone) sent as RTP to a multicast group, on its own thread.

It sends one packet per `ptime` ms on an absolute clock, so a slow moment does not make a burst.
"""

from __future__ import annotations

import math
import socket
import threading
import time

from tuiphone.audio.frames import RATE, FrameSource
from tuiphone.audio.paging.codec import paging_codec
from tuiphone.audio.paging.groups import PagingError, parse_group
from tuiphone.audio.rtp import PTIME_MS, Packetizer

DEFAULT_TTL = 1              # pages stay on the local network unless a router is meant to pass them

_own_ssrcs: set[int] = set()   # pages this process sends, which its listeners must not play


class PagingSender:
    """Sends `source` to a multicast group as RTP, one packet per `ptime` ms, on its own thread.

    The page ends after `duration` seconds, when a source with `finished` runs out, or on `stop()`.
    """

    def __init__(self, group: str, port: int, codec: str = "PCMU", *, source: FrameSource,
                 ttl: int = DEFAULT_TTL, interface: str = "", ptime: int = PTIME_MS,
                 duration: float | None = None):
        self.group, self.port = parse_group(f"{group}:{port}")
        self.codec = paging_codec(codec)
        if not 10 <= ptime <= 80 or ptime % 10:
            raise PagingError(f"ptime {ptime} ms is not one of 10, 20, ... 80")
        if not 1 <= ttl <= 255:
            raise PagingError(f"a multicast TTL is 1-255, not {ttl}")
        self.ttl, self.interface, self.ptime = ttl, interface, ptime
        self.duration = duration
        self._source = source
        self._packetizer = Packetizer(self.codec.payload_type)
        self._encode = self.codec.encoder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.error: str | None = None     # why sending stopped early, as a sentence
        self.seconds = 0.0                # audio sent so far

    @property
    def ssrc(self) -> int:
        return self._packetizer.ssrc

    @property
    def packets(self) -> int:
        return self._packetizer.sent

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the socket (a PagingError says why it cannot) and start sending."""
        self._sock = _sender_socket(self.interface, self.ttl)
        _own_ssrcs.add(self.ssrc)
        self._thread = threading.Thread(target=self._run, name=f"page-{self.group}:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the page now and wait for the thread."""
        self._stop.set()
        self.wait(2.0)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the page to end; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None            # start() opens it before the thread runs
        n = RATE * self.ptime // 1000
        ticks = self.codec.clock_rate * self.ptime // 1000
        step = self.ptime / 1000.0
        frames = None if self.duration is None else math.ceil(self.duration / step - 1e-9)
        sent = 0
        deadline = time.monotonic()
        try:
            while not self._stop.is_set() and (frames is None or sent < frames):
                if getattr(self._source, "finished", False):
                    break
                payload = self._encode(self._source.read(n))
                try:
                    sock.sendto(self._packetizer.packet(payload, ticks), (self.group, self.port))
                except OSError as exc:
                    self.error = (f"cannot send the page to {self.group}:{self.port}: {exc.strerror}; "
                                  "check the interface has a route for multicast")
                    break
                sent += 1
                self.seconds = sent * step
                deadline += step
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -0.2:         # fell far behind (machine suspended): no burst
                    deadline = time.monotonic()
        finally:
            _own_ssrcs.discard(self.ssrc)
            sock.close()


def _sender_socket(interface: str, ttl: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)   # listeners on this box hear it
        if interface:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
            sock.bind((interface, 0))
    except OSError as exc:
        sock.close()
        raise PagingError(f"cannot send pages from interface {interface or 'default'}: "
                          f"{exc.strerror or exc}; use an address of this machine") from None
    return sock
