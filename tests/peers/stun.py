"""A small STUN server on 127.0.0.1 for tests (RFC 5389 Binding, with the RFC 3489 attributes NAT type
detection reads): it answers every Binding request from its own socket with the sender's address, and names
itself as the "changed" address. It runs on a thread and stops with its context (bounded)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BINDING_REQUEST, BINDING_RESPONSE = 0x0001, 0x0101
MAGIC = 0x2112A442
MAPPED_ADDRESS, SOURCE_ADDRESS, CHANGED_ADDRESS, XOR_MAPPED_ADDRESS = 0x0001, 0x0004, 0x0005, 0x0020


def _address(kind: int, host: str, port: int) -> bytes:
    return struct.pack("!HHBBH4s", kind, 8, 0, 1, port, socket.inet_aton(host))


def _xor_address(host: str, port: int) -> bytes:
    addr = struct.unpack("!I", socket.inet_aton(host))[0] ^ MAGIC
    return struct.pack("!HHBBHI", XOR_MAPPED_ADDRESS, 8, 0, 1, port ^ (MAGIC >> 16), addr)


def binding_response(request: bytes, source: tuple[str, int], own: tuple[str, int]) -> bytes | None:
    """The answer to a Binding request (None for anything else)."""
    if len(request) < 20:
        return None
    kind, _, cookie = struct.unpack("!HHI", request[:8])
    if kind != BINDING_REQUEST:
        return None
    attrs = _address(MAPPED_ADDRESS, *source) + _address(SOURCE_ADDRESS, *own) + _address(CHANGED_ADDRESS, *own)
    if cookie == MAGIC:
        attrs += _xor_address(*source)
    return struct.pack("!HH", BINDING_RESPONSE, len(attrs)) + request[4:20] + attrs


class StunServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        self.host, self.port = self.sock.getsockname()
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="stun", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            reply = binding_response(data, source, (self.host, self.port))
            if reply is not None:
                self.requests += 1
                self.sock.sendto(reply, source)

    def start(self) -> StunServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@contextmanager
def stun_server() -> Iterator[StunServer]:
    server = StunServer().start()
    try:
        yield server
    finally:
        server.stop()
