"""A page from another phone on the (namespace's) network, sent from this test process.

Not through PagingSender: a process's listeners ignore that sender's pages as their own, and the
phone under test must hear this one as it would hear a colleague's phone.
"""

from __future__ import annotations

import socket
import threading
import time

from tests.paging.netns import Netns
from tuiphone.audio.paging import CODECS
from tuiphone.audio.rtp import Packetizer
from tuiphone.audio.sources import ToneSource


class RemotePage:
    """A tone sent to `target` ("addr:port") as RTP, 20 ms a packet, for `seconds` or until `stop()`."""

    def __init__(self, netns: Netns, target: str, freq: float, seconds: float = 30.0, codec: str = "PCMU"):
        address, port = target.rsplit(":", 1)
        self.group = (address, int(port))
        self.seconds = seconds
        with netns.inside():
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        codec_ = CODECS[codec]
        self._encode, self._packets = codec_.encoder(), Packetizer(codec_.payload_type)
        self._tone = ToneSource(freq)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="remote-page", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic()
        try:
            for _ in range(round(self.seconds * 50)):
                if self._stop.is_set():
                    break
                self._sock.sendto(self._packets.packet(self._encode(self._tone.read(320)), 160), self.group)
                deadline += 0.02
                self._stop.wait(max(0.0, deadline - time.monotonic()))
        finally:
            self._sock.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def wait(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)
