"""pcapng as dumpcap writes it, block by block: enough to keep some packets of a capture and drop the others.

`PcapngStream` cuts a byte stream (dumpcap's stdout) into blocks and tells the packet blocks (with their
time and UDP/TCP endpoints) from the others (section header, interfaces), which are copied as they are.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

SHB, IDB, EPB, SPB, ISB = 0x0A0D0D0A, 1, 6, 3, 5
BYTE_ORDER_MAGIC = 0x1A2B3C4D
UDP, TCP = 17, 6

Endpoint = tuple[str, int]      # (ip, port)


@dataclass(frozen=True)
class Block:
    """A block that is not a packet (section header, interface, statistics), as it came."""
    kind: int
    block: bytes


@dataclass(frozen=True)
class Packet:
    """One packet block: its bytes, when it was captured, and its transport and endpoints (None when it
    carries no UDP or TCP: ARP, ICMP, a later IP fragment)."""
    block: bytes
    time: float
    proto: int | None = None
    src: Endpoint | None = None
    dst: Endpoint | None = None


def _ip_endpoints(data: bytes) -> tuple[int | None, Endpoint | None, Endpoint | None]:
    if not data:
        return None, None, None
    version = data[0] >> 4
    if version == 4 and len(data) >= 20:
        ihl = (data[0] & 0x0F) * 4
        proto = data[9]
        if struct.unpack("!H", data[6:8])[0] & 0x1FFF:      # a later fragment: no ports in it
            return None, None, None
        src, dst, l4 = data[12:16], data[16:20], data[ihl:]
    elif version == 6 and len(data) >= 40:
        proto, src, dst, l4 = data[6], data[8:24], data[24:40], data[40:]
    else:
        return None, None, None
    if proto not in (UDP, TCP) or len(l4) < 4:
        return None, None, None
    sport, dport = struct.unpack("!HH", l4[:4])
    s, d = str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst))
    return proto, (s, sport), (d, dport)


def network_payload(linktype: int, frame: bytes) -> bytes:
    """The IP packet inside a link-layer frame (b"" when it is not IP)."""
    if linktype == 1:                                   # Ethernet (Linux loopback too), VLAN tags skipped
        pos, kind = 12, None
        while pos + 2 <= len(frame):
            kind = struct.unpack("!H", frame[pos:pos + 2])[0]
            if kind not in (0x8100, 0x88A8):
                break
            pos += 4
        return frame[pos + 2:] if kind in (0x0800, 0x86DD) else b""
    if linktype == 113:                                 # Linux cooked (interface "any")
        return frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") else b""
    if linktype == 276:                                 # Linux cooked v2
        return frame[20:] if frame[0:2] in (b"\x08\x00", b"\x86\xdd") else b""
    if linktype in (12, 101, 228, 229):                 # raw IP
        return frame
    if linktype in (0, 108):                            # BSD loopback: a 4-byte address family first
        return frame[4:]
    return b""


class PcapngStream:
    """Feed bytes with `feed()`; it returns the whole blocks found so far, each a Packet or a Block."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._order = "<"
        self._interfaces: list[tuple[int, float]] = []      # (linktype, seconds per timestamp unit)

    def feed(self, data: bytes) -> list[Packet | Block]:
        self._buffer += data
        out: list[Packet | Block] = []
        while len(self._buffer) >= 12:
            kind = struct.unpack("<I", self._buffer[:4])[0]
            if kind == SHB:
                magic = struct.unpack("<I", self._buffer[8:12])[0]
                self._order = "<" if magic == BYTE_ORDER_MAGIC else ">"
                self._interfaces = []
            kind, length = struct.unpack(self._order + "II", self._buffer[:8])
            if length < 12 or length % 4:
                raise ValueError("not a pcapng stream")
            if len(self._buffer) < length:
                break
            block = bytes(self._buffer[:length])
            del self._buffer[:length]
            out.append(self._block(kind, block))
        return out

    def _block(self, kind: int, block: bytes) -> Packet | Block:
        o = self._order
        if kind == IDB:
            linktype = struct.unpack(o + "H", block[8:10])[0]
            self._interfaces.append((linktype, self._resolution(block[16:-4])))
        if kind != EPB:
            return Block(kind, block)
        interface, high, low, caplen = struct.unpack(o + "IIII", block[8:24])
        linktype, unit = self._interfaces[interface] if interface < len(self._interfaces) else (1, 1e-6)
        frame = block[28:28 + caplen]
        proto, src, dst = _ip_endpoints(network_payload(linktype, frame))
        return Packet(block, ((high << 32) | low) * unit, proto, src, dst)

    def _resolution(self, options: bytes) -> float:
        pos = 0
        while pos + 4 <= len(options):
            code, size = struct.unpack(self._order + "HH", options[pos:pos + 4])
            if code == 0:
                break
            if code == 9 and size >= 1:                 # if_tsresol
                value = options[pos + 4]
                return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value
            pos += 4 + (size + 3) // 4 * 4
        return 1e-6
