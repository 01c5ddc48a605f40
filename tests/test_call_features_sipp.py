"""Call features on the wire, checked in SIPp's message log: forwarding (302 + Diversion), blocklist (603),
ghost calls (403 / 404), anonymous callers (433), anonymous outgoing calls (From + Privacy), intercom."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.inprocess import phone_factory, wait_for
from tests.peers.procs import free_port
from tests.peers.sipp import SippResult
from tuiphone.engine.events import (
    CallLogEntry,
    CallState,
    GhostCall,
    IncomingCall,
    LineState,
)
from tuiphone.engine.phone import Phone

pytestmark = pytest.mark.peers

PBX = "127.0.0.2"                      # the account's SIP server: a loopback address SIPp normally does not use
PBX_SERVER = f"{PBX}:5999"             # nobody listens there; register = false sends it nothing
ACCOUNT = {"sip_server": PBX_SERVER, "user_id": "1001", "register": False}
ANONYMOUS_FROM = '"Anonymous" <sip:anonymous@anonymous.invalid>'


def caller_keys(*, to_user: str = "1001", to_host: str = PBX, caller: str = "5550100", from_name: str = "SIPp",
                from_host: str = "127.0.0.1") -> dict[str, str]:
    """Keys of the feat_uac_* scenarios: To (which account pjsua picks) and From (who calls)."""
    return {"to_user": to_user, "to_host": to_host, "caller": caller, "from_name": from_name,
            "from_host": from_host}


def invite_answers(result: SippResult) -> list[int]:
    """Codes the phone answered the INVITE with, past 100 Trying."""
    return [m.status for m in result.find("received") if m.status and m.status >= 180
            and (m.header("CSeq") or "").endswith("INVITE")]


@pytest.fixture
def phone() -> Iterator[Callable[[dict], Phone]]:
    with phone_factory() as make:
        yield make


# ----- forwarding -----------------------------------------------------------------------------------

def test_forward_always_answers_sipp_302_with_the_target_in_contact_and_a_diversion(sipp, phones) -> None:
    fwd = phones("fwd", ["answer", "--timeout", "20", "--json"], ready=True,
                 config={"accounts": [ACCOUNT], "features": {"forward_always": "2000"}})
    result = sipp("feat_uac_expect_302.xml", remote=fwd.address, service="1001", keys=caller_keys(),
                  timeout=5).wait()
    assert result.passed, result.explain()
    assert invite_answers(result) == [302]
    (moved,) = result.find("received", status=302)
    contacts = [line.split(":", 1)[1].strip() for line in moved.text.splitlines()
                if line.lower().startswith(("contact:", "m:"))]
    assert contacts == [f"<sip:2000@{PBX_SERVER}>"], moved.text
    assert moved.header("Diversion") == f"<sip:1001@{PBX_SERVER}>;reason=unconditional"


# ----- blocklist ------------------------------------------------------------------------------------

def test_a_blocked_caller_gets_603_and_the_phone_never_rings(sipp, phone) -> None:
    p = phone({"accounts": [ACCOUNT]})
    p.block("5550100").result(5)
    result = sipp("feat_uac_refused.xml", remote=f"127.0.0.1:{p.port}", service="1001", keys=caller_keys(),
                  timeout=5).wait()
    assert result.passed, result.explain()
    assert invite_answers(result) == [603]
    entry = wait_for(p, lambda e: isinstance(e, CallLogEntry))
    assert (entry.disposition, entry.remote_number) == ("blocked", "5550100")
    assert not [e for e in p.seen if isinstance(e, IncomingCall)]


def test_a_blocked_pattern_refuses_sipp_with_603(sipp, phone) -> None:
    p = phone({"accounts": [ACCOUNT]})
    p.block("1900x+").result(5)
    result = sipp("feat_uac_refused.xml", remote=f"127.0.0.1:{p.port}", service="1001",
                  keys=caller_keys(caller="19005550100"), timeout=5).wait()
    assert result.passed, result.explain()
    assert invite_answers(result) == [603]


# ----- ghost calls ----------------------------------------------------------------------------------

def test_only_the_server_gets_through_when_the_account_accepts_only_its_server(sipp, phones) -> None:
    """A scanner on 127.0.0.1 gets 403 and never rings; the 'server' on 127.0.0.2 then rings and is answered."""
    server_port = free_port("udp", PBX)
    config = {"accounts": [{**ACCOUNT, "sip_server": f"{PBX}:{server_port}", "accept_only_from_server": True}]}
    guarded = phones("guarded", ["answer", "--count", "1", "--duration", "0.3", "--timeout", "20", "--json"],
                     config=config, ready=True)
    scan = sipp("feat_uac_refused.xml", remote=guarded.address, service="100",
                keys=caller_keys(to_user="100", to_host="127.0.0.1", caller="scanner"), timeout=5).wait()
    assert scan.passed, scan.explain()
    assert invite_answers(scan) == [403]

    server = sipp("uac_call.xml", remote=guarded.address, service="1001", host=PBX, port=server_port,
                  keys={"caller": "200"}, timeout=10).wait()
    assert server.passed, server.explain()
    rc, report = guarded.result(timeout=15)
    assert rc == 0, report
    assert [c["remote_number"] for c in report["calls"]] == ["200"]      # the scanner is not among them


def test_an_invite_for_another_user_of_the_account_gets_404(sipp, phone) -> None:
    p = phone({"accounts": [ACCOUNT]})
    # To names the account (so pjsua hands the call to it), the Request-URI another user
    result = sipp("feat_uac_refused.xml", remote=f"127.0.0.1:{p.port}", service="nobody", keys=caller_keys(),
                  timeout=5).wait()
    assert result.passed, result.explain()
    assert invite_answers(result) == [404]
    ghost = wait_for(p, lambda e: isinstance(e, GhostCall))
    assert (ghost.account, ghost.sip_status) == (0, 404)
    assert p.ghost_calls == {ghost.source: 1} and ghost.source.startswith("127.0.0.1:")


def test_an_invite_naming_an_unknown_user_that_lands_on_the_direct_account_gets_404_too(sipp, phone) -> None:
    """pjsua picks the account from the To URI (user+host, then host, then user); To sip:nobody@<phone>
    matches the direct account by host. The scanner case of seed 3.4: with an account checking user IDs,
    a Request-URI user that is no account's user is refused all the same, and never rings."""
    p = phone({"accounts": [ACCOUNT]})
    result = sipp("feat_uac_refused.xml", remote=f"127.0.0.1:{p.port}", service="nobody",
                  keys=caller_keys(to_user="nobody", to_host="127.0.0.1"), timeout=5).wait()
    assert result.passed, result.explain()
    assert invite_answers(result) == [404]
    ghost = wait_for(p, lambda e: isinstance(e, GhostCall))
    assert (ghost.account, ghost.sip_status) == (None, 404)
    assert not [e for e in p.seen if isinstance(e, IncomingCall)]


# ----- anonymous calls ------------------------------------------------------------------------------

def test_an_anonymous_caller_gets_433_when_the_account_rejects_them(sipp, phone) -> None:
    p = phone({"accounts": [{**ACCOUNT, "reject_anonymous": True}]})
    result = sipp("feat_uac_refused.xml", remote=f"127.0.0.1:{p.port}", service="1001",
                  keys=caller_keys(caller="anonymous", from_name="Anonymous", from_host="anonymous.invalid"),
                  timeout=5).wait()
    assert result.passed, result.explain()
    assert invite_answers(result) == [433]
    assert not [e for e in p.seen if isinstance(e, IncomingCall)]


@pytest.mark.parametrize(("anonymous", "dialed"), [(True, "100"), (False, "*67100")],
                         ids=["account anonymous", "*67 for one call"])
def test_an_anonymous_call_sends_an_anonymous_from_and_privacy_id(sipp, phones, anonymous: bool,
                                                                   dialed: str) -> None:
    uas = sipp("uas_answer.xml", timeout=10)
    config = {"accounts": [{**ACCOUNT, "sip_server": uas.address, "anonymous": anonymous}]}
    rc, report = phones("anon", ["call", dialed, "--duration", "0.3", "--timeout", "5", "--json"],
                        config=config).result(timeout=20)
    assert rc == 0, report
    result = uas.wait()
    assert result.passed, result.explain()
    (invite,) = result.find("received", method="INVITE")[:1]
    assert invite.first_line.startswith(f"INVITE sip:100@{uas.address}")
    sender = invite.header("From")
    assert sender is not None and sender.startswith(ANONYMOUS_FROM + ";tag="), sender
    assert invite.header("Privacy") == "id"


def test_a_normal_call_shows_who_calls_and_sends_no_privacy(sipp, phones) -> None:
    uas = sipp("uas_answer.xml", timeout=10)
    config = {"accounts": [{**ACCOUNT, "sip_server": uas.address}]}
    rc, report = phones("plain", ["call", "100", "--duration", "0.3", "--timeout", "5", "--json"],
                        config=config).result(timeout=20)
    assert rc == 0, report
    (invite,) = uas.wait().find("received", method="INVITE")[:1]
    assert f"<sip:1001@{uas.host}" in (invite.header("From") or "")
    assert invite.header("Privacy") is None


# ----- intercom -------------------------------------------------------------------------------------

def test_an_intercom_call_is_answered_without_anyone_answering(sipp, phone) -> None:
    p = phone({"accounts": [{**ACCOUNT, "auto_answer": "intercom"}]})
    run = sipp("feat_uac_intercom.xml", remote=f"127.0.0.1:{p.port}", service="1001", keys=caller_keys(),
               pause_ms=300, timeout=5)
    ringing = wait_for(p, lambda e: isinstance(e, IncomingCall))
    assert (ringing.account, ringing.auto_answer) == (0, True)
    wait_for(p, lambda e: isinstance(e, CallState) and e.state == LineState.TALKING)
    result = run.wait()
    assert result.passed, result.explain()
    assert invite_answers(result) == [180, 200]
    (invite,) = result.find("sent", method="INVITE")
    assert invite.header("Call-Info").endswith(";answer-after=0")
    entry = wait_for(p, lambda e: isinstance(e, CallLogEntry))
    assert entry.disposition == "answered"
