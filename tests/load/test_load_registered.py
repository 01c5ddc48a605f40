"""`tuiphone answer --account N --max-concurrent M` with M above one worker's 4 calls, through a real Kamailio:
the account is registered once (digest auth) with the front's address as its Contact, Kamailio sends every
INVITE there, the front spreads them over the workers, and the registration is gone at the end."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

pytestmark = pytest.mark.peers


def invite_status(host: str, port: int, user: str, timeout: float = 5.0) -> int:
    """The final status Kamailio gives an INVITE to `user` from a stranger (no digest asked: calls to its users
    are open to anyone): 480 when no contact is registered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        me = sock.getsockname()[1]
        msg = (f"INVITE sip:{user}@{host} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sip:probe@stranger.invalid>;tag={uuid.uuid4().hex[:8]}\r\n"
               f"To: <sip:{user}@{host}>\r\n"
               f"Call-ID: {uuid.uuid4().hex}@127.0.0.1\r\n"
               "CSeq: 1 INVITE\r\n"
               f"Contact: <sip:probe@127.0.0.1:{me}>\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.sendto(msg, (host, port))
            try:
                while True:
                    status = int(sock.recv(65535).split(b" ", 2)[1])
                    if status >= 200:
                        return status
            except (TimeoutError, ValueError, IndexError):
                continue
    return 0


def test_answer_registered_takes_8_calls_at_once_through_kamailio_and_unregisters_at_the_end(phones, kamailio):
    server = f"{kamailio.host}:{kamailio.port}"

    def account(user: str) -> dict:
        return {"accounts": [{"sip_server": server, "user_id": user, "password": kamailio.users[user],
                              "mwi": False, "codecs": ["PCMU"]}]}
    answer = phones("answer", ["answer", "--account", "1", "--tone", "1000", "--max-concurrent", "8", "--count",
                               "8", "--timeout", "30", "--json"], config=account("1002"), ready=True)
    load = phones("load", ["load", "1002", "--account", "1", "--calls", "8", "--concurrency", "8", "--rate", "0",
                           "--duration", "2", "--tone", "440", "--expect-tone", "1000", "--json"],
                  config=account("1001"))
    rc, report = load.result(60)
    s = report["summary"]
    assert rc == 0, ([c["failure"] for c in report.get("calls", [])], load.stderr())
    assert report["uri"].startswith("sip:1002@") and (s["answered"], s["peak_concurrency"]) == (8, 8)
    rc, answered = answer.result(30)
    assert rc == 0, answer.stderr()
    assert answered["answered"] == 8 and answered["workers"] > 2
    # every call independent, its tone heard; spread over the workers by the front
    assert all(abs(c["dominant_hz"] - 440) <= 2 for c in answered["calls"])
    assert len({c["worker"] for c in answered["calls"]}) > 2
    reg = answered["registration"]
    assert reg["contact"] == f"sip:1002@{answer.address}" and reg["registered"] >= 1
    assert reg["unregistered"] is True and reg["lost"] is False
    # Kamailio holds no contact for 1002 any more: a call to it is "480 Temporarily Unavailable"
    assert invite_status(kamailio.host, kamailio.port, "1002") == 480
