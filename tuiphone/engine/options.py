"""SIP OPTIONS pings over UDP or TCP, outside pjsua: used for `tuiphone options` and account keep-alives.

Kept on plain sockets so round-trip times are measured exactly and a dead server is noticed within
our own timeout instead of SIP's 32-second transaction timer.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from dataclasses import dataclass

_TARGET_RE = re.compile(
    r"^(?:(?P<scheme>sips?):)?(?:(?P<user>[^@\s]+)@)?(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>\d{1,5}))?(?P<params>(?:;[^\s;]+)*)$"
)


class OptionsError(ValueError):
    """A target that cannot be pinged; the message is for the user."""


@dataclass(frozen=True)
class OptionsTarget:
    host: str
    port: int
    transport: str          # "udp" | "tcp"
    uri: str

    @classmethod
    def parse(cls, text: str) -> OptionsTarget:
        m = _TARGET_RE.match(text.strip())
        if not m:
            raise OptionsError(f"'{text}' is not a SIP address: use host[:port] or sip:host[:port]")
        host = m.group("host").strip("[]")
        port = int(m.group("port") or 5060)
        if not 1 <= port <= 65535:
            raise OptionsError(f"port {port} is out of range: use 1-65535")
        params = m.group("params").lower()
        transport = "tcp" if ";transport=tcp" in params else "udp"
        if ";transport=tls" in params or m.group("scheme") == "sips":
            raise OptionsError("OPTIONS over TLS is not supported: ping the server over UDP or TCP")
        user = f"{m.group('user')}@" if m.group("user") else ""
        hostpart = f"[{host}]" if ":" in host else host
        return cls(host=host, port=port, transport=transport, uri=f"sip:{user}{hostpart}:{port}")


@dataclass(frozen=True)
class OptionsReply:
    seq: int
    sip_status: int          # 0 = no answer
    reason: str
    rtt_ms: float | None


def _request(target: OptionsTarget, local: tuple[str, int], seq: int, call_id: str, tag: str) -> bytes:
    lhost, lport = local
    proto = target.transport.upper()
    lines = [
        f"OPTIONS {target.uri} SIP/2.0",
        f"Via: SIP/2.0/{proto} {lhost}:{lport};rport;branch=z9hG4bK{secrets.token_hex(8)}",
        "Max-Forwards: 70",
        f"From: <sip:tuiphone@{lhost}>;tag={tag}",
        f"To: <{target.uri}>",
        f"Call-ID: {call_id}",
        f"CSeq: {seq} OPTIONS",
        f"Contact: <sip:tuiphone@{lhost}:{lport}>",
        "Accept: application/sdp",
        "User-Agent: tuiphone",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def _parse_status(data: bytes, call_id: str, seq: int) -> tuple[int, str] | None:
    text = data.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0]
    first, _, rest = head.partition("\r\n")
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("SIP/2.0") or not parts[1].isdigit():
        return None
    cid = re.search(r"^(?:Call-ID|i)\s*:\s*(\S+)", rest, re.M | re.I)
    cseq = re.search(r"^CSeq\s*:\s*(\d+)", rest, re.M | re.I)
    if not cid or cid.group(1) != call_id or not cseq or int(cseq.group(1)) != seq:
        return None
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


class OptionsPinger:
    """Sends OPTIONS to one target and waits for the final answer (provisional ones are skipped)."""

    def __init__(self, target: OptionsTarget, bind: str = "", timeout: float = 2.0):
        self.target = target
        self.bind = bind
        self.timeout = timeout
        self.call_id = f"{secrets.token_hex(10)}@tuiphone"
        self.tag = secrets.token_hex(6)
        self.seq = 0
        self._sock: socket.socket | None = None

    def _family(self) -> int:
        return socket.AF_INET6 if ":" in self.target.host else socket.AF_INET

    def ping(self) -> OptionsReply:
        self.seq += 1
        try:
            if self.target.transport == "tcp":
                return self._ping_tcp(self.seq)
            return self._ping_udp(self.seq)
        except OSError as exc:
            return OptionsReply(self.seq, 0, exc.strerror or str(exc), None)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> OptionsPinger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _udp_socket(self) -> socket.socket:
        """One socket for every ping: replies go to the port the requests (one Call-ID) came from."""
        if self._sock is None:
            sock = socket.socket(self._family(), socket.SOCK_DGRAM)
            sock.bind((self.bind, 0))
            sock.connect((self.target.host, self.target.port))
            self._sock = sock
        return self._sock

    def _ping_udp(self, seq: int) -> OptionsReply:
        sock = self._udp_socket()
        req = _request(self.target, sock.getsockname()[:2], seq, self.call_id, self.tag)
        start = time.monotonic()
        deadline = start + self.timeout
        sock.send(req)
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65535)
            except TimeoutError:
                break
            except ConnectionRefusedError:
                return OptionsReply(seq, 0, "connection refused (nothing listens there)", None)
            status = _parse_status(data, self.call_id, seq)
            if status and status[0] >= 200:
                return OptionsReply(seq, status[0], status[1], (time.monotonic() - start) * 1000)
        return OptionsReply(seq, 0, "no answer", None)

    def _ping_tcp(self, seq: int) -> OptionsReply:
        start = time.monotonic()
        with socket.create_connection((self.target.host, self.target.port), timeout=self.timeout,
                                      source_address=(self.bind, 0) if self.bind else None) as sock:
            req = _request(self.target, sock.getsockname()[:2], seq, self.call_id, self.tag)
            sock.sendall(req)
            buf = b""
            deadline = start + self.timeout
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    chunk = sock.recv(65535)
                except TimeoutError:
                    break
                if not chunk:
                    break
                buf += chunk
                while b"\r\n\r\n" in buf:
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    clen = re.search(rb"^(?:Content-Length|l)\s*:\s*(\d+)", head, re.M | re.I)
                    buf = buf[int(clen.group(1)) if clen else 0:]
                    status = _parse_status(head + b"\r\n\r\n", self.call_id, seq)
                    if status and status[0] >= 200:
                        return OptionsReply(seq, status[0], status[1], (time.monotonic() - start) * 1000)
            return OptionsReply(seq, 0, "no answer", None)
