"""Phone commands on the wire, against SIPp and Kamailio: forwarding a ringing call (302 + Diversion), an
anonymous call whose Contact hides the user ID, a BLF key picking up a ringing extension, and an account
reconfigured while the phone runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.inprocess import phone_factory, wait_for
from tests.peers.sipp import SippResult
from tuiphone.config import AccountConfig
from tuiphone.engine.events import (
    Blf,
    CallLogEntry,
    CallState,
    IncomingCall,
    LineState,
    RegState,
    SipMessage,
)
from tuiphone.engine.phone import ANONYMOUS_FROM, Phone

pytestmark = pytest.mark.peers

PBX = "127.0.0.2"                      # the account's SIP server: a loopback address SIPp normally does not use
PBX_SERVER = f"{PBX}:5999"             # nobody listens there; register = false sends it nothing
ACCOUNT = {"sip_server": PBX_SERVER, "user_id": "1001", "register": False, "mwi": False}


@pytest.fixture
def phone() -> Iterator[Callable[[dict], Phone]]:
    with phone_factory() as make:
        yield make


def header_values(text: str, *names: str) -> list[str]:
    wanted = tuple(n.lower() + ":" for n in names)
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.lower().startswith(wanted)]


# ----- forwarding a ringing call --------------------------------------------------------------------------

def test_forwarding_a_ringing_call_answers_the_caller_302_with_the_target_and_a_diversion(sipp, phone) -> None:
    p = phone({"accounts": [ACCOUNT]})
    run = sipp("feat_uac_expect_302.xml", remote=f"127.0.0.1:{p.port}", service="1001", timeout=8,
               keys={"to_user": "1001", "to_host": PBX, "caller": "5550100", "from_name": "SIPp",
                     "from_host": "127.0.0.1"})
    ringing = wait_for(p, lambda e: isinstance(e, IncomingCall))
    assert p.forward(ringing.line, "2000").result(5) == f"sip:2000@{PBX_SERVER}"
    result: SippResult = run.wait()
    assert result.passed, result.explain()
    assert [m.status for m in result.find("received") if m.status and m.status >= 180] == [180, 302]
    (moved,) = result.find("received", status=302)
    assert header_values(moved.text, "Contact", "m") == [f"<sip:2000@{PBX_SERVER}>"], moved.text
    assert moved.header("Diversion") == f"<sip:1001@{PBX_SERVER}>;reason=deflection"
    entry = wait_for(p, lambda e: isinstance(e, CallLogEntry))
    assert (entry.disposition, entry.remote_number) == ("forwarded", "5550100")
    assert p.lines() == []


# ----- caller-ID privacy ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialed, anonymous", [("100", True), ("*67100", False)],
                         ids=["account anonymous", "*67 for one call"])
def test_an_anonymous_call_hides_the_user_id_in_contact_too_and_the_far_end_can_still_hang_up(
        sipp, phone, dialed: str, anonymous: bool) -> None:
    uas = sipp("uas_answer_then_bye.xml", pause_ms=300, timeout=8)
    p = phone({"accounts": [{**ACCOUNT, "sip_server": uas.address, "anonymous": anonymous,
                             "display_name": "Front Desk"}]})
    line = p.call(dialed).result(5)
    wait_for(p, lambda e: isinstance(e, CallState) and e.line == line and e.state == LineState.TALKING)
    wait_for(p, lambda e: isinstance(e, CallState) and e.line == line and e.state == LineState.ENDED)
    result = uas.wait()
    assert result.passed, result.explain()           # the BYE sent to our anonymous Contact was answered
    invite = result.find("received", method="INVITE")[0]
    assert (invite.header("From") or "").startswith(ANONYMOUS_FROM + ";tag=")
    assert invite.header("Privacy") == "id"
    (contact,) = header_values(invite.text, "Contact", "m")
    assert contact.startswith(f"<sip:anonymous@127.0.0.1:{p.port}"), contact
    assert "1001" not in invite.text.split("\r\n\r\n")[0].replace(f"sip:100@{uas.address}", "")
    assert "Front Desk" not in invite.text


def test_a_normal_call_after_an_anonymous_one_shows_the_user_again(sipp, phone) -> None:
    uas = sipp("uas_answer_then_bye.xml", pause_ms=200, timeout=8, calls=2)
    p = phone({"accounts": [{**ACCOUNT, "sip_server": uas.address}]})
    for dialed in ("*67100", "100"):
        line = p.call(dialed).result(5)
        wait_for(p, lambda e, n=line: isinstance(e, CallState) and e.line == n and e.state == LineState.ENDED)
    result = uas.wait()
    assert result.passed, result.explain()
    contacts = [header_values(m.text, "Contact", "m")[0] for m in result.find("received", method="INVITE")]
    assert [c.split("@")[0] for c in contacts] == ["<sip:anonymous", "<sip:1001"]


# ----- BLF key: pick up the ringing extension -------------------------------------------------------------

def test_pressing_a_blf_key_while_its_extension_rings_dials_the_pickup_code(sipp, phone) -> None:
    pbx = sipp("uas_presence_ringing_pickup.xml", calls=2, timeout=8)
    p = phone({"accounts": [{**ACCOUNT, "sip_server": pbx.address}],
               "keys": [{"mode": "blf", "account": 1, "label": "Bob", "value": "1002"}]})
    wait_for(p, lambda e: isinstance(e, Blf) and e.state == "ringing")
    assert p.key_states() == {0: "ringing"}
    line = p.dial_key(0).result(5)
    ended = wait_for(p, lambda e: isinstance(e, CallState) and e.line == line and e.state == LineState.ENDED)
    assert ended.sip_status == 480
    result = pbx.wait()
    assert result.passed, result.explain()
    (invite,) = result.find("received", method="INVITE")
    assert invite.first_line == f"INVITE sip:**1002@{pbx.address} SIP/2.0"


# ----- reconfiguring an account live -------------------------------------------------------------------

def kamailio_account(kam, user: str, password: str | None = None) -> AccountConfig:
    return AccountConfig(sip_server=f"{kam.host}:{kam.port}", user_id=user, reg_expires=60, mwi=False,
                         password=kam.users[user] if password is None else password)


def test_reconfiguring_to_another_user_registers_that_user_and_calls_for_it_arrive(kamailio, sipp, phone) -> None:
    p = phone({"accounts": [kamailio_account(kamailio, "1001").model_dump()]})
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    p.reconfigure_account(0, kamailio_account(kamailio, "1002")).result(5)
    reg = wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    assert p.config.accounts[0].user_id == "1002"
    registers = [m.text for m in p.seen if isinstance(m, SipMessage) and m.direction == "out"
                 and m.first_line.startswith("REGISTER")]
    assert "<sip:1002@" in header_values(registers[-1], "From", "f")[0]
    # Kamailio's location table now sends calls for 1002 here (a caller from another domain: no auth asked)
    run = sipp("uac_expect_486.xml", remote=f"{kamailio.host}:{kamailio.port}", service="1002", host="127.0.0.2",
               timeout=8)
    ringing = wait_for(p, lambda e: isinstance(e, IncomingCall))
    assert (ringing.account, reg.account) == (0, 0)
    p.reject(ringing.line).result(5)
    result = run.wait()
    assert result.passed, result.explain()
    # and 1001 was unregistered when its account was replaced: nobody is there any more
    old = sipp("uac_expect_480.xml", remote=f"{kamailio.host}:{kamailio.port}", service="1001", host="127.0.0.2",
               timeout=5).wait()
    assert old.passed, old.explain()


def test_reconfiguring_with_a_wrong_password_shows_403(kamailio, phone) -> None:
    p = phone({"accounts": [kamailio_account(kamailio, "1001").model_dump()]})
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    p.reconfigure_account(0, kamailio_account(kamailio, "1002", password="wrong")).result(5)
    failed = wait_for(p, lambda e: isinstance(e, RegState) and e.sip_status == 403)
    assert not failed.registered
    assert p.registrations()[0].sip_status == 403


def test_disabling_an_account_unregisters_it_at_the_registrar(kamailio, sipp, phone) -> None:
    p = phone({"accounts": [kamailio_account(kamailio, "1001").model_dump()]})
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    p.reconfigure_account(0, kamailio_account(kamailio, "1001").model_copy(update={"enabled": False})).result(5)
    gone = wait_for(p, lambda e: isinstance(e, RegState) and not e.registered)
    assert gone.sip_status == 200
    # Kamailio no longer knows where 1001 is: a call for it gets 480 and never reaches the phone
    run = sipp("uac_expect_480.xml", remote=f"{kamailio.host}:{kamailio.port}", service="1001",
               host="127.0.0.2", timeout=5)
    result = run.wait()
    assert result.passed, result.explain()
    assert not [e for e in p.seen if isinstance(e, IncomingCall)]


def test_an_anonymous_call_from_a_registered_account_goes_through_its_registrar(kamailio, phone) -> None:
    p = phone({"accounts": [{**kamailio_account(kamailio, "1001").model_dump(), "anonymous": True}]})
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    line = p.call("1003").result(5)
    ended = wait_for(p, lambda e: isinstance(e, CallState) and e.line == line and e.state == LineState.ENDED)
    assert ended.sip_status == 480            # Kamailio looked 1003 up: the INVITE got through as a call
    (invite,) = [m.text for m in p.seen if isinstance(m, SipMessage) and m.direction == "out"
                 and m.first_line.startswith("INVITE")]
    head = invite.split("\r\n\r\n")[0]
    assert header_values(head, "Contact", "m")[0].startswith("<sip:anonymous@127.0.0.1:")
    assert "1001" not in head
    assert p.registrations()[0].registered           # the account itself stays registered
