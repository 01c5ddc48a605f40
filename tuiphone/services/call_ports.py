"""Which packets are the phone's own: its SIP ports, and the RTP/RTCP ports of its calls, learnt from the SDP.

The phone's RTP ports are any free ports, chosen when a call starts, so a capture cannot name them in
advance. `CallPorts` follows the SIP messages (the same SipMessage events as the SIP trace): the SDP the
phone sends names its own RTP port (and RTCP, the next one or `a=rtcp`), the SDP it receives names the far
end's. A packet is the phone's when one of its ends is the phone's SIP port (UDP, TCP, TLS, or the port of
a TCP/TLS connection it opened, from its Via), or, while that call lasts, the phone's RTP/RTCP port of a
call or the far end's RTP/RTCP address of that call (what the phone sends behind a NAT).
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuiphone.engine.events import Event, SipMessage
from tuiphone.services.pcapng import TCP, UDP, Endpoint, Packet

EARLY_S = 0.5       # a packet may be stamped a moment before the SDP naming its port was logged
GRACE_S = 2.0       # RTP trails a BYE for a moment
FORGET_S = 120.0    # an ended call's ports are forgotten this long after its end
MAX_CALLS = 200

_VIA = re.compile(r"^(?:Via|v)\s*:\s*SIP/2\.0/(?:TCP|TLS)\s+(\[[^\]]+\]|[^\s;:]+)(?::(\d+))?", re.M | re.I)
_CSEQ = re.compile(r"^CSeq\s*:\s*\d+\s+(\w+)", re.M | re.I)


@dataclass
class _Call:
    local: dict[int, float] = field(default_factory=dict)           # the phone's port -> when first named
    remote: dict[Endpoint, float] = field(default_factory=dict)     # the far end's address -> when first named
    answered: bool = False
    end: float | None = None

    def open_at(self, when: float, since: float) -> bool:
        return since - EARLY_S <= when and (self.end is None or when <= self.end + GRACE_S)


def sdp_media(text: str) -> list[tuple[str, int, int]]:
    """(address, RTP port, RTCP port) of each media stream in the SDP body of a SIP message (none without SDP).

    Streams with port 0 (declined) are left out; the address is "" when the SDP gives none or 0.0.0.0 (hold).
    """
    head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
    if not sep or "\nm=" not in "\n" + body:
        return []
    session_addr = ""
    streams: list[list[Any]] = []      # [address, RTP port, RTCP port] of each m= line
    for line in body.splitlines():
        key, _, value = line.strip().partition("=")
        words = value.split()
        if key == "c" and len(words) >= 3:
            address = words[2].split("/")[0]
            address = "" if address in ("0.0.0.0", "::") else address
            if streams:
                streams[-1][0] = address
            else:
                session_addr = address
        elif key == "m" and len(words) >= 2:
            try:
                port = int(words[1].split("/")[0])
            except ValueError:
                continue
            streams.append([session_addr, port, port + 1])
        elif key == "a" and streams and value.startswith("rtcp:"):
            try:
                streams[-1][2] = int(value[5:].split()[0])
            except (ValueError, IndexError):
                pass
        elif key == "a" and streams and value.strip() == "rtcp-mux":
            streams[-1][2] = streams[-1][1]
    return [(a, p, r) for a, p, r in streams if 0 < p < 65536]


class CallPorts:
    """An event subscriber that learns the phone's call ports; `keeps(packet)` says whether a packet is the
    phone's. `address` is the phone's IP ("0.0.0.0" or "::" for any); `udp`/`tcp` its SIP ports."""

    def __init__(self, address: str, udp: set[int], tcp: set[int], clock: Callable[[], float] = time.time):
        self.address = address
        self.any_address = address in ("0.0.0.0", "::", "")
        self.udp, self.tcp = set(udp), set(tcp)
        self.clock = clock
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if isinstance(event, SipMessage):
            self.learn(event)

    def learn(self, msg: SipMessage) -> None:
        media = sdp_media(msg.text)
        with self._lock:
            if msg.direction == "out" and msg.transport.upper() in ("TCP", "TLS"):
                via = _VIA.search(msg.text[:2000])
                if via and via.group(2) and self._is_phone(via.group(1).strip("[]")):
                    self.tcp.add(int(via.group(2)))      # the port of a connection the phone opened
            call = self._calls.get(msg.call_id)
            if call is None:
                if not media or not msg.call_id:
                    return
                self._forget(msg.time)
                call = self._calls[msg.call_id] = _Call()
            for address, rtp, rtcp in media:
                if msg.direction == "out":
                    for port in (rtp, rtcp):
                        call.local.setdefault(port, msg.time)
                elif address:
                    for port in (rtp, rtcp):
                        call.remote.setdefault((address, port), msg.time)
            self._follow_dialog(call, msg)

    @staticmethod
    def _follow_dialog(call: _Call, msg: SipMessage) -> None:
        words = msg.first_line.split()
        if not words:
            return
        if words[0] in ("BYE", "CANCEL"):
            call.end = msg.time if call.end is None else call.end
        elif words[0] == "SIP/2.0" and len(words) > 1 and words[1].isdigit():
            cseq = _CSEQ.search(msg.text[:2000])
            if cseq and cseq.group(1).upper() == "INVITE":
                status = int(words[1])
                if 200 <= status < 300:
                    call.answered = True
                elif status >= 300 and not call.answered and call.end is None:
                    call.end = msg.time              # the call failed: its ports are not its own any more

    def _forget(self, now: float) -> None:
        for cid, call in list(self._calls.items()):
            if call.end is not None and call.end < now - FORGET_S:
                del self._calls[cid]
        while len(self._calls) >= MAX_CALLS:
            self._calls.pop(next(iter(self._calls)))

    def _is_phone(self, ip: str) -> bool:
        if self.any_address or ip == self.address:
            return True
        try:
            return ipaddress.ip_address(ip) == ipaddress.ip_address(self.address)
        except ValueError:
            return False

    def keeps(self, packet: Packet) -> bool:
        """Whether a captured packet is the phone's own SIP or the RTP/RTCP of one of its calls."""
        if packet.proto not in (UDP, TCP) or packet.src is None or packet.dst is None:
            return False
        with self._lock:
            for (ip, port), other in ((packet.src, packet.dst), (packet.dst, packet.src)):
                mine = self._is_phone(ip)
                if mine and port in (self.udp if packet.proto == UDP else self.tcp):
                    return True
                if packet.proto != UDP:
                    continue
                for call in self._calls.values():
                    since = call.local.get(port) if mine else None
                    if since is not None and call.open_at(packet.time, since):
                        return True
                    since = call.remote.get((ip, port))
                    if since is not None and self._is_phone(other[0]) and call.open_at(packet.time, since):
                        return True
        return False
