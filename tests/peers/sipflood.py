"""A small UDP SIP caller for floods and races: INVITEs (with any number of m-lines), CANCELs, ACKs.

It keeps no dialog state beyond what a flood needs: every final response is ACKed (so the phone stops
resending it), a 200 OK is ACKed and ended with a BYE. `statuses[call_id]` lists every status code the
phone sent for that call, in order. Bounded by whoever drives it; binds to 127.0.0.1.
"""

from __future__ import annotations

import itertools
import re
import socket
import time
from collections import defaultdict

_STATUS = re.compile(rb"^SIP/2.0 (\d{3})")
_HEADER = re.compile(rb"^([A-Za-z-]+)[ \t]*:[ \t]*(.*?)\r?$", re.M)


def sdp(host: str, port: int, audio_lines: int = 1) -> str:
    media = "".join(f"m=audio {port + 2 * i} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" for i in range(audio_lines))
    return (f"v=0\r\no=flood 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n" + media)


class SipFlood:
    """A UDP socket on 127.0.0.1 that calls `target` ("host:port")."""

    def __init__(self, target: str, host: str = "127.0.0.1"):
        thost, tport = target.rsplit(":", 1)
        self.target = (thost, int(tport))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.host, self.port = self.sock.getsockname()
        self.statuses: dict[str, list[int]] = defaultdict(list)
        self.answers: dict[str, bytes] = {}          # call id -> the 200 OK's body
        self._seq = itertools.count(1)
        self._to_tags: dict[str, str] = {}

    def close(self) -> None:
        self.sock.close()

    # ----- requests ---------------------------------------------------------------------------
    def _request(self, method: str, call_id: str, cseq: int, branch: str, body: str = "",
                 to_tag: str = "", cseq_method: str | None = None) -> bytes:
        host, port = self.host, self.port
        t = f"sip:phone@{self.target[0]}:{self.target[1]}"
        lines = [
            f"{method} {t} SIP/2.0",
            f"Via: SIP/2.0/UDP {host}:{port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: \"flood\" <sip:flood@{host}:{port}>;tag=f{call_id}",
            f"To: <{t}>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {cseq_method or method}",
            f"Contact: <sip:flood@{host}:{port}>",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def invite(self, call_id: str | None = None, audio_lines: int = 1) -> str:
        call_id = call_id or f"flood-{self.port}-{next(self._seq)}"
        body = sdp(self.host, 40000, audio_lines)
        self.sock.sendto(self._request("INVITE", call_id, 1, f"z9hG4bK-{call_id}", body), self.target)
        return call_id

    def cancel(self, call_id: str) -> None:
        self.sock.sendto(self._request("CANCEL", call_id, 1, f"z9hG4bK-{call_id}"), self.target)

    def _ack(self, call_id: str, to_tag: str, status: int) -> None:
        # a non-2xx ACK is in the INVITE's transaction (same branch); a 2xx ACK is a new one
        branch = f"z9hG4bK-{call_id}" if status >= 300 else f"z9hG4bK-ack-{call_id}"
        self.sock.sendto(self._request("ACK", call_id, 1, branch, to_tag=to_tag), self.target)
        if status < 300:
            self.sock.sendto(self._request("BYE", call_id, 2, f"z9hG4bK-bye-{call_id}", to_tag=to_tag),
                             self.target)

    # ----- responses --------------------------------------------------------------------------
    def pump(self, seconds: float = 0.0) -> None:
        """Read what the phone sent for `seconds` (at least once), ACKing final INVITE responses."""
        end = time.monotonic() + seconds
        while True:
            try:
                data, _ = self.sock.recvfrom(65535)
            except BlockingIOError:
                if time.monotonic() >= end:
                    return
                time.sleep(0.002)
                continue
            self._handle(data)

    def _handle(self, data: bytes) -> None:
        m = _STATUS.match(data)
        head, _, body = data.partition(b"\r\n\r\n")
        headers = {k.lower(): v for k, v in _HEADER.findall(head)}
        call_id = headers.get(b"call-id", headers.get(b"i", b"")).decode("latin-1")
        if m is None:
            if data.startswith(b"BYE ") or data.startswith(b"OPTIONS "):
                self._reply_ok(data)
            return
        status = int(m.group(1))
        cseq = headers.get(b"cseq", b"")
        if not cseq.endswith(b"INVITE"):
            return
        statuses = self.statuses[call_id]
        first_final = status >= 200 and not any(s >= 200 for s in statuses)
        statuses.append(status)
        if status >= 200:
            to = headers.get(b"to", b"").decode("latin-1")
            tag = to.split(";tag=", 1)[1].split(";")[0] if ";tag=" in to else ""
            if status < 300 and first_final:
                self.answers[call_id] = body
            self._ack(call_id, tag, status)

    def _reply_ok(self, request: bytes) -> None:
        head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        keep = [h for h in head[1:] if h.split(b":", 1)[0].strip().lower() in (b"via", b"from", b"to", b"call-id",
                                                                               b"cseq")]
        self.sock.sendto(b"\r\n".join([b"SIP/2.0 200 OK", *keep, b"Content-Length: 0", b"", b""]), self.target)

    # ----- what happened ----------------------------------------------------------------------
    def final(self, call_id: str) -> int | None:
        return next((s for s in self.statuses.get(call_id, []) if s >= 200), None)

    def finals(self) -> dict[int, int]:
        """How many calls got each final status (0: none yet)."""
        out: dict[int, int] = defaultdict(int)
        for call_id in self.statuses:
            out[self.final(call_id) or 0] += 1
        return dict(out)
