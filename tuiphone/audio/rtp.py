"""RTP (RFC 3550) packets for paging: build them, read them back, count what a stream lost.

Reading never raises on garbage from the network: a datagram that is not a valid RTP packet
gives None, and the caller counts it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

__all__ = ["PTIME_MS", "Packetizer", "ReceptionStats", "RtpPacket", "parse_packet", "seq_diff", "ts_diff"]

RTP_VERSION = 2
HEADER_SIZE = 12
PTIME_MS = 20
MAX_DATAGRAM = 65535

_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet: header fields and the payload (no CSRCs, extension or padding kept)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        """The packet as sent on the wire (version 2, no padding, extension or CSRCs)."""
        first = RTP_VERSION << 6
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = _HEADER.pack(first, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                              self.ssrc & 0xFFFFFFFF)
        return header + self.payload


def parse_packet(data: bytes | bytearray | memoryview) -> RtpPacket | None:
    """Read an RTP packet, or None when `data` is not a valid one (never raises)."""
    if len(data) < HEADER_SIZE:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        return None
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:       # RTCP sent to the RTP port (RFC 5761 range)
        return None
    start = HEADER_SIZE + 4 * (first & 0x0F)
    if first & 0x10:                   # header extension: 16-bit profile, 16-bit length in words
        if len(data) < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
    end = len(data)
    if first & 0x20:                   # padding: the last octet counts the padding octets
        pad = data[-1]
        if pad == 0:
            return None
        end -= pad
    if end < start:
        return None
    return RtpPacket(payload_type, sequence, timestamp, ssrc, bytes(data[start:end]), bool(second & 0x80))


def seq_diff(a: int, b: int) -> int:
    """a - b for 16-bit sequence numbers, across wrap-around (-32768..32767)."""
    return (a - b + 0x8000) % 0x10000 - 0x8000


def ts_diff(a: int, b: int) -> int:
    """a - b for 32-bit timestamps, across wrap-around."""
    return (a - b + 0x80000000) % 0x100000000 - 0x80000000


class Packetizer:
    """Numbers the packets of one outgoing stream: random SSRC, sequence and timestamp start
    (RFC 3550 §5.1), marker on the first packet of a talkspurt."""

    def __init__(self, payload_type: int, ssrc: int | None = None):
        self.payload_type = payload_type
        self.ssrc = int.from_bytes(os.urandom(4), "big") if ssrc is None else ssrc & 0xFFFFFFFF
        self.sequence = int.from_bytes(os.urandom(2), "big")
        self.timestamp = int.from_bytes(os.urandom(4), "big")
        self._talkspurt = True
        self.sent = 0

    def packet(self, payload: bytes, ticks: int) -> bytes:
        """The next packet carrying `payload`, which lasts `ticks` units of the RTP clock."""
        pkt = RtpPacket(self.payload_type, self.sequence, self.timestamp, self.ssrc, payload, self._talkspurt)
        self._talkspurt = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + ticks) & 0xFFFFFFFF
        self.sent += 1
        return pkt.to_bytes()

    def skip(self, ticks: int) -> None:
        """Leave a gap of `ticks` in the timeline (nothing sent); the next packet starts a talkspurt."""
        self.timestamp = (self.timestamp + ticks) & 0xFFFFFFFF
        self._talkspurt = True


class ReceptionStats:
    """Packets received and lost on one stream (RFC 3550 A.1 in short): loss is what the highest
    sequence number seen says should have arrived, less what did; duplicates are not counted twice."""

    _WINDOW = 1024                     # recent sequence numbers remembered to spot duplicates

    def __init__(self) -> None:
        self.packets = 0               # every valid packet, duplicates included
        self.duplicates = 0
        self._base: int | None = None  # extended sequence number of the first packet
        self._highest = 0              # highest extended sequence number seen
        self._unique = 0
        self._recent: set[int] = set()

    @property
    def expected(self) -> int:
        return 0 if self._base is None else self._highest - self._base + 1

    @property
    def lost(self) -> int:
        return max(0, self.expected - self._unique)

    def add(self, sequence: int) -> None:
        """Count a received packet by its sequence number."""
        self.packets += 1
        if self._base is None:
            self._base = self._highest = sequence
        ext = self._highest + seq_diff(sequence, self._highest & 0xFFFF)
        if ext in self._recent:
            self.duplicates += 1
            return
        self._recent.add(ext)
        if len(self._recent) > 2 * self._WINDOW:
            self._recent = {s for s in self._recent if s > self._highest - self._WINDOW}
        self._unique += 1
        self._base = min(self._base, ext)   # an early packet that came late was expected after all
        self._highest = max(self._highest, ext)
