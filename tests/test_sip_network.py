"""[sip] network settings on the real engine: STUN (NAT type detected), the RTP port range, a random SIP port."""

from __future__ import annotations

import re
import time

import pytest

from tests.inprocess import phone_factory, wait_for
from tests.peers.stun import stun_server
from tuiphone.config import Config
from tuiphone.engine.events import SipMessage
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers


def nat_type(phone, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        kind = phone.backend.submit(phone.backend.nat_type).result(2)
        if kind != "detecting" or time.monotonic() > deadline:
            return kind
        time.sleep(0.1)


def test_with_a_stun_server_the_nat_type_is_detected_and_rtp_uses_the_port_range(phones):
    callee = phones("callee", ["answer", "--timeout", "20", "--json"], ready=True)
    with stun_server() as stun, phone_factory() as make:
        caller = make({"sip": {"stun_server": stun.address, "rtp_port_min": 41000, "rtp_port_max": 41019}})
        kind = nat_type(caller)
        assert kind in ("open", "full_cone", "restricted", "port_restricted", "symmetric", "symmetric_udp"), kind
        assert stun.requests >= 2          # the binding request and the NAT type tests reached our server
        line = caller.call(f"sip:1@127.0.0.1:{callee.port}").result(5)
        invite = wait_for(caller, lambda e: isinstance(e, SipMessage) and e.direction == "out"
                          and e.first_line.startswith("INVITE"))
        port = int(re.search(r"^m=audio (\d+) ", invite.text, re.MULTILINE)[1])
        assert 41000 <= port <= 41019
        caller.hangup(line).result(5)


def test_without_stun_or_a_range_there_is_no_nat_type_and_rtp_takes_any_free_port(phones):
    callee = phones("callee", ["answer", "--timeout", "20", "--json"], ready=True)
    with phone_factory() as make:
        caller = make({})
        assert nat_type(caller) == "off"
        line = caller.call(f"sip:1@127.0.0.1:{callee.port}").result(5)
        invite = wait_for(caller, lambda e: isinstance(e, SipMessage) and e.direction == "out"
                          and e.first_line.startswith("INVITE"))
        assert int(re.search(r"^m=audio (\d+) ", invite.text, re.MULTILINE)[1]) > 0
        caller.hangup(line).result(5)


def test_random_port_opens_sip_on_a_free_port_instead_of_sip_port():
    phone = Phone(Config.model_validate({"sip": {"port": 5060, "random_port": True}}), PjsuaBackend(),
                  bind="127.0.0.1")
    phone.start()
    try:
        port = int(phone.backend.local_address().rsplit(":", 1)[1])
        assert port not in (0, 5060)
    finally:
        phone.stop()
