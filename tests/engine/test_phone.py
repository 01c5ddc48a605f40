"""The phone logic against a fake SIP stack: what a user sees (events) and what goes on the wire (commands)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes import FakeBackend
from tuiphone.audio.echo import EchoDelay
from tuiphone.config import Config
from tuiphone.engine.backend import CallMedia
from tuiphone.engine.events import (
    CallState,
    DtmfReceived,
    Event,
    IncomingCall,
    LineState,
    Notice,
    RegState,
    TransferProgress,
)
from tuiphone.engine.phone import RETRY_MAX_S, Phone, PhoneError

PBX = {"sip_server": "pbx.example.com", "user_id": "1001", "password": "secret"}
CALLER = '"Alice" <sip:200@pbx.example.com>'


@dataclass
class Rig:
    """A started phone on a fake stack, with every event it emitted."""
    phone: Phone
    sip: FakeBackend
    events: list[Event] = field(default_factory=list)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def states(self, line: int) -> list[LineState]:
        return [e.state for e in self.of(CallState) if e.line == line]

    def ringing(self, remote: str = CALLER, account: int | None = 0) -> tuple[int, int]:
        """An incoming call that rings; returns (line, call id)."""
        cid = self.sip.incoming(account, remote)
        return self.of(IncomingCall)[-1].line, cid

    def talking_in(self, remote: str = CALLER) -> tuple[int, int]:
        """An incoming call, answered and confirmed."""
        line, cid = self.ringing(remote)
        self.phone.answer(line).result()
        self.sip.remote_state(cid, "confirmed")
        return line, cid

    def talking_out(self, target: str = "100") -> tuple[int, int]:
        """An outgoing call the far end answered."""
        line = self.phone.call(target).result()
        cid = max(self.sip.calls)                   # the call just made has the newest id
        self.sip.remote_state(cid, "early")
        self.sip.remote_state(cid, "confirmed")
        return line, cid


def make_phone(*, accounts: list[dict] | None = None, lines: int = 6, features: dict | None = None) -> Rig:
    config = Config.model_validate({
        "phone": {"lines": lines},
        "sip": {"port": 0},
        "accounts": [PBX] if accounts is None else accounts,
        "features": features or {},
    })
    sip = FakeBackend()
    rig = Rig(Phone(config, sip), sip)
    rig.phone.subscribe(rig.events.append)
    rig.phone.start()
    return rig


@pytest.fixture
def rig() -> Rig:
    return make_phone()


# ----- incoming calls ---------------------------------------------------------------------------------

def test_incoming_call_rings_180_before_the_ui_hears_of_it(rig: Rig) -> None:
    answers_when_told: list[list[tuple]] = []
    rig.phone.subscribe(lambda ev: isinstance(ev, IncomingCall) and answers_when_told.append(rig.sip.sent("answer")))
    cid = rig.sip.incoming(0, CALLER, source="192.0.2.5:5060")
    assert answers_when_told == [[("answer", cid, 180)]]
    (call,) = rig.of(IncomingCall)
    assert (call.line, call.account, call.remote_name, call.remote_number, call.source) == \
        (1, 0, "Alice", "200", "192.0.2.5:5060")
    assert rig.phone.lines()[0].state == LineState.RINGING


def test_answer_sends_200_with_the_calls_media_and_talks_once_confirmed(rig: Rig) -> None:
    line, cid = rig.ringing()
    media = CallMedia()
    rig.phone.answer(line, media).result()
    assert rig.sip.sent("answer")[-1] == ("answer", cid, 200)
    assert rig.sip.calls[cid].media is media
    rig.sip.remote_state(cid, "confirmed")
    rig.sip.remote_media(cid, codec="G722")
    assert rig.phone.lines()[0].state == LineState.TALKING
    assert rig.phone.lines()[0].codec == "G722"


@pytest.mark.parametrize(("code", "args"), [(486, ()), (603, (603,))])
def test_reject_answers_busy_or_decline_and_frees_the_line(rig: Rig, code: int, args: tuple) -> None:
    line, cid = rig.ringing()
    rig.phone.reject(line, *args).result()
    assert rig.sip.sent("answer")[-1] == ("answer", cid, code)
    assert rig.states(line)[-1] == LineState.ENDED
    assert rig.phone.lines() == []


def test_answering_a_line_that_is_not_ringing_is_refused(rig: Rig) -> None:
    line, _ = rig.talking_in()
    with pytest.raises(PhoneError, match="not ringing"):
        rig.phone.answer(line).result()
    with pytest.raises(PhoneError, match="Line 5 has no call"):
        rig.phone.answer(5).result()


def test_caller_giving_up_ends_the_ringing_line(rig: Rig) -> None:
    line, cid = rig.ringing()
    rig.sip.remote_state(cid, "disconnected", 487)
    ended = rig.of(CallState)[-1]
    assert (ended.line, ended.state, ended.sip_status) == (line, LineState.ENDED, 487)
    assert rig.phone.lines() == []


def test_second_call_while_talking_rings_on_line_2(rig: Rig) -> None:
    rig.talking_in()
    cid = rig.sip.incoming(0, "sip:300@pbx.example.com")
    assert rig.sip.sent("answer")[-1] == ("answer", cid, 180)
    assert rig.of(IncomingCall)[-1].line == 2
    assert [s.state for s in rig.phone.lines()] == [LineState.TALKING, LineState.RINGING]


def test_answering_the_waiting_call_holds_the_talking_one(rig: Rig) -> None:
    _, first = rig.talking_in()
    line2, second = rig.ringing("sip:300@pbx.example.com")
    rig.phone.answer(line2).result()
    assert rig.sip.commands[-2:] == [("hold", first), ("answer", second, 200)]
    assert rig.states(1)[-1] == LineState.HELD


def test_second_call_gets_486_when_call_waiting_is_off() -> None:
    rig = make_phone(features={"call_waiting": False})
    rig.talking_in()
    cid = rig.sip.incoming(0, "sip:300@pbx.example.com")
    assert rig.sip.sent("answer")[-1] == ("answer", cid, 486)
    assert len(rig.of(IncomingCall)) == 1
    assert len(rig.phone.lines()) == 1


def test_do_not_disturb_answers_486_and_never_rings() -> None:
    rig = make_phone(features={"dnd": True})
    cid = rig.sip.incoming(0, CALLER)
    assert rig.sip.sent("answer") == [("answer", cid, 486)]
    assert rig.of(IncomingCall) == [] and rig.of(CallState) == []
    assert "Do not disturb" in rig.of(Notice)[-1].text


def test_all_lines_busy_answers_486() -> None:
    rig = make_phone(lines=2)
    rig.talking_in()
    rig.ringing("sip:300@pbx.example.com")
    cid = rig.sip.incoming(0, "sip:400@pbx.example.com")
    assert rig.sip.sent("answer")[-1] == ("answer", cid, 486)
    assert [e.line for e in rig.of(IncomingCall)] == [1, 2]


# ----- echo test --------------------------------------------------------------------------------------

def test_star43_dials_the_echo_test_at_the_local_address(rig: Rig) -> None:
    line = rig.phone.call("*43").result()
    assert rig.sip.sent("make_call") == [("make_call", None, "sip:echo@127.0.0.1:5060")]
    assert rig.phone.lines()[0].line == line


def test_incoming_echo_call_is_answered_with_an_echo_and_takes_no_line(rig: Rig) -> None:
    cid = rig.sip.incoming(None, "sip:echo@127.0.0.1:5060", request_user="echo")
    assert rig.sip.sent("answer") == [("answer", cid, 200)]
    media = rig.sip.calls[cid].media
    assert isinstance(media.source, EchoDelay) and media.sinks == [media.source]
    rig.sip.remote_state(cid, "confirmed")
    rig.sip.remote_state(cid, "disconnected")
    assert rig.phone.lines() == [] and rig.of(CallState) == [] and rig.of(IncomingCall) == []
    # the echo call never held a line: a real call still rings on line 1
    rig.ringing()
    assert rig.of(IncomingCall)[-1].line == 1


# ----- placing calls ----------------------------------------------------------------------------------

def test_keypad_direct_ip_dials_on_no_account(rig: Rig) -> None:
    rig.phone.call("192*168*1*60#5062").result()
    assert rig.sip.sent("make_call") == [("make_call", None, "sip:192.168.1.60:5062")]
    assert rig.of(CallState)[-1].account is None


@pytest.mark.parametrize("typed", ["999*1*1*1", "192*168*1*60#99999", "192*168*001*60"])
def test_bad_direct_ip_is_refused_and_sends_nothing(rig: Rig, typed: str) -> None:
    before = list(rig.sip.commands)
    with pytest.raises(PhoneError) as err:
        rig.phone.call(typed).result()
    assert err.value.result == "failed" and str(err.value)
    assert rig.sip.commands == before and rig.phone.lines() == []


def test_a_number_with_no_account_configured_is_refused() -> None:
    rig = make_phone(accounts=[])
    with pytest.raises(PhoneError, match="no account is configured"):
        rig.phone.call("100").result()
    assert rig.sip.commands == []


def test_a_number_goes_through_the_first_enabled_account() -> None:
    rig = make_phone(accounts=[{**PBX, "enabled": False, "sip_server": "old.example.com"}, PBX])
    line = rig.phone.call("100").result()
    assert rig.sip.sent("make_call") == [("make_call", 1, "sip:100@pbx.example.com")]
    state = rig.of(CallState)[-1]
    assert (state.line, state.state, state.account, state.remote_number) == (line, LineState.CALLING, 1, "100")


def test_dial_plan_blocks_a_number_and_sends_nothing() -> None:
    rig = make_phone(accounts=[{**PBX, "dial_plan": "{^1900x+ | <=1617>xxxxxxx}"}])
    before = list(rig.sip.commands)
    with pytest.raises(PhoneError) as err:
        rig.phone.call("19005551234").result()
    assert err.value.result == "blocked_by_dial_plan"
    assert rig.sip.commands == before


def test_dial_plan_transform_adds_the_area_code() -> None:
    rig = make_phone(accounts=[{**PBX, "dial_plan": "{^1900x+ | <=1617>xxxxxxx}"}])
    rig.phone.call("5551234").result()
    assert rig.sip.sent("make_call") == [("make_call", 0, "sip:16175551234@pbx.example.com")]


def test_an_invalid_dial_plan_is_reported_and_blocks_numbers() -> None:
    rig = make_phone(accounts=[{**PBX, "dial_plan": "{ x+ | [12 }"}])
    assert any(n.level == "error" and "Account 1" in n.text for n in rig.of(Notice))
    with pytest.raises(PhoneError) as err:
        rig.phone.call("100").result()
    assert err.value.result == "blocked_by_dial_plan"
    assert rig.sip.sent("make_call") == []


def test_a_tcp_account_dials_over_tcp() -> None:
    rig = make_phone(accounts=[{**PBX, "transport": "tcp"}])
    rig.phone.call("100").result()
    assert rig.sip.sent("make_call") == [("make_call", 0, "sip:100@pbx.example.com;transport=tcp")]


def test_outgoing_call_shows_calling_then_talking(rig: Rig) -> None:
    line, _ = rig.talking_out()
    assert rig.states(line) == [LineState.CALLING, LineState.CALLING, LineState.TALKING]


def test_placing_a_call_while_talking_holds_the_talking_line(rig: Rig) -> None:
    first, cid = rig.talking_in()
    line = rig.phone.call("300").result()
    # the new call is placed first, so a call the stack refuses never leaves the talk on hold
    assert rig.sip.commands[-2:] == [("make_call", 0, "sip:300@pbx.example.com"), ("hold", cid)]
    assert (line, rig.states(first)[-1]) == (2, LineState.HELD)


def test_calling_with_every_line_in_use_is_refused_and_sends_nothing() -> None:
    rig = make_phone(lines=1)
    rig.talking_in()
    before = list(rig.sip.commands)
    with pytest.raises(PhoneError, match="All 1 lines are busy"):
        rig.phone.call("300").result()
    assert rig.sip.commands == before


def test_a_call_the_stack_refuses_leaves_the_current_call_talking(rig: Rig) -> None:
    first, cid = rig.talking_in()
    rig.sip.call_error = "Unsupported transport"
    with pytest.raises(PhoneError, match="Unsupported transport"):
        rig.phone.call("300").result()
    assert rig.phone.lines()[0].state == LineState.TALKING
    assert not rig.sip.calls[cid].held


def test_dialing_through_a_disabled_account_says_it_is_disabled() -> None:
    rig = make_phone(accounts=[{**PBX, "enabled": False}, {**PBX, "sip_server": "pbx2.example.com"}])
    with pytest.raises(PhoneError) as err:
        rig.phone.call("100", account=0).result()
    assert "disabled" in str(err.value) and err.value.result == "failed"
    assert rig.sip.sent("make_call") == []


# ----- in a call --------------------------------------------------------------------------------------

def test_hold_and_resume_show_held_then_talking(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.phone.hold(line).result()
    rig.phone.resume(line).result()
    assert rig.sip.commands[-2:] == [("hold", cid), ("unhold", cid)]
    assert rig.states(line)[-2:] == [LineState.HELD, LineState.TALKING]


def test_resume_holds_the_other_talking_line(rig: Rig) -> None:
    first, cid1 = rig.talking_in()
    second, cid2 = rig.talking_out("300")          # holds line 1
    rig.phone.resume(first).result()
    assert rig.sip.commands[-2:] == [("hold", cid2), ("unhold", cid1)]
    assert {s.line: s.state for s in rig.phone.lines()} == {first: LineState.TALKING, second: LineState.HELD}


def test_resuming_a_line_that_is_not_held_is_refused(rig: Rig) -> None:
    line, _ = rig.talking_in()
    with pytest.raises(PhoneError, match="not on hold"):
        rig.phone.resume(line).result()


def test_mute_is_sent_and_shown(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.phone.mute(line).result()
    assert rig.sip.sent("set_mute") == [("set_mute", cid, True)]
    assert rig.of(CallState)[-1].muted is True
    rig.phone.mute(line, False).result()
    assert rig.of(CallState)[-1].muted is False


@pytest.mark.parametrize("method", ["rfc2833", "info"])
def test_dtmf_uses_the_accounts_method(method: str) -> None:
    rig = make_phone(accounts=[{**PBX, "dtmf": method}])
    line, cid = rig.talking_out()
    rig.phone.send_dtmf(line, "12*#a").result()
    assert rig.sip.sent("send_dtmf") == [("send_dtmf", cid, "12*#A", method)]


def test_dtmf_on_a_direct_ip_call_uses_rfc2833(rig: Rig) -> None:
    line, cid = rig.talking_out("127*0*0*1#5070")
    rig.phone.send_dtmf(line, "5").result()
    assert rig.sip.sent("send_dtmf") == [("send_dtmf", cid, "5", "rfc2833")]


@pytest.mark.parametrize("digits", ["12x", "1 2", "E"])
def test_dtmf_refuses_bad_digits_and_sends_nothing(rig: Rig, digits: str) -> None:
    line, _ = rig.talking_in()
    with pytest.raises(PhoneError, match="is not a DTMF digit"):
        rig.phone.send_dtmf(line, digits).result()
    assert rig.sip.sent("send_dtmf") == []


def test_dtmf_on_a_held_line_is_refused(rig: Rig) -> None:
    line, _ = rig.talking_in()
    rig.phone.hold(line).result()
    with pytest.raises(PhoneError, match="not in a call"):
        rig.phone.send_dtmf(line, "1").result()
    assert rig.sip.sent("send_dtmf") == []


def test_dtmf_received_is_recorded_and_shown(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.sip.remote_dtmf(cid, "4")
    rig.sip.remote_dtmf(cid, "#", "info")
    assert rig.of(DtmfReceived) == [DtmfReceived(line, "4", "rfc2833"), DtmfReceived(line, "#", "info")]
    assert rig.phone.dtmf_received(line).result() == "4#"


def test_far_end_hanging_up_frees_the_line_and_shows_ended(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.sip.remote_state(cid, "disconnected", 200, "Normal call clearing")
    assert rig.states(line)[-1] == LineState.ENDED
    assert rig.phone.lines() == []
    rig.ringing()                                   # the freed line takes the next call
    assert rig.of(IncomingCall)[-1].line == line


def test_hanging_up_sends_bye_and_frees_the_line(rig: Rig) -> None:
    line, cid = rig.talking_out()
    rig.phone.hangup(line).result()
    assert rig.sip.sent("hangup") == [("hangup", cid, 0)]
    assert rig.states(line)[-1] == LineState.ENDED and rig.phone.lines() == []


def test_hangup_all_ends_every_line(rig: Rig) -> None:
    _, cid1 = rig.talking_in()
    _, cid2 = rig.talking_out("300")
    rig.phone.hangup_all().result()
    assert sorted(c[1] for c in rig.sip.sent("hangup")) == [cid1, cid2]
    assert rig.phone.lines() == []


def test_a_call_answered_while_another_line_talks_waits_on_hold(rig: Rig) -> None:
    first = rig.phone.call("100").result()
    cid1 = max(rig.sip.calls)
    rig.sip.remote_state(cid1, "early")             # still ringing at the far end...
    second, _ = rig.talking_in()                    # ...when the user takes a waiting call
    rig.sip.remote_state(cid1, "confirmed")         # now the first far end picks up
    states = {s.line: s.state for s in rig.phone.lines()}
    assert states == {first: LineState.HELD, second: LineState.TALKING}
    assert ("hold", cid1) in rig.sip.commands


def test_remote_hold_is_shown(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.sip.remote_media(cid, remote_hold=True)
    assert rig.of(CallState)[-1].remote_hold is True
    assert rig.phone.lines()[0].state == LineState.TALKING


# ----- transfer ---------------------------------------------------------------------------------------

def test_blind_transfer_refers_to_the_dialed_number_through_the_account(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.phone.blind_transfer(line, "300").result()
    assert rig.sip.sent("blind_transfer") == [("blind_transfer", cid, "sip:300@pbx.example.com")]


def test_transfer_progress_is_shown_and_a_final_200_hangs_up_our_leg(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.phone.blind_transfer(line, "300").result()
    rig.sip.transfer_notify(cid, 100)
    rig.sip.transfer_notify(cid, 180)
    assert rig.sip.sent("hangup") == []
    rig.sip.transfer_notify(cid, 200)
    assert [(p.line, p.sip_status, p.final) for p in rig.of(TransferProgress)] == \
        [(line, 100, False), (line, 180, False), (line, 200, True)]
    assert rig.sip.sent("hangup") == [("hangup", cid, 0)]
    assert rig.phone.lines() == []


def test_a_failed_transfer_keeps_the_call(rig: Rig) -> None:
    line, cid = rig.talking_in()
    rig.phone.blind_transfer(line, "300").result()
    rig.sip.transfer_notify(cid, 486)
    assert rig.of(TransferProgress)[-1] == TransferProgress(line, 486, "Busy Here", True)
    assert rig.sip.sent("hangup") == [] and rig.phone.lines()[0].state == LineState.TALKING


def test_blind_transfer_to_a_blocked_number_sends_no_refer() -> None:
    rig = make_phone(accounts=[{**PBX, "dial_plan": "{^1900x+ | x+}"}])
    line, _ = rig.talking_in()
    with pytest.raises(PhoneError) as err:
        rig.phone.blind_transfer(line, "19001234").result()
    assert err.value.result == "blocked_by_dial_plan" and rig.sip.sent("blind_transfer") == []


def test_attended_transfer_refers_the_held_line_to_the_other_lines_call(rig: Rig) -> None:
    held, cid_a = rig.talking_in()
    other, cid_c = rig.talking_out("300")          # line 1 goes on hold
    rig.phone.attended_transfer(held, other).result()
    assert rig.sip.sent("attended_transfer") == [("attended_transfer", cid_a, cid_c)]


def test_a_final_notify_200_for_an_attended_transfer_ends_both_of_our_legs(rig: Rig) -> None:
    # a target without Replaces support takes the transferee as a new call and keeps our consultation call
    held, cid_a = rig.talking_in()
    other, cid_c = rig.talking_out("300")
    rig.phone.attended_transfer(held, other).result()
    rig.sip.transfer_notify(cid_a, 100)
    rig.sip.transfer_notify(cid_a, 180)
    assert rig.sip.sent("hangup") == []
    rig.sip.transfer_notify(cid_a, 200)
    assert rig.of(TransferProgress)[-1] == TransferProgress(held, 200, "OK", True)
    assert rig.sip.sent("hangup") == [("hangup", cid_a, 0), ("hangup", cid_c, 0)]
    assert rig.phone.lines() == []


def test_a_notify_200_with_the_subscription_still_active_ends_both_legs_too(rig: Rig) -> None:
    held, cid_a = rig.talking_in()
    other, cid_c = rig.talking_out("300")
    rig.phone.attended_transfer(held, other).result()
    rig.sip.transfer_notify(cid_a, 200, final=False)
    rig.sip.transfer_notify(cid_a, 200)                # and the NOTIFY that ends the subscription
    assert rig.sip.sent("hangup") == [("hangup", cid_a, 0), ("hangup", cid_c, 0)]
    assert rig.phone.lines() == []


def test_when_the_target_already_dropped_our_consultation_call_only_the_held_leg_is_hung_up(rig: Rig) -> None:
    # a target that honours Replaces sends BYE on our consultation call, here before the NOTIFY 200
    held, cid_a = rig.talking_in()
    other, cid_c = rig.talking_out("300")
    rig.phone.attended_transfer(held, other).result()
    rig.sip.remote_state(cid_c, "disconnected")
    rig.sip.transfer_notify(cid_a, 200)
    assert rig.sip.sent("hangup") == [("hangup", cid_a, 0)]
    assert rig.phone.lines() == []


def test_a_failed_attended_transfer_keeps_both_legs_and_the_held_one_held(rig: Rig) -> None:
    held, cid_a = rig.talking_in()
    other, cid_c = rig.talking_out("300")
    rig.phone.attended_transfer(held, other).result()
    rig.sip.transfer_notify(cid_a, 486)
    assert rig.of(TransferProgress)[-1] == TransferProgress(held, 486, "Busy Here", True)   # the user is told
    assert rig.sip.sent("hangup") == []
    assert {s.line: s.state for s in rig.phone.lines()} == {held: LineState.HELD, other: LineState.TALKING}
    assert rig.sip.sent("unhold") == []


def test_leaving_a_conference_ends_both_of_our_legs_once_the_transfer_between_them_took(rig: Rig) -> None:
    first, cid_a = rig.talking_in()
    second, cid_b = rig.talking_out("300")
    rig.phone.conference().result()
    rig.phone.leave_conference().result()
    assert rig.sip.sent("attended_transfer") == [("attended_transfer", cid_a, cid_b)]
    rig.sip.transfer_notify(cid_a, 200)
    assert rig.sip.sent("hangup") == [("hangup", cid_a, 0), ("hangup", cid_b, 0)]
    assert rig.phone.lines() == []


def test_a_refer_we_accepted_shows_the_new_call_on_a_free_line(rig: Rig) -> None:
    rig.talking_in()
    cid = rig.sip.new_call(0, '"Carol" <sip:500@pbx.example.com>')
    state = rig.of(CallState)[-1]
    assert (state.line, state.state, state.remote_name, state.remote_number) == (2, LineState.CALLING, "Carol", "500")
    rig.sip.remote_state(cid, "confirmed")
    assert rig.phone.lines()[1].state == LineState.TALKING


def test_an_invite_with_replaces_keeps_the_line_and_the_old_leg_ends_quietly(rig: Rig) -> None:
    line, old = rig.talking_in()
    new = rig.sip.new_call(0, "sip:500@pbx.example.com", replaces=old)
    rig.sip.remote_state(old, "disconnected")
    (now,) = rig.phone.lines()
    assert (now.line, now.state, now.remote_number) == (line, LineState.TALKING, "500")
    assert LineState.ENDED not in rig.states(line)
    rig.sip.remote_dtmf(new, "7")
    assert rig.phone.dtmf_received(line).result() == "7"


# ----- registration -----------------------------------------------------------------------------------

FAILOVER = {**PBX, "secondary_sip_server": "pbx2.example.com"}


def registrars(rig: Rig) -> list[str]:
    return [c[1].registrar for c in rig.sip.sent("set_account")]


def test_200_shows_the_account_registered(rig: Rig) -> None:
    assert registrars(rig) == ["pbx.example.com"]
    rig.sip.reg_result(0, 200, expires=600)
    assert rig.of(RegState)[-1] == RegState(0, True, 200, "OK", 600, "pbx.example.com")
    assert rig.phone.registrations()[0].registered


@pytest.mark.parametrize("status", [503, 408])
def test_server_failure_fails_over_to_the_secondary_server(status: int) -> None:
    rig = make_phone(accounts=[FAILOVER])
    rig.sip.reg_result(0, status)
    state = rig.of(RegState)[-1]
    assert (state.registered, state.sip_status) == (False, status)
    assert registrars(rig) == ["pbx.example.com", "pbx2.example.com"]
    assert "pbx2.example.com" in rig.of(Notice)[-1].text
    assert rig.sip.sent("register") == []
    rig.sip.advance(0)
    assert rig.sip.sent("register") == [("register", 0, True)]
    rig.sip.reg_result(0, 200)
    assert rig.of(RegState)[-1].server == "pbx2.example.com" and rig.phone.registrations()[0].registered


def test_failover_retries_back_off_doubling_up_to_the_cap() -> None:
    rig = make_phone(accounts=[FAILOVER])
    delays, servers = [], []
    for _ in range(9):
        rig.sip.reg_result(0, 503)
        (delay,) = rig.sip.pending_delays()
        delays.append(delay)
        servers.append(registrars(rig)[-1])
        rig.sip.advance(delay)
    assert delays == [0, 2, 4, 8, 16, 32, RETRY_MAX_S, RETRY_MAX_S, RETRY_MAX_S]
    assert servers[:3] == ["pbx2.example.com", "pbx.example.com", "pbx2.example.com"]
    assert len(rig.sip.sent("register")) == 9


def test_a_lone_server_is_retried_with_backoff() -> None:
    rig = make_phone()
    delays = []
    for _ in range(8):
        rig.sip.reg_result(0, 503)
        (delay,) = rig.sip.pending_delays()
        delays.append(delay)
        rig.sip.advance(delay - 0.01)
        retries = len(rig.sip.sent("register"))
        rig.sip.advance(0.01)
        assert len(rig.sip.sent("register")) == retries + 1     # not a moment early
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert registrars(rig) == ["pbx.example.com"]


def test_a_successful_registration_resets_the_backoff() -> None:
    rig = make_phone()
    for _ in range(4):
        rig.sip.reg_result(0, 503)
        rig.sip.advance(rig.sip.pending_delays()[0])
    rig.sip.reg_result(0, 200)
    rig.sip.reg_result(0, 503)
    assert rig.sip.pending_delays() == [1]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_password_does_not_fail_over(status: int) -> None:
    rig = make_phone(accounts=[FAILOVER])
    rig.sip.reg_result(0, status)
    assert registrars(rig) == ["pbx.example.com"]
    assert rig.of(RegState)[-1].sip_status == status and not rig.phone.registrations()[0].registered


def test_a_registration_failure_does_not_drop_calls_in_progress() -> None:
    rig = make_phone(accounts=[FAILOVER])
    rig.talking_in()
    rig.sip.reg_result(0, 503)
    rig.sip.advance(0)
    assert rig.sip.sent("hangup") == [] and rig.phone.lines()[0].state == LineState.TALKING


def test_lost_keepalives_mark_the_account_unregistered_and_fail_over() -> None:
    rig = make_phone(accounts=[{**FAILOVER, "options_max_lost": 3}])
    rig.sip.reg_result(0, 200)
    reg = rig.phone._regs[0]
    rig.phone._on_keepalive(reg, False)
    rig.phone._on_keepalive(reg, False)
    assert rig.phone.registrations()[0].registered and registrars(rig) == ["pbx.example.com"]
    rig.phone._on_keepalive(reg, False)
    state = rig.of(RegState)[-1]
    assert (state.registered, state.sip_status) == (False, 408)
    assert registrars(rig) == ["pbx.example.com", "pbx2.example.com"]
    rig.sip.advance(0)
    assert rig.sip.sent("register") == [("register", 0, True)]


def test_keepalives_answered_in_between_do_not_count_as_lost() -> None:
    rig = make_phone(accounts=[{**FAILOVER, "options_max_lost": 2}])
    rig.sip.reg_result(0, 200)
    reg = rig.phone._regs[0]
    for answered in (False, True, False, True, False):
        rig.phone._on_keepalive(reg, answered)
    assert rig.phone.registrations()[0].registered and registrars(rig) == ["pbx.example.com"]


def test_a_keepalive_answer_after_a_lost_one_while_a_retry_waits_registers_at_once() -> None:
    rig = make_phone()
    for _ in range(3):
        rig.sip.reg_result(0, 503)
        rig.sip.advance(rig.sip.pending_delays()[0])
    rig.sip.reg_result(0, 503)
    assert rig.sip.pending_delays() == [8]
    retries = len(rig.sip.sent("register"))
    rig.phone._on_keepalive(rig.phone._regs[0], True)       # answered as before: nothing new, the backoff stands
    assert len(rig.sip.sent("register")) == retries and rig.sip.pending_delays() == [8]
    rig.phone._on_keepalive(rig.phone._regs[0], False)
    rig.phone._on_keepalive(rig.phone._regs[0], True)
    assert len(rig.sip.sent("register")) == retries + 1
    assert rig.sip.pending_delays() == []
    rig.sip.advance(RETRY_MAX_S)
    assert len(rig.sip.sent("register")) == retries + 1


def test_unregistering_stops_the_retries() -> None:
    rig = make_phone(accounts=[FAILOVER])
    rig.sip.reg_result(0, 503)
    rig.phone.register(0, False).result()
    assert rig.sip.sent("register") == [("register", 0, False)]
    assert rig.sip.pending_delays() == []
    rig.sip.reg_result(0, 408)                      # the un-REGISTER itself times out: still no retry
    rig.sip.advance(RETRY_MAX_S * 2)
    assert rig.sip.sent("register") == [("register", 0, False)]
    assert registrars(rig) == ["pbx.example.com", "pbx2.example.com"]


def test_registering_an_account_without_a_server_is_refused() -> None:
    rig = make_phone(accounts=[{"user_id": "1001", "register": False}])
    with pytest.raises(PhoneError, match="no SIP server"):
        rig.phone.register(0).result()


# ----- start ------------------------------------------------------------------------------------------

def test_a_port_in_use_stops_start_with_a_sentence_that_says_what_to_do() -> None:
    config = Config.model_validate({"accounts": [PBX]})
    sip = FakeBackend()
    sip.start_error = OSError("Address already in use")
    with pytest.raises(PhoneError, match="Address already in use: another program uses it; set another port in "
                                         r"sip.port \(0 = any free port\) or give --port") as err:
        Phone(config, sip).start()
    assert err.value.result == "usage"        # the CLI exits 2, as for any other config error
    assert sip.commands == []


def test_stop_unregisters_and_waits_for_the_registrars_answer() -> None:
    """pjsua gives up an un-REGISTER still in progress when it is destroyed: the phone waits for the answers."""
    config = Config.model_validate({"accounts": [PBX, {**PBX, "user_id": "1002"}]})
    sip = FakeBackend()
    phone = Phone(config, sip)
    phone.start()
    sip.reg_result(0, 200)                  # account 2 never registered: nothing to undo there
    answered = sip.register

    def register(index: int, on: bool) -> None:
        answered(index, on)
        if not on:
            sip.reg_result(index, 200, expires=0)
    sip.register = register
    started = time.monotonic()
    phone.stop()
    assert time.monotonic() - started < 1.0
    assert [c for c in sip.commands if c[0] == "register"][-1] == ("register", 0, False)
    assert not phone.registrations()[0].registered
