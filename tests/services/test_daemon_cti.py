"""`tuiphone daemon` driven over real HTTP on its CTI port, with real tuiphone peers on loopback."""

from __future__ import annotations

import os
import re
import signal
import time

import aiohttp
import pytest

from tests.services.helpers import http_get, wait_for

pytestmark = pytest.mark.peers


def test_make_call_connects_to_a_real_phone_and_endcall_hangs_up(daemons, phones):
    callee = phones("callee", ["answer", "--timeout", "30", "--json"], ready=True)
    daemon, cti = daemons()
    status, answer = cti.get("api-make_call", phonenumber=callee.keypad)
    assert (status, answer["response"], answer["body"], answer["line"]) == (200, "success", "complete", 1)
    line = cti.wait_state("connected")
    assert line["active"] == 1 and line["acct"] == ""
    assert cti.ok("api-get_phone_status") == "busy"
    assert [ln["state"] for ln in cti.ok("api-get_line_status")[1:]] == ["idle"] * 5
    assert cti.ok("api-phone_operation", cmd="endcall") == "complete"
    rc, report = callee.result()
    assert rc == 0, callee.stderr()
    assert report["answered"] == 1
    wait_for(lambda: cti.ok("api-get_phone_status") == "available", 5, "the phone to be available again")


def test_incoming_call_is_accepted_held_resumed_and_ended(daemons, phones):
    daemon, cti = daemons()
    caller = phones("caller", ["call", daemon.keypad, "--duration", "30", "--timeout", "20", "--json"])
    wait_for(lambda: cti.ok("api-get_phone_status") == "ringing", 10, "the daemon to ring")
    ringing = cti.line(1)
    assert ringing["state"] == "ringing" and ringing["active"] == 1
    assert cti.ok("api-phone_operation", cmd="acceptcall") == "complete"
    cti.wait_state("connected")
    assert cti.ok("api-phone_operation", cmd="holdcall") == "complete"
    assert cti.line(1)["state"] == "onhold"
    assert cti.ok("api-get_phone_status") == "busy"
    assert cti.ok("api-phone_operation", cmd="unhold") == "complete"
    cti.wait_state("connected")
    assert cti.ok("api-phone_operation", cmd="endcall") == "complete"
    _, report = caller.result()
    assert report["result"] == "answered", caller.stderr()
    assert 0 < report["duration_s"] < 25


def test_rejectcall_turns_the_caller_away_busy(daemons, phones):
    daemon, cti = daemons()
    caller = phones("caller", ["call", daemon.keypad, "--timeout", "20", "--json"])
    wait_for(lambda: cti.ok("api-get_phone_status") == "ringing", 10, "the daemon to ring")
    assert cti.ok("api-phone_operation", cmd="rejectcall") == "complete"
    rc, report = caller.result()
    assert rc == 1
    assert (report["result"], report["sip_status"]) == ("busy", 486)
    assert cti.ok("api-get_phone_status") == "available"


def test_wrong_passcodes_lock_the_address_out_for_a_while(daemons):
    daemon, cti = daemons(passcode="s3cret")
    for _ in range(4):
        status, answer = cti.get("api-get_phone_status", passcode="guess")
        assert (status, answer) == (401, {"response": "error", "body": "wrong or missing passcode"})
    status, answer = cti.get("api-get_phone_status")          # the right passcode, but locked out
    assert status == 429 and "too many wrong passcodes" in answer["body"]
    time.sleep(1.1)
    assert cti.ok("api-get_phone_status") == "available"
    assert "wrong passcode from 127.0.0.1" in daemon.stderr()


def test_browser_requests_and_bad_parameters_get_a_json_4xx(daemons):
    daemon, cti = daemons()
    refused = {
        "browser Origin": cti.get("api-get_phone_status", headers={"Origin": "http://evil.example"}),
        "cross-site fetch": cti.get("api-get_phone_status", headers={"Sec-Fetch-Site": "cross-site"}),
        "rebinding Host": cti.get("api-get_phone_status", headers={"Host": "evil.example:80"}),
        "unknown function": cti.get("api-reboot"),
        "no phonenumber": cti.get("api-make_call"),
        "account not a number": cti.get("api-make_call", phonenumber="100", account="one"),
        "account out of range": cti.get("api-make_call", phonenumber="100", account="3"),
        "unknown cmd": cti.get("api-phone_operation", cmd="explode"),
        "unknown key": cti.get("api-send_key", keys="1:FOO"),
        "nothing ringing": cti.get("api-phone_operation", cmd="acceptcall"),
        "nothing to end": cti.get("api-phone_operation", cmd="endcall"),
        "number is not dialable": cti.get("api-make_call", phonenumber="12345"),
    }
    statuses = {what: status for what, (status, _) in refused.items()}
    assert statuses == {
        "browser Origin": 403, "cross-site fetch": 403, "rebinding Host": 403, "unknown function": 404,
        "no phonenumber": 400, "account not a number": 400, "account out of range": 400, "unknown cmd": 400,
        "unknown key": 400, "nothing ringing": 409, "nothing to end": 409, "number is not dialable": 409,
    }
    for what, (_, answer) in refused.items():
        assert answer["response"] == "error" and answer["body"], what
    status, answer = http_get(f"{cti.base}/cgi-bin/api-get_phone_status", {"passcode": cti.passcode},
                              method="POST")
    assert (status, answer["response"]) == (405, "error")
    status, answer = http_get(f"{cti.base}/cgi-bin/api-get_phone_status", {"passcode": cti.passcode},
                              method="OPTIONS")
    assert status == 405
    assert "no account is configured" in refused["number is not dialable"][1]["body"]


def test_no_cors_headers_on_any_answer(daemons):
    daemon, cti = daemons()

    async def headers() -> dict[str, str]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{cti.base}/cgi-bin/api-get_phone_status", params={"passcode": "4321"}) as r:
                return dict(r.headers)
    import asyncio

    got = asyncio.run(headers())
    assert not [name for name in got if name.lower().startswith("access-control-")]
    assert got["Content-Type"].startswith("application/json")


def test_cti_disabled_opens_no_port(daemons):
    daemon, cti = daemons(cti=False)
    daemon.wait_ready()
    with pytest.raises(aiohttp.ClientConnectionError):
        cti.get("api-get_phone_status")


def test_sigterm_hangs_up_calls_and_unregisters(daemons, phones, kamailio):
    callee = phones("callee", ["answer", "--timeout", "30", "--json"], ready=True)
    account = {"sip_server": f"{kamailio.host}:{kamailio.port}", "user_id": "1001", "password": "pw1001",
               "reg_expires": 60}
    daemon, cti = daemons(config={"accounts": [account]})
    wait_for(lambda: cti.ok("api-get_accounts")[0]["reg"] == 1, 10, "account 1 to register")
    assert cti.ok("api-get_accounts")[0] == {
        "id": 0, "name": "", "sip_id": "1001", "sip_server": f"{kamailio.host}:{kamailio.port}", "reg": 1,
        "status": "registered", "sip_status": 200, "reason": "OK"}
    cti.ok("api-make_call", phonenumber=f"sip:100@{callee.address}")
    cti.wait_state("connected")
    os.kill(daemon._popen.pid, signal.SIGTERM)
    rc = daemon._popen.wait(15)
    assert rc == 0, daemon.stderr()
    assert "Traceback" not in daemon.stderr()
    rc, report = callee.result()
    assert report["answered"] == 1 and report["calls"][0]["result"] == "answered"
    sent = [block for block in daemon.trace().split("\n\n") if " OUT " in block.split("\n", 1)[0]]
    assert any("\nBYE sip:" in block for block in sent), "no BYE went out at stop"
    assert any("\nREGISTER sip:" in block and re.search(r"expires[=:]\s*0\b", block, re.IGNORECASE)
               for block in sent), \
        "no REGISTER with expires 0 went out at stop"
