"""Ghost calls (seed 3.4) against real peers: a scanner's INVITE for a user the phone does not have gets 404
and never rings while an account that checks user IDs is registered at Kamailio; a direct IP call with no
user part still rings."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.peers


def registered(proc, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while "SIP/2.0 200 OK" not in proc.trace().split("REGISTER sip:", 1)[-1]:
        assert time.monotonic() < deadline, f"{proc.name} did not register: {proc.stderr()}"
        time.sleep(0.1)


def test_a_scanner_invite_for_an_unknown_user_gets_404_and_a_direct_ip_call_still_rings(kamailio, phones):
    account = {"sip_server": f"{kamailio.host}:{kamailio.port}", "user_id": "1001", "password": "pw1001",
               "check_user_id": True}
    callee = phones("callee", ["answer", "--duration", "0.5", "--timeout", "25", "--json"],
                    config={"accounts": [account]}, ready=True)
    registered(callee)
    # sent straight to the phone, past the registrar: the Request-URI user matches no account
    scanner = phones("scanner", ["call", f"sip:100@127.0.0.1:{callee.port}", "--timeout", "8", "--json"])
    rc, report = scanner.result()
    assert rc != 0 and report["sip_status"] == 404, (report, scanner.stderr())
    assert "SIP/2.0 180" not in scanner.trace()                   # it never rang
    # a plain direct IP call (sip:127.0.0.1:PORT, no user) is answered: the callee took no other call first
    direct = phones("direct", ["call", callee.keypad, "--duration", "0.5", "--timeout", "10", "--json"])
    rc, report = direct.result()
    assert (rc, report["result"]) == (0, "answered"), (report, direct.stderr())
    rc, answered = callee.result()
    assert rc == 0 and [c["remote_number"] for c in answered["calls"]] == ["tuiphone"], answered
