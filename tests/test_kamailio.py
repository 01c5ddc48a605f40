"""tuiphone against Kamailio as registrar/proxy with digest auth: register, calls, outages, failover."""

from __future__ import annotations

import queue
import time

import pytest

from tests.inprocess import phone_factory as inprocess_phones
from tuiphone.audio.analysis import dominant_frequency
from tuiphone.audio.wav import read_wav
from tuiphone.engine.events import LineState, RegState
from tuiphone.engine.phone import Phone

pytestmark = pytest.mark.peers


def account(kam, user: str, **extra) -> dict:
    return {"sip_server": f"{kam.host}:{kam.port}", "user_id": user, "password": kam.users.get(user, "x"),
            "reg_expires": 60, **extra}


def test_register_with_digest_auth(kamailio, phones):
    proc = phones("reg", ["register", "--json"], config={"accounts": [account(kamailio, "1001")]})
    rc, report = proc.result()
    assert rc == 0, proc.stderr()
    assert report["registered"] is True
    assert report["sip_status"] == 200
    assert report["expires"] > 0
    trace = proc.trace()
    assert "SIP/2.0 401" in trace and "Authorization: Digest" in trace


def test_wrong_password_is_reported_not_retried_forever(kamailio, phones):
    proc = phones("reg", ["register", "--json"],
                  config={"accounts": [account(kamailio, "1001", password="not-the-password")]})
    rc, report = proc.result()
    assert rc == 1
    assert report["registered"] is False
    assert report["sip_status"] == 403


def test_call_between_two_registered_users(kamailio, phones, tmp_path):
    callee = phones("callee", ["answer", "--tone", "1000", "--timeout", "25", "--json"],
                    config={"accounts": [account(kamailio, "1002")]}, ready=True)
    deadline = time.monotonic() + 10
    while "SIP/2.0 200 OK" not in callee.trace().split("REGISTER sip:", 1)[-1] and time.monotonic() < deadline:
        time.sleep(0.1)
    caller = phones("caller", ["call", "1002", "--tone", "440", "--record", str(tmp_path / "caller.wav"),
                               "--duration", "2", "--json"], config={"accounts": [account(kamailio, "1001")]})
    rc, report = caller.result()
    assert rc == 0, (report, caller.stderr())
    assert report["result"] == "answered"
    assert abs(dominant_frequency(read_wav(tmp_path / "caller.wav")[4800:], 16000) - 1000) < 20
    assert "SIP/2.0 407" in caller.trace()          # the proxy challenged the INVITE
    rc, answered = callee.result()
    assert answered["calls"][0]["remote_number"] == "1001"


def test_number_not_registered_gets_480(kamailio, phones):
    caller = phones("caller", ["call", "1003", "--json"], config={"accounts": [account(kamailio, "1001")]})
    rc, report = caller.result()
    assert rc == 1
    assert report["sip_status"] == 480 and report["result"] == "no_answer"


@pytest.fixture
def phone_factory():
    with inprocess_phones() as make:
        yield make


def wait_reg(phone: Phone, pred, timeout: float) -> RegState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ev = phone.events.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(ev, RegState) and pred(ev):
            return ev
    raise AssertionError(f"no matching registration state in {timeout} s: {phone.registrations()}")


KEEPALIVE = {"options_keepalive": True, "options_interval": 1, "options_max_lost": 2}


def test_registrar_outage_keeps_the_call_and_reregisters_when_it_returns(kamailio, phone_factory, phones):
    _callee = phones("callee", ["answer", "--tone", "1000", "--timeout", "40"],
                    config={"accounts": [account(kamailio, "1002")]}, ready=True)
    phone = phone_factory({"accounts": [account(kamailio, "1001", **KEEPALIVE)]})
    wait_reg(phone, lambda r: r.registered, 10)
    time.sleep(0.5)   # let the callee's REGISTER land too
    line = phone.call("1002").result(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            s.line == line and s.state == LineState.TALKING for s in phone.lines()):
        time.sleep(0.1)

    kamailio.stop()
    down = wait_reg(phone, lambda r: not r.registered, 10)
    assert down.sip_status in (408, 503)
    assert [s.state for s in phone.lines()] == [LineState.TALKING]     # the call survives the outage
    q1 = phone.quality(line).result(5)
    time.sleep(1.0)
    q2 = phone.quality(line).result(5)
    assert q2.rx_packets > q1.rx_packets                               # and its audio still flows

    kamailio.start()
    back = wait_reg(phone, lambda r: r.registered, 20)
    assert back.sip_status == 200
    phone.hangup(line).result(5)


def test_failover_to_the_secondary_sip_server(kamailio, kamailio_factory, phone_factory):
    secondary = kamailio_factory()
    kamailio.stop()
    phone = phone_factory({"accounts": [account(kamailio, "1001", secondary_sip_server=f"127.0.0.1:{secondary.port}",
                                                **KEEPALIVE)]})
    reg = wait_reg(phone, lambda r: r.registered, 20)
    assert reg.server == f"127.0.0.1:{secondary.port}"


def test_register_over_tcp(kamailio, phones):
    proc = phones("reg", ["register", "--json"], config={"accounts": [account(kamailio, "1001", transport="tcp")]})
    rc, report = proc.result()
    assert rc == 0, proc.stderr()
    assert report["registered"] is True
    assert f"OUT TCP to 127.0.0.1:{kamailio.port}" in proc.trace()
