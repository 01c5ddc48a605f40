"""Call features in the phone logic, against the fake SIP stack: forwarding (302 + Diversion), DND, auto-answer and
intercom, blocklist, ghost calls, anonymous calls, feature codes, the call log and distinctive ring."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes import FakeBackend
from tuiphone.config import Config
from tuiphone.engine import phone as phone_module
from tuiphone.engine import registration as registration_module
from tuiphone.engine.events import (
    CallLogEntry,
    CallState,
    Event,
    FeaturesChanged,
    GhostCall,
    IncomingCall,
    LineState,
    Notice,
)
from tuiphone.engine.phone import ANONYMOUS_FROM, AUTO_ANSWER_DELAY_S, Phone, PhoneError

SERVER = "192.0.2.10:5060"            # an IP literal: no name to resolve, nothing leaves the process
ACCOUNT = {"sip_server": SERVER, "user_id": "1001"}
OWN_AOR = f"sip:1001@{SERVER}"
CALLER = '"Alice" <sip:200@192.0.2.10>'
FROM_SERVER = "192.0.2.10:5060"
SCANNER = "203.0.113.9:5060"


@dataclass
class Rig:
    """A started phone on a fake stack, with every event it emitted and every config it saved."""
    phone: Phone
    sip: FakeBackend
    events: list[Event] = field(default_factory=list)
    saved: list[dict] = field(default_factory=list)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def incoming(self, remote: str = CALLER, account: int | None = 0, **kw: Any) -> int:
        kw.setdefault("source", FROM_SERVER)
        return self.sip.incoming(account, remote, **kw)

    def ringing(self, remote: str = CALLER, account: int | None = 0, **kw: Any) -> tuple[int, int]:
        cid = self.incoming(remote, account, **kw)
        return self.of(IncomingCall)[-1].line, cid

    def talking_in(self, remote: str = CALLER) -> tuple[int, int]:
        line, cid = self.ringing(remote)
        self.phone.answer(line).result()
        self.sip.remote_state(cid, "confirmed")
        return line, cid

    def log(self) -> list[tuple[str, str]]:
        return [(e.direction, e.disposition) for e in self.of(CallLogEntry)]

    def notices(self) -> list[str]:
        return [n.text for n in self.of(Notice)]


def make_phone(*, accounts: list[dict] | None = None, lines: int = 6, features: dict | None = None) -> Rig:
    config = Config.model_validate({
        "phone": {"lines": lines},
        "sip": {"port": 0},
        "accounts": [ACCOUNT] if accounts is None else accounts,
        "features": features or {},
    })
    sip = FakeBackend()
    saved: list[dict] = []
    rig = Rig(Phone(config, sip, save_config=lambda cfg: saved.append(cfg.model_dump())), sip, saved=saved)
    rig.phone.subscribe(rig.events.append)
    rig.phone.start()
    return rig


@pytest.fixture
def rig() -> Rig:
    return make_phone()


def refused(rig: Rig, cid: int) -> int:
    """The final answer a call got; asserts it never rang (no 180, no line, no IncomingCall)."""
    answers = [c[2] for c in rig.sip.sent("answer") if c[1] == cid]
    assert 180 not in answers and len(answers) == 1, answers
    assert rig.of(IncomingCall) == [] and rig.phone.lines() == []
    return answers[0]


# ----- forwarding -----------------------------------------------------------------------------------

def test_forward_always_answers_302_with_the_target_in_contact_and_a_diversion() -> None:
    rig = make_phone(features={"forward_always": "2000"})
    cid = rig.incoming()
    assert refused(rig, cid) == 302
    assert rig.sip.calls[cid].answer_headers == {
        "Contact": f"<sip:2000@{SERVER}>",
        "Diversion": f"<{OWN_AOR}>;reason=unconditional",
    }
    (entry,) = rig.of(CallLogEntry)
    assert (entry.direction, entry.disposition, entry.remote_number, entry.account) == ("in", "forwarded", "200", 0)
    assert "2000" in entry.reason and "unconditional" in entry.reason


def test_forward_to_a_sip_uri_keeps_the_uri() -> None:
    rig = make_phone(features={"forward_always": "sip:alice@192.0.2.99"})
    cid = rig.incoming()
    assert rig.sip.calls[cid].answer_headers["Contact"] == "<sip:alice@192.0.2.99>"


def test_a_direct_call_is_forwarded_through_the_default_account_and_diverted_from_the_phone() -> None:
    rig = make_phone(features={"forward_always": "2000"})
    cid = rig.incoming(account=None, request_user="")
    assert refused(rig, cid) == 302
    assert rig.sip.calls[cid].answer_headers == {
        "Contact": f"<sip:2000@{SERVER}>",
        "Diversion": f"<sip:tuiphone@{rig.sip.address}>;reason=unconditional",
    }


def test_busy_forwarding_sends_the_second_call_on_with_user_busy() -> None:
    rig = make_phone(features={"forward_busy": "3000", "call_waiting": False})
    rig.talking_in()
    cid = rig.incoming('"Bob" <sip:201@192.0.2.10>')
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [302]
    assert rig.sip.calls[cid].answer_headers == {"Contact": f"<sip:3000@{SERVER}>",
                                                 "Diversion": f"<{OWN_AOR}>;reason=user-busy"}
    assert len(rig.of(IncomingCall)) == 1


def test_busy_forwarding_applies_when_every_line_is_taken_even_with_call_waiting() -> None:
    rig = make_phone(lines=1, features={"forward_busy": "3000"})
    rig.talking_in()
    cid = rig.incoming('"Bob" <sip:201@192.0.2.10>')
    assert rig.sip.calls[cid].answer_headers["Diversion"].endswith(";reason=user-busy")


def test_dnd_with_forwarding_diverts_with_reason_do_not_disturb() -> None:
    rig = make_phone(features={"dnd": True, "forward_busy": "3000"})
    cid = rig.incoming()
    assert refused(rig, cid) == 302
    assert rig.sip.calls[cid].answer_headers == {"Contact": f"<sip:3000@{SERVER}>",
                                                 "Diversion": f"<{OWN_AOR}>;reason=do-not-disturb"}


def test_a_forward_target_the_dial_plan_refuses_gets_busy_and_a_warning() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "dial_plan": "{ 1xxx }"}], features={"forward_always": "2000"})
    cid = rig.incoming()
    assert refused(rig, cid) == 486
    assert any("Cannot forward to 2000" in n.text and n.level == "warning" for n in rig.of(Notice))


def test_no_answer_forwarding_rings_for_the_delay_then_answers_302() -> None:
    rig = make_phone(features={"forward_no_answer": "4000", "forward_no_answer_delay": 10})
    line, cid = rig.ringing()
    assert rig.sip.pending_delays() == [10.0]
    rig.sip.advance(9.9)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180]
    assert rig.phone.lines()[0].state == LineState.RINGING
    rig.sip.advance(0.1)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180, 302]
    assert rig.sip.calls[cid].answer_headers == {"Contact": f"<sip:4000@{SERVER}>",
                                                 "Diversion": f"<{OWN_AOR}>;reason=no-answer"}
    assert rig.phone.lines() == []
    assert [e.state for e in rig.of(CallState) if e.line == line][-1] == LineState.ENDED


def test_a_call_forwarded_on_no_answer_is_logged_once_as_forwarded() -> None:
    rig = make_phone(features={"forward_no_answer": "4000", "forward_no_answer_delay": 10})
    rig.ringing()
    rig.sip.advance(10)
    assert rig.log() == [("in", "forwarded")]


def test_a_call_answered_in_time_is_not_forwarded() -> None:
    rig = make_phone(features={"forward_no_answer": "4000", "forward_no_answer_delay": 10})
    line, cid = rig.ringing()
    rig.phone.answer(line).result()
    rig.sip.remote_state(cid, "confirmed")
    rig.sip.advance(30)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180, 200]
    assert rig.phone.lines()[0].state == LineState.TALKING


def test_a_caller_who_gives_up_before_the_delay_is_not_forwarded() -> None:
    rig = make_phone(features={"forward_no_answer": "4000", "forward_no_answer_delay": 10})
    _, cid = rig.ringing()
    rig.sip.remote_state(cid, "disconnected", 487)
    rig.sip.advance(30)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180]
    assert rig.log() == [("in", "missed")]


# ----- do not disturb -------------------------------------------------------------------------------

def test_dnd_answers_486_without_ringing_and_logs_a_dnd_entry() -> None:
    rig = make_phone(features={"dnd": True})
    cid = rig.incoming()
    assert refused(rig, cid) == 486
    (entry,) = rig.of(CallLogEntry)
    assert (entry.disposition, entry.remote_name, entry.remote_number) == ("dnd", "Alice", "200")
    assert "Do not disturb: call from 200 refused." in rig.notices()


# ----- auto answer and intercom ---------------------------------------------------------------------

def test_auto_answer_rings_with_a_beep_then_answers() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "auto_answer": "on"}])
    _, cid = rig.ringing()
    assert rig.of(IncomingCall)[-1].auto_answer is True
    rig.sip.advance(AUTO_ANSWER_DELAY_S - 0.01)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180]
    rig.sip.advance(0.01)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180, 200]
    rig.sip.remote_state(cid, "confirmed")
    assert rig.phone.lines()[0].state == LineState.TALKING


@pytest.mark.parametrize("headers", [{"call-info": "<sip:192.0.2.10>;answer-after=0"},
                                     {"alert-info": "<http://192.0.2.10>;info=alert-autoanswer"},
                                     {"alert-info": "Auto Answer"}])
def test_intercom_mode_answers_calls_that_ask_for_it(headers: dict[str, str]) -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "auto_answer": "intercom"}])
    _, cid = rig.ringing(headers=headers)
    assert rig.of(IncomingCall)[-1].auto_answer is True
    rig.sip.advance(AUTO_ANSWER_DELAY_S)
    assert rig.sip.sent("answer")[-1] == ("answer", cid, 200)


def test_intercom_mode_lets_ordinary_calls_ring() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "auto_answer": "intercom"}])
    _, cid = rig.ringing()
    assert rig.of(IncomingCall)[-1].auto_answer is False
    rig.sip.advance(60)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180]


def test_auto_answer_does_not_break_into_a_call() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "auto_answer": "on"}])
    rig.talking_in()
    _, cid = rig.ringing('"Bob" <sip:201@192.0.2.10>')
    assert rig.of(IncomingCall)[-1].auto_answer is False
    rig.sip.advance(5)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180]


def test_auto_answer_of_a_caller_who_hung_up_during_the_beep_does_nothing() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "auto_answer": "on"}])
    _, cid = rig.ringing()
    rig.sip.remote_state(cid, "disconnected", 487)
    rig.sip.advance(AUTO_ANSWER_DELAY_S)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [180]
    assert rig.log() == [("in", "missed")]


# ----- blocklist ------------------------------------------------------------------------------------

def test_a_blocked_number_gets_603_and_is_logged_not_rung(rig: Rig) -> None:
    assert rig.phone.block("200").result() == "200 is blocked."
    cid = rig.incoming()
    assert refused(rig, cid) == 603
    (entry,) = rig.of(CallLogEntry)
    assert (entry.disposition, entry.remote_number) == ("blocked", "200")
    assert "200 is on the blocklist: call from 200 refused." in rig.notices()


def test_a_blocked_pattern_refuses_every_number_it_matches(rig: Rig) -> None:
    rig.phone.block("1900x+").result()
    blocked = rig.incoming("sip:19005551234@192.0.2.10")
    assert refused(rig, blocked) == 603
    rig.ringing("sip:2900555@192.0.2.10")
    assert rig.of(IncomingCall)[-1].remote_number == "2900555"


def test_unblocking_lets_the_caller_ring_again(rig: Rig) -> None:
    rig.phone.block("200").result()
    assert rig.phone.unblock("200").result() == "200 is no longer blocked."
    rig.ringing()
    assert rig.of(IncomingCall)[-1].remote_number == "200"


def test_a_bad_blocklist_entry_is_a_phone_error_sentence(rig: Rig) -> None:
    with pytest.raises(PhoneError, match="not a valid pattern"):
        rig.phone.block("19[00").result()


def test_blocklist_changes_are_announced(rig: Rig) -> None:
    rig.phone.block("1900x+").result()
    assert rig.of(FeaturesChanged)[-1].blocklist == ("1900x+",)


# ----- ghost calls ----------------------------------------------------------------------------------

def test_invites_from_outside_the_server_get_403_are_counted_per_source_and_never_ring() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "accept_only_from_server": True}])
    first = rig.incoming(source=SCANNER)
    again = rig.incoming(source=SCANNER)
    other = rig.incoming(source="198.51.100.7:5080")
    assert [refused(rig, c) for c in (first, again, other)] == [403, 403, 403]
    assert rig.phone.ghost_calls == {SCANNER: 2, "198.51.100.7:5080": 1}
    ghosts = rig.of(GhostCall)
    assert [(g.source, g.sip_status, g.total, g.account) for g in ghosts] == [
        (SCANNER, 403, 1, 0), (SCANNER, 403, 2, 0), ("198.51.100.7:5080", 403, 3, 0)]
    assert rig.of(CallLogEntry) == []            # scanners fill no history
    rig.ringing(source=FROM_SERVER)              # the server itself still gets through
    assert len(rig.of(IncomingCall)) == 1


def test_a_direct_call_is_a_ghost_when_an_account_accepts_only_its_server() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "accept_only_from_server": True}])
    cid = rig.incoming(account=None, request_user="", source=SCANNER)
    assert refused(rig, cid) == 403
    assert rig.of(GhostCall)[-1].account is None


def test_an_invite_for_another_user_gets_404_as_a_ghost(rig: Rig) -> None:
    cid = rig.incoming(request_user="100")
    assert refused(rig, cid) == 404
    assert rig.of(GhostCall)[-1].sip_status == 404
    assert rig.phone.ghost_calls == {FROM_SERVER: 1}


def test_a_direct_invite_for_a_user_of_no_account_gets_404_as_a_ghost_when_user_ids_are_checked() -> None:
    # seed 3.4's scanner: INVITE sip:100@<phone> matches no account, while account 1001 checks user IDs
    rig = make_phone(accounts=[{**ACCOUNT, "user_id": "alice"}, {**ACCOUNT, "check_user_id": False}])
    cid = rig.incoming(account=None, request_user="100", source=SCANNER)
    assert refused(rig, cid) == 404
    ghost = rig.of(GhostCall)[-1]
    assert (ghost.account, ghost.sip_status, ghost.source, ghost.total) == (None, 404, SCANNER, 1)
    assert "'100'" in ghost.reason and rig.of(CallLogEntry) == []
    assert rig.phone.ghost_calls == {SCANNER: 1}


def test_a_direct_invite_naming_an_account_user_or_no_user_still_rings() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "user_id": "alice"}])
    rig.ringing(account=None, request_user="", source="192.0.2.7:5062")      # plain direct IP: sip:192.0.2.7
    rig.ringing(account=None, request_user="alice", source="192.0.2.7:5062")
    assert len(rig.of(IncomingCall)) == 2 and rig.of(GhostCall) == []


def test_the_echo_service_answers_whatever_the_user_id_check() -> None:
    rig = make_phone()
    cid = rig.incoming(account=None, request_user="echo", source=SCANNER)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [200]
    assert rig.of(GhostCall) == []


def test_direct_invites_are_not_checked_when_no_enabled_account_checks_user_ids() -> None:
    for accounts in ([{**ACCOUNT, "check_user_id": False}], [{**ACCOUNT, "enabled": False}], []):
        rig = make_phone(accounts=accounts)
        rig.ringing(account=None, request_user="100", source=SCANNER)
        assert rig.of(GhostCall) == [], accounts


def test_ghost_counts_stay_bounded_when_a_scanner_uses_every_port(caplog) -> None:
    rig = make_phone()
    with caplog.at_level("WARNING", logger="tuiphone.engine.phone"):
        for port in range(1000, 1600):
            rig.incoming(account=None, request_user="100", source=f"203.0.113.9:{port}")
    assert len(rig.phone.ghost_calls) == phone_module.GHOST_SOURCES + 1
    assert sum(rig.phone.ghost_calls.values()) == 600 == rig.of(GhostCall)[-1].total
    ghost_lines = [r for r in caplog.records if "ghost call" in r.getMessage()]
    assert 1 <= len(ghost_lines) <= 5            # counted, not logged one by one


def test_ghost_calls_are_refused_even_when_every_line_is_busy() -> None:
    rig = make_phone(lines=1, accounts=[{**ACCOUNT, "accept_only_from_server": True}])
    rig.talking_in()
    cid = rig.incoming(source=SCANNER)
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [403]
    assert len(rig.phone.lines()) == 1


def test_start_looks_up_no_names_when_no_account_guards_against_ghost_calls(monkeypatch) -> None:
    looked_up: list[str] = []

    def no_dns(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "not looked up in tests")

    monkeypatch.setattr(registration_module.socket, "getaddrinfo", no_dns)
    make_phone(accounts=[{"sip_server": "pbx.example.com", "user_id": "1001"}])
    assert looked_up == []


# ----- anonymous calls ------------------------------------------------------------------------------

def test_anonymous_callers_get_433_when_the_account_rejects_them() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "reject_anonymous": True}])
    cid = rig.incoming('"Anonymous" <sip:anonymous@anonymous.invalid>')
    assert refused(rig, cid) == 433
    assert rig.log() == [("in", "rejected")]
    assert rig.of(GhostCall) == []


def test_privacy_id_counts_as_anonymous() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "reject_anonymous": True}])
    cid = rig.incoming(headers={"privacy": "id"})
    assert refused(rig, cid) == 433


def test_an_anonymous_caller_who_skips_the_server_is_rejected_too() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "reject_anonymous": True}])
    cid = rig.incoming('"Anonymous" <sip:anonymous@anonymous.invalid>', account=None, request_user="")
    assert refused(rig, cid) == 433


def test_an_anonymous_account_calls_with_privacy_id_and_an_anonymous_from() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "anonymous": True}])
    rig.phone.call("100").result()
    (cid,) = rig.sip.calls
    assert rig.sip.sent("make_call") == [("make_call", 0, f"sip:100@{SERVER}")]
    assert rig.sip.calls[cid].headers == {"Privacy": "id"}
    assert rig.sip.calls[cid].from_uri == ANONYMOUS_FROM == '"Anonymous" <sip:anonymous@anonymous.invalid>'


def test_star_67_hides_the_caller_id_for_one_call_only(rig: Rig) -> None:
    rig.phone.call("*67100").result()
    rig.phone.call("101").result()
    first, second = rig.sip.calls.values()
    assert (first.remote_uri, first.headers, first.from_uri) == (f"sip:100@{SERVER}", {"Privacy": "id"},
                                                                 ANONYMOUS_FROM)
    assert (second.remote_uri, second.headers, second.from_uri) == (f"sip:101@{SERVER}", {}, "")


def test_star_30_and_31_switch_anonymous_calls_on_and_off(rig: Rig) -> None:
    assert rig.phone.call("*30").result() is None
    assert rig.saved[-1]["accounts"][0]["anonymous"] is True
    rig.phone.call("100").result()
    assert rig.phone.call("*31").result() is None
    rig.phone.call("101").result()
    first, second = rig.sip.calls.values()
    assert (first.from_uri, second.from_uri) == (ANONYMOUS_FROM, "")
    assert "Account 1: anonymous calls on." in rig.notices()


def test_a_normal_call_shows_the_caller_id(rig: Rig) -> None:
    rig.phone.call("100").result()
    (call,) = rig.sip.calls.values()
    assert (call.headers, call.from_uri) == ({}, "")


def test_star_67_before_a_direct_ip_call_is_anonymous_or_refused(rig: Rig) -> None:
    try:
        rig.phone.call("*67192*0*2*20#5062").result()
    except PhoneError:
        return
    (call,) = rig.sip.calls.values()
    assert call.headers.get("Privacy") == "id"


# ----- feature codes through call() -----------------------------------------------------------------

@pytest.mark.parametrize(("dialed", "notice", "saved"), [
    ("*78", "Do not disturb is on.", ("features", "dnd", True)),
    ("*722000", "Forward always to 2000.", ("features", "forward_always", "2000")),
    ("*90*3000", "Forward busy to 3000.", ("features", "forward_busy", "3000")),
    ("*92#4000", "Forward no answer to 4000.", ("features", "forward_no_answer", "4000")),
    ("*50", "Call waiting is off.", ("features", "call_waiting", False)),
])
def test_feature_codes_are_carried_out_on_the_phone_and_saved(rig: Rig, dialed: str, notice: str,
                                                              saved: tuple) -> None:
    assert rig.phone.call(dialed).result() is None
    assert rig.sip.sent("make_call") == [] and rig.phone.lines() == []
    assert rig.notices()[-1] == notice
    section, key, value = saved
    assert rig.saved[-1][section][key] == value
    assert getattr(rig.of(FeaturesChanged)[-1], key) == value


def test_star_40_and_41_manage_the_blocklist(rig: Rig) -> None:
    assert rig.phone.call("*401900x+").result() is None
    assert refused(rig, rig.incoming("sip:19001@192.0.2.10")) == 603
    rig.phone.call("*411900x+").result()
    rig.ringing("sip:19001@192.0.2.10")
    notices = rig.notices()
    assert notices.index("1900x+ is blocked.") < notices.index("1900x+ is no longer blocked.")


def test_a_feature_code_without_its_number_says_what_to_dial(rig: Rig) -> None:
    with pytest.raises(PhoneError, match=r"\*72 needs a number after it, like \*72100\."):
        rig.phone.call("*72").result()
    assert rig.saved == [] and rig.sip.sent("make_call") == []


def test_star_78_makes_the_next_caller_get_busy(rig: Rig) -> None:
    rig.phone.call("*78").result()
    assert refused(rig, rig.incoming()) == 486
    rig.phone.call("*79").result()
    rig.ringing()


def test_star_50_turns_a_second_call_away_while_talking(rig: Rig) -> None:
    rig.phone.call("*50").result()
    rig.talking_in()
    cid = rig.incoming('"Bob" <sip:201@192.0.2.10>')
    assert [c[2] for c in rig.sip.sent("answer") if c[1] == cid] == [486]
    assert rig.log() == [("in", "busy")]


def test_codes_go_to_the_server_as_numbers_when_local_call_features_is_off() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "local_call_features": False}])
    line = rig.phone.call("*78").result()
    assert line == 1
    assert rig.sip.sent("make_call") == [("make_call", 0, f"sip:*78@{SERVER}")]
    assert rig.phone.config.features.dnd is False and rig.saved == []
    rig.phone.call("*722000").result()
    assert rig.sip.sent("make_call")[-1] == ("make_call", 0, f"sip:*722000@{SERVER}")
    assert rig.phone.config.features.forward_always == ""


def test_feature_codes_work_with_no_account_at_all() -> None:
    rig = make_phone(accounts=[])
    assert rig.phone.call("*78").result() is None
    assert rig.phone.config.features.dnd is True


# ----- the feature API ------------------------------------------------------------------------------

def test_start_announces_the_features(rig: Rig) -> None:
    assert rig.of(FeaturesChanged) == [FeaturesChanged(dnd=False, call_waiting=True, forward_always="",
                                                       forward_busy="", forward_no_answer="", anonymous=(False,),
                                                       blocklist=())]


def test_feature_commands_change_save_announce_and_tell_the_user(rig: Rig) -> None:
    assert rig.phone.set_dnd(True).result() == "Do not disturb is on."
    assert rig.phone.set_forward("no_answer", "4000").result() == "Forward no answer to 4000."
    assert rig.phone.set_call_waiting(False).result() == "Call waiting is off."
    assert rig.phone.set_anonymous(0, True).result() == "Account 1: anonymous calls on."
    assert rig.notices() == ["Do not disturb is on.", "Forward no answer to 4000.", "Call waiting is off.",
                             "Account 1: anonymous calls on."]
    assert len(rig.saved) == 4
    features = rig.saved[-1]["features"]
    assert (features["dnd"], features["forward_no_answer"], features["call_waiting"]) == (True, "4000", False)
    assert rig.phone.feature_state() == rig.of(FeaturesChanged)[-1]


def test_a_bad_feature_command_is_a_phone_error(rig: Rig) -> None:
    with pytest.raises(PhoneError, match="use always, busy or no_answer"):
        rig.phone.set_forward("sometimes", "2000").result()
    with pytest.raises(PhoneError, match="no account 2"):
        rig.phone.set_anonymous(1, True).result()


# ----- call log -------------------------------------------------------------------------------------

def test_an_answered_call_is_logged_as_answered_when_it_ends(rig: Rig) -> None:
    _, cid = rig.talking_in()
    rig.sip.remote_state(cid, "disconnected")
    (entry,) = rig.of(CallLogEntry)
    assert (entry.direction, entry.disposition, entry.remote_name, entry.remote_number, entry.account) == \
        ("in", "answered", "Alice", "200", 0)
    assert entry.duration_s >= 0 and entry.started > 0


def test_a_call_the_caller_cancelled_is_missed(rig: Rig) -> None:
    _, cid = rig.ringing()
    rig.sip.remote_state(cid, "disconnected", 487)
    assert rig.log() == [("in", "missed")]
    assert rig.of(CallLogEntry)[0].duration_s == 0


def test_a_call_the_user_rejected_is_rejected(rig: Rig) -> None:
    line, _ = rig.ringing()
    rig.phone.reject(line, 603).result()
    assert rig.log() == [("in", "rejected")]


def test_outgoing_calls_are_logged_answered_or_failed(rig: Rig) -> None:
    rig.phone.call("100").result()
    rig.phone.call("101").result()
    ok, failed = rig.sip.calls
    rig.sip.remote_state(ok, "confirmed")
    rig.sip.remote_state(failed, "disconnected", 486)
    rig.phone.hangup(1).result()
    assert sorted(rig.log()) == [("out", "answered"), ("out", "failed")]


@pytest.mark.parametrize(("features", "accounts", "disposition"), [
    ({"dnd": True}, {}, "dnd"),
    ({"forward_always": "2000"}, {}, "forwarded"),
    ({}, {"reject_anonymous": True}, "rejected"),
])
def test_turned_away_calls_are_logged(features: dict, accounts: dict, disposition: str) -> None:
    rig = make_phone(features=features, accounts=[{**ACCOUNT, **accounts}])
    rig.incoming('"Anonymous" <sip:anonymous@anonymous.invalid>')
    assert rig.log() == [("in", disposition)]


def test_a_busy_turn_away_is_logged_as_busy() -> None:
    rig = make_phone(features={"call_waiting": False})
    rig.talking_in()
    rig.incoming('"Bob" <sip:201@192.0.2.10>')
    assert rig.log() == [("in", "busy")]


# ----- distinctive ring -----------------------------------------------------------------------------

RULES = [{"match": "1617x+", "ringtone": "ring2"}, {"match": "16x+", "ringtone": "ring1"}]


@pytest.mark.parametrize(("caller", "ringtone"), [("16175551234", "ring2"), ("1699", "ring1"), ("200", "ring3")])
def test_the_first_matching_ring_rule_picks_the_ringtone_else_the_accounts(caller: str, ringtone: str) -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "ringtone": "ring3"}], features={"ring_rules": RULES})
    rig.ringing(f"sip:{caller}@192.0.2.10")
    assert rig.of(IncomingCall)[-1].ringtone == ringtone


def test_a_direct_call_with_no_matching_rule_rings_the_default_tone() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "ringtone": "ring3"}], features={"ring_rules": RULES})
    rig.ringing("sip:alice@192.0.2.50", account=None, request_user="")
    assert rig.of(IncomingCall)[-1].ringtone == "ring1"
