"""Hostile SIP datagrams, seeded: what a scanner or a broken peer throws at a phone's UDP port.

`datagrams(rng, target, via_port, count)` yields (kind, bytes); every kind is a way a packet can be
wrong: random bytes, truncated INVITEs, 60 KB headers, bad Content-Length, absurd ptime, thousands of
m-lines, non-UTF-8 header bytes, bad Via/CSeq, huge numbers... Any INVITE that pjsip still parses may ring:
`cancels()` gives the CANCEL for each INVITE sent, so a test can leave every line idle afterwards.
`http_requests(rng)` does the same for an HTTP port: garbled and over-long requests.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

KINDS = ("random_bytes", "truncated_invite", "huge_header", "bad_content_length", "absurd_ptime",
         "many_m_lines", "non_utf8", "bad_via", "bad_cseq", "huge_numbers", "bad_request_line",
         "binary_sdp", "bad_response", "nul_bytes", "deep_folding", "other_methods", "bad_replaces",
         "many_vias", "bad_multipart", "bad_auth", "bad_uris")


@dataclass
class Invite:
    call_id: str
    branch: str
    from_tag: str
    ruri: str


@dataclass
class Hostile:
    """A generator of hostile datagrams for one target (host:port), as seen from 127.0.0.1:`via_port`."""
    rng: random.Random
    target: str                              # "127.0.0.1:5060"
    via_port: int                            # the sender's port, so answers come back to the sender
    user: str = "100"                        # Request-URI user of the INVITEs
    sent_invites: list[Invite] = field(default_factory=list)

    # ----- building blocks -----------------------------------------------------------------------------
    def _token(self, n: int = 10) -> str:
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

    def _sdp(self, m_lines: int = 1, ptime: str = "20", extra: str = "") -> str:
        lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0"]
        for i in range(m_lines):
            lines += [f"m=audio {40000 + 2 * (i % 1000)} RTP/AVP 0 8", f"a=ptime:{ptime}"]
        return "\r\n".join(lines) + "\r\n" + extra

    def invite(self, *, sdp: str | None = None, content_length: str | None = None, from_name: bytes = b"Scanner",
               via: str | None = None, cseq: str = "1 INVITE", extra: bytes = b"",
               request_line: bytes | None = None) -> bytes:
        """One INVITE, mostly well formed, with the given parts replaced."""
        call_id, branch, tag = self._token(16), "z9hG4bK" + self._token(12), self._token(8)
        ruri = f"sip:{self.user}@{self.target}"
        body = (sdp if sdp is not None else self._sdp()).encode("latin-1", "replace")
        length = content_length if content_length is not None else str(len(body))
        via = via if via is not None else f"SIP/2.0/UDP 127.0.0.1:{self.via_port};branch={branch};rport"
        head = (request_line or f"INVITE {ruri} SIP/2.0".encode()) + b"\r\n" + (
            f"Via: {via}\r\n"
            "Max-Forwards: 70\r\n").encode("latin-1", "replace") + b"From: \"" + from_name + (
            f"\" <sip:scan@127.0.0.1:{self.via_port}>;tag={tag}\r\n"
            f"To: <{ruri}>\r\n"
            f"Call-ID: {call_id}@127.0.0.1\r\n"
            f"CSeq: {cseq}\r\n"
            f"Contact: <sip:scan@127.0.0.1:{self.via_port}>\r\n"
            "Content-Type: application/sdp\r\n").encode("latin-1", "replace") + extra + (
            f"Content-Length: {length}\r\n\r\n").encode("latin-1", "replace")
        self.sent_invites.append(Invite(call_id, branch, tag, ruri))
        return head + body

    def cancels(self, only: Iterable[str] | None = None) -> list[bytes]:
        """A CANCEL for every INVITE sent (or those whose Call-ID is in `only`): whatever rang stops."""
        wanted = None if only is None else set(only)
        out = []
        for inv in self.sent_invites:
            if wanted is not None and f"{inv.call_id}@127.0.0.1" not in wanted:
                continue
            out.append((
                f"CANCEL {inv.ruri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.via_port};branch={inv.branch};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: \"Scanner\" <sip:scan@127.0.0.1:{self.via_port}>;tag={inv.from_tag}\r\n"
                f"To: <{inv.ruri}>\r\n"
                f"Call-ID: {inv.call_id}@127.0.0.1\r\n"
                "CSeq: 1 CANCEL\r\n"
                "Content-Length: 0\r\n\r\n").encode())
        return out

    # ----- the kinds ----------------------------------------------------------------------------------
    def random_bytes(self) -> bytes:
        return self.rng.randbytes(self.rng.randrange(1, 1400))

    def truncated_invite(self) -> bytes:
        whole = self.invite()
        return whole[:self.rng.randrange(1, len(whole) - 1)]

    def huge_header(self) -> bytes:
        name = self.rng.choice([b"Subject", b"X-Junk", b"User-Agent", b"Via", b"To"])
        return self.invite(extra=name + b": " + b"A" * 60_000 + b"\r\n")

    def bad_content_length(self) -> bytes:
        cl = self.rng.choice(["-1", "99999999", "abc", "", "0x10", "1e9", "18446744073709551617", "5, 7"])
        return self.invite(content_length=cl)

    def absurd_ptime(self) -> bytes:
        ptime = self.rng.choice(["0", "-20", "99999999999", "4294967296", "1e308", "nan", "", "20" * 500])
        return self.invite(sdp=self._sdp(ptime=ptime, extra=f"a=maxptime:{ptime}\r\n"))

    def many_m_lines(self) -> bytes:
        return self.invite(sdp=self._sdp(m_lines=self.rng.randrange(1000, 3000)))

    def non_utf8(self) -> bytes:
        names = [b"\xff\xfe\xc3(", b"\xc0\xaf\xed\xa0\x80", b"\x80\x81\x82", bytes(self.rng.randrange(128, 256)
                                                                               for _ in range(12))]
        return self.invite(from_name=self.rng.choice(names),
                           extra=b"Subject: \xe9t\xe9 \xff\r\nX-Bin: " + self.rng.randbytes(20).replace(b"\r", b"")
                           .replace(b"\n", b"") + b"\r\n")

    def bad_via(self) -> bytes:
        via = self.rng.choice(["", "SIP/2.0/UDP", "SIP/2.0/XYZ 127.0.0.1", "SIP/2.0/UDP :;branch=",
                               "SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bK1", "garbage;;;;",
                               "SIP/2.0/UDP [::1;branch=x", "SIP/2.0/UDP 127.0.0.1:0;received=x;rport=abc"])
        return self.invite(via=via)

    def bad_cseq(self) -> bytes:
        cseq = self.rng.choice(["", "abc INVITE", "1", "99999999999999999999 INVITE", "-5 INVITE",
                                "1 BYE", "4294967296 INVITE"])
        return self.invite(cseq=cseq)

    def huge_numbers(self) -> bytes:
        n = "9" * self.rng.randrange(10, 400)
        return self.invite(extra=(f"Expires: {n}\r\nMax-Forwards: {n}\r\n"
                                                f"Session-Expires: {n}\r\nMin-SE: {n}\r\n").encode())

    def bad_request_line(self) -> bytes:
        lines = [b"INVITE", b"INVITE sip: SIP/2.0", b"INVITE <> SIP/2.0", b"INVITE sip:100@ SIP/3.0",
                 b"\xff\xfe sip:100@127.0.0.1 SIP/2.0", b"INVITE sip:" + b"9" * 5000 + b"@127.0.0.1 SIP/2.0",
                 b"SIP/2.0 200", b"OPTIONS * SIP/2.0"]
        return self.invite(request_line=self.rng.choice(lines))

    def binary_sdp(self) -> bytes:
        junk = self.rng.randbytes(self.rng.randrange(10, 800)).decode("latin-1")
        return self.invite(sdp="v=0\r\n" + junk)

    def bad_response(self) -> bytes:
        code = self.rng.choice(["200", "999", "0", "-1", "18446744073709551616", "abc"])
        return (f"SIP/2.0 {code} OK\r\nVia: SIP/2.0/UDP 127.0.0.1:{self.via_port};branch=z9hG4bK{self._token()}\r\n"
                f"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: {self._token()}\r\nCSeq: 1 INVITE\r\n"
                "Content-Length: 0\r\n\r\n").encode()

    def nul_bytes(self) -> bytes:
        whole = bytearray(self.invite())
        for _ in range(self.rng.randrange(1, 20)):
            whole[self.rng.randrange(len(whole))] = 0
        return bytes(whole)

    def deep_folding(self) -> bytes:
        return self.invite(extra=b"Subject: a" + b"\r\n b" * 3000 + b"\r\n")

    def other_methods(self) -> bytes:
        method = self.rng.choice(["SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "BYE", "INFO", "UPDATE", "PRACK",
                                  "OPTIONS", "PUBLISH", "ACK", "CANCEL", "REGISTER", "FOO"])
        junk = self.rng.choice([b"Event: message-summary\r\nSubscription-State: active\r\n",
                                b"Event: \xff\xfe;;;\r\nSubscription-State: terminated;reason=\xff\r\n",
                                b"Refer-To: <sip:\xff@127.0.0.1>\r\nReferred-By: <>\r\n",
                                b"Refer-To: " + b"<" * 500 + b"\r\n", b"RAck: 99999999999 1 INVITE\r\n",
                                b"Event: dialog\r\n"])
        body = self.rng.choice(["Messages-Waiting: yes\r\nVoice-Message: 99999999999/-1\r\n",
                                "Messages-Waiting: \xff\r\n", "Signal=\xff\r\nDuration=-1\r\n", ""])
        line = f"{method} sip:{self.user}@{self.target} SIP/2.0".encode()
        return self.invite(request_line=line, cseq=f"{self.rng.randrange(1, 99)} {method}", extra=junk, sdp=body)

    def bad_replaces(self) -> bytes:
        value = self.rng.choice([b"abc;to-tag=;from-tag=", b"\xff\xfe;to-tag=1;from-tag=2", b";;;", b"x" * 3000,
                                 b"known@127.0.0.1;to-tag=1;from-tag=2;early-only"])
        return self.invite(extra=b"Replaces: " + value + b"\r\nRequire: replaces\r\n")

    def many_vias(self) -> bytes:
        vias = b"".join(b"Via: SIP/2.0/UDP 10.0.%d.%d:5060;branch=z9hG4bK%d\r\n" % (i // 250, i % 250, i)
                        for i in range(self.rng.randrange(50, 1500)))
        return self.invite(extra=vias + b"Route: " + b"<sip:10.0.0.1;lr>," * 200 + b"<sip:10.0.0.2;lr>\r\n")

    def bad_multipart(self) -> bytes:
        body = ("--b\r\nContent-Type: application/sdp\r\n\r\n" + self._sdp() + "--b\r\n"
                "Content-Type: \xff/\xfe\r\n\r\n" + "x" * self.rng.randrange(0, 2000) + "\r\n--b")
        return self.invite(sdp=body, extra=b"Content-Type: multipart/mixed;boundary=" +
                           self.rng.choice([b"b", b"", b"\xff", b'"' * 40]) + b"\r\n")

    def bad_auth(self) -> bytes:
        value = self.rng.choice([b'Digest username="\xff", realm=, nonce="', b"Basic " + b"=" * 3000,
                                 b'Digest response="' + b"f" * 5000 + b'"', b"Digest ,,,,,,,,"])
        return self.invite(extra=b"Authorization: " + value + b"\r\nProxy-Authorization: " + value + b"\r\n")

    def bad_uris(self) -> bytes:
        uri = self.rng.choice(["sip:%00@127.0.0.1", "sip:a@[::1", "sips:" + "a" * 2000 + "@x", "tel:+1;;;;",
                               "sip:a@127.0.0.1;maddr=;transport=\xff", "sip:a@256.256.256.256:99999",
                               "<sip:a@b>", "sip:100@127.0.0.1?Replaces=x%3Bto-tag%3D1"])
        return self.invite(request_line=f"INVITE {uri} SIP/2.0".encode("latin-1", "replace"))

    # ----- the stream ---------------------------------------------------------------------------------
    def datagrams(self, count: int, invite_share: float = 1.0) -> Iterator[tuple[str, bytes]]:
        """`count` datagrams of every kind in turn-random order. Kinds that may ring (absurd_ptime,
        non_utf8, binary_sdp) are drawn with weight `invite_share` relative to the others."""
        ringing = {"absurd_ptime", "non_utf8", "binary_sdp", "bad_replaces", "bad_multipart", "bad_auth"}
        weights = [invite_share if k in ringing else 1.0 for k in KINDS]
        for i in range(count):
            kind = KINDS[i] if i < len(KINDS) else self.rng.choices(KINDS, weights)[0]
            data = getattr(self, kind)()
            yield kind, data[:65_507]      # the most one UDP datagram carries


_STATUS_RE = re.compile(rb"^SIP/2\.0 (\d{3}) ")
_CALL_ID_RE = re.compile(rb"^(?:Call-ID|i)\s*:\s*(\S+)", re.M | re.I)
_CSEQ_RE = re.compile(rb"^CSeq\s*:\s*\d+\s+(\w+)", re.M | re.I)


def still_ringing(responses: Iterable[bytes]) -> set[str]:
    """Call-IDs of INVITEs the phone answered 180/183 and no final answer yet, from the responses it sent."""
    ringing: set[str] = set()
    for resp in responses:
        status, call_id, cseq = _STATUS_RE.match(resp), _CALL_ID_RE.search(resp), _CSEQ_RE.search(resp)
        if not (status and call_id and cseq) or cseq.group(1) != b"INVITE":
            continue
        code, cid = int(status.group(1)), call_id.group(1).decode("latin-1")
        if code in (180, 183):
            ringing.add(cid)
        elif code >= 200:
            ringing.discard(cid)
    return ringing


def http_requests(rng: random.Random, host: str) -> list[tuple[str, bytes]]:
    """Garbled and over-long HTTP requests for an HTTP port at `host` (the Host header)."""
    ok = f"Host: {host}\r\n".encode()
    reqs = [
        ("garbage", b"GARBAGE\r\n\r\n"),
        ("binary", rng.randbytes(200) + b"\r\n\r\n"),
        ("non-utf8 method", b"\xff\xfe\x00\x01 / HTTP/1.1\r\n\r\n"),
        ("long url", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n" + ok + b"\r\n"),
        ("long header", b"GET / HTTP/1.1\r\n" + ok + b"X: " + b"b" * 70_000 + b"\r\n\r\n"),
        ("many headers", b"GET / HTTP/1.1\r\n" + ok + b"".join(b"X-%d: y\r\n" % i for i in range(5000)) + b"\r\n"),
        ("bad content-length", b"GET / HTTP/1.1\r\n" + ok + b"Content-Length: abc\r\n\r\n"),
        ("bad chunk", b"GET /cgi-bin/api-get_phone_status HTTP/1.1\r\n" + ok
         + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ("non-utf8 query", b"GET /cgi-bin/api-make_call?passcode=x&account=\xff HTTP/1.1\r\n" + ok + b"\r\n"),
        ("non-utf8 path", b"GET /\xff\xfe HTTP/1.1\r\n" + ok + b"\r\n"),
        ("bad version", b"GET / HTTP/9.9\r\n" + ok + b"\r\n"),
        ("bad percent", b"GET /cgi-bin/api-get_phone_status?passcode=%ff%fe%zz HTTP/1.1\r\n" + ok + b"\r\n"),
        ("huge body", b"POST /cgi-bin/api-make_call HTTP/1.1\r\n" + ok + b"Content-Length: 999999999\r\n\r\nxx"),
        ("nul in header", b"GET / HTTP/1.1\r\n" + ok + b"X-A: a\x00b\r\n\r\n"),
        ("bare LF", b"GET / HTTP/1.1\n" + ok.replace(b"\r\n", b"\n") + b"\n"),
        ("header without colon", b"GET / HTTP/1.1\r\n" + ok + b"NoColonHere\r\n\r\n"),
    ]
    return reqs
