"""Phone commands on the fake SIP stack: forwarding a ringing call, silencing the ringer, programmable keys
(speed dial, intercom, BLF with call pickup) and reconfiguring an account while the phone runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes import FakeBackend, FakeLocalAudio
from tuiphone.config import AccountConfig, Config
from tuiphone.engine.events import (
    Blf,
    CallLogEntry,
    CallState,
    Event,
    FeaturesChanged,
    IncomingCall,
    LineState,
    RegState,
)
from tuiphone.engine.phone import INTERCOM_HEADERS, LEAVE_TIMEOUT_S, Phone, PhoneError
from tuiphone.services.remote_keys import PhoneKeys, Refused

SERVER = "192.0.2.10:5060"            # an IP literal: nothing to resolve, nothing leaves the process
ACCOUNT = {"sip_server": SERVER, "user_id": "1001", "password": "pw1001"}
CALLER = '"Alice" <sip:200@192.0.2.10>'


@dataclass
class Rig:
    phone: Phone
    sip: FakeBackend
    audio: FakeLocalAudio | None
    events: list[Event] = field(default_factory=list)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def ringing(self, remote: str = CALLER) -> tuple[int, int]:
        cid = self.sip.incoming(0, remote, source="192.0.2.10:5060")
        return self.of(IncomingCall)[-1].line, cid

    def answers(self, cid: int) -> list[int]:
        return [c[2] for c in self.sip.sent("answer") if c[1] == cid]


def make_phone(*, accounts: list[dict] | None = None, keys: list[dict] | None = None, audio: bool = False,
               features: dict | None = None) -> Rig:
    config = Config.model_validate({"sip": {"port": 0}, "accounts": [ACCOUNT] if accounts is None else accounts,
                                    "keys": keys or [], "features": features or {}})
    sip = FakeBackend()
    local = FakeLocalAudio() if audio else None
    rig = Rig(Phone(config, sip, local_audio=local), sip, local)
    rig.phone.subscribe(rig.events.append)
    rig.phone.start()
    return rig


# ----- forwarding a ringing call ---------------------------------------------------------------------

def test_forwarding_a_ringing_call_answers_302_with_the_target_and_a_diversion() -> None:
    rig = make_phone()
    line, cid = rig.ringing()
    assert rig.phone.forward(line, "2000").result() == f"sip:2000@{SERVER}"
    assert rig.answers(cid) == [180, 302]
    assert rig.sip.calls[cid].answer_headers == {"Contact": f"<sip:2000@{SERVER}>",
                                                 "Diversion": f"<sip:1001@{SERVER}>;reason=deflection"}
    assert rig.phone.lines() == []
    (entry,) = rig.of(CallLogEntry)
    assert (entry.direction, entry.disposition, entry.remote_number) == ("in", "forwarded", "200")
    assert entry.reason == "forwarded to 2000 (deflection)"


def test_forwarding_to_a_uri_or_a_direct_ip_keeps_that_address() -> None:
    rig = make_phone()
    line, cid = rig.ringing()
    rig.phone.forward(line, "192*0*2*55#5062").result()
    assert rig.sip.calls[cid].answer_headers["Contact"] == "<sip:192.0.2.55:5062>"


def test_only_a_ringing_line_can_be_forwarded() -> None:
    rig = make_phone()
    line, cid = rig.ringing()
    rig.phone.answer(line).result()
    rig.sip.remote_state(cid, "confirmed")
    with pytest.raises(PhoneError, match=f"Line {line} is not ringing"):
        rig.phone.forward(line, "2000").result()
    with pytest.raises(PhoneError, match="Line 5 has no call"):
        rig.phone.forward(5, "2000").result()
    assert 302 not in rig.answers(cid)


def test_a_target_the_dial_plan_refuses_is_an_error_and_the_call_keeps_ringing() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "dial_plan": "{ 1xxx }"}])
    line, cid = rig.ringing()
    with pytest.raises(PhoneError, match="Cannot forward line 1 to 2000") as err:
        rig.phone.forward(line, "2000").result()
    assert err.value.result == "blocked_by_dial_plan"
    assert rig.answers(cid) == [180]
    assert rig.phone.lines()[0].state == LineState.RINGING
    rig.phone.answer(line).result()      # still answerable
    assert rig.answers(cid) == [180, 200]


# ----- silencing the ringer -----------------------------------------------------------------------------

def test_silence_stops_the_ringtone_but_the_call_still_rings_and_can_be_answered() -> None:
    rig = make_phone(audio=True)
    line, cid = rig.ringing()
    assert rig.audio.ringing == "ring1"
    rig.phone.silence_ringer()
    assert rig.audio.ringing is None
    assert rig.phone.lines()[0].state == LineState.RINGING
    assert rig.answers(cid) == [180]           # nothing went to the caller
    rig.phone.answer(line).result()
    rig.sip.remote_state(cid, "confirmed")
    assert rig.phone.lines()[0].state == LineState.TALKING


def test_a_call_that_comes_in_after_silence_rings_again() -> None:
    rig = make_phone(audio=True)
    _, first = rig.ringing()
    rig.phone.silence_ringer()
    rig.sip.remote_state(first, "disconnected", 487)       # the caller gave up
    rig.ringing('"Bob" <sip:201@192.0.2.10>')
    assert rig.audio.ringing == "ring1"


def test_the_ringer_goes_quiet_again_when_a_new_call_ends_while_a_silenced_one_still_rings() -> None:
    rig = make_phone(audio=True)
    rig.ringing()
    rig.phone.silence_ringer()
    _, second = rig.ringing('"Bob" <sip:201@192.0.2.10>')
    assert rig.audio.ringing == "ring1"
    rig.sip.remote_state(second, "disconnected", 487)
    assert rig.audio.ringing is None
    assert [c.state for c in rig.phone.lines()] == [LineState.RINGING]


def test_silencing_one_line_leaves_another_ringing_line_ringing() -> None:
    rig = make_phone(audio=True)
    first, _ = rig.ringing()
    second, _ = rig.ringing('"Bob" <sip:201@192.0.2.10>')
    rig.phone.silence_ringer(first)
    assert rig.audio.ringing == "ring1"
    rig.phone.silence_ringer(second)
    assert rig.audio.ringing is None


def test_silence_with_no_sound_device_or_nothing_ringing_does_nothing() -> None:
    make_phone().phone.silence_ringer()
    rig = make_phone(audio=True)
    rig.phone.silence_ringer()
    assert rig.audio.ringing is None


# ----- programmable keys ----------------------------------------------------------------------------------

KEYS = [
    {"mode": "speed_dial", "value": "555"},
    {"mode": "blf", "value": "1002"},
    {"mode": "intercom", "value": "1003"},
    {"mode": "dnd"},
    {"mode": "blf", "value": "1004", "pickup_code": "*8"},
]


def blf_says(rig: Rig, key: int, note: str) -> None:
    """The presence NOTIFY for BLF key `key` (its watch handle is its order among the BLF keys)."""
    handle = [i for i, k in enumerate(rig.phone.config.keys) if k.mode == "blf"].index(key)
    rig.sip.listener.on_buddy_state(handle, "online", "", note)


def test_a_speed_dial_key_calls_its_number() -> None:
    rig = make_phone(keys=KEYS)
    assert rig.phone.dial_key(0).result() == 1
    assert rig.sip.sent("make_call") == [("make_call", 0, f"sip:555@{SERVER}")]


def test_an_intercom_key_asks_the_far_phone_to_answer_by_itself() -> None:
    rig = make_phone(keys=KEYS)
    rig.phone.dial_key(2).result()
    call = rig.sip.calls[max(rig.sip.calls)]
    assert call.remote_uri == f"sip:1003@{SERVER}"
    assert call.headers == INTERCOM_HEADERS


def test_a_blf_key_calls_the_extension_while_it_is_idle_or_busy() -> None:
    rig = make_phone(keys=KEYS)
    blf_says(rig, 1, "On the phone")
    rig.phone.dial_key(1).result()
    assert rig.sip.sent("make_call") == [("make_call", 0, f"sip:1002@{SERVER}")]


def test_a_blf_key_picks_up_the_extension_while_it_rings() -> None:
    rig = make_phone(keys=KEYS)
    blf_says(rig, 1, "Ringing")
    assert rig.phone.key_states() == {1: "ringing", 4: "unknown"}
    assert rig.of(Blf)[-1] == Blf(key=1, extension="1002", state="ringing")
    rig.phone.dial_key(1).result()
    blf_says(rig, 4, "early")
    rig.phone.dial_key(4).result()
    assert rig.sip.sent("make_call") == [("make_call", 0, f"sip:**1002@{SERVER}"),
                                         ("make_call", 0, f"sip:*81004@{SERVER}")]
    assert [c.remote_number for c in rig.phone.lines()] == ["**1002", "*81004"]


def test_pickup_is_dialed_even_when_the_dial_plan_would_refuse_it() -> None:
    rig = make_phone(accounts=[{**ACCOUNT, "dial_plan": "{ 1xxx }"}], keys=KEYS)
    blf_says(rig, 1, "Ringing")
    rig.phone.dial_key(1).result()
    assert rig.sip.sent("make_call") == [("make_call", 0, f"sip:**1002@{SERVER}")]


def test_keys_that_do_not_dial_and_missing_keys_are_errors() -> None:
    rig = make_phone(keys=KEYS)
    with pytest.raises(PhoneError, match="Key 4 is a dnd key"):
        rig.phone.dial_key(3).result()
    with pytest.raises(PhoneError, match="There is no programmable key 9: the config has 5"):
        rig.phone.dial_key(8).result()
    assert rig.sip.sent("make_call") == []


def test_mpk_from_cti_picks_up_a_ringing_blf_extension() -> None:
    rig = make_phone(keys=KEYS)
    blf_says(rig, 1, "Ringing")
    asyncio.run(PhoneKeys(rig.phone).press_all(["MPK2"]))
    with pytest.raises(Refused, match="MPK6"):
        asyncio.run(PhoneKeys(rig.phone).press_all(["MPK6"]))
    assert rig.sip.sent("make_call") == [("make_call", 0, f"sip:**1002@{SERVER}")]


# ----- reconfiguring an account ------------------------------------------------------------------------

def test_reconfiguring_an_account_makes_it_anew_and_registers_the_new_user() -> None:
    rig = make_phone()
    rig.sip.reg_result(0, 200)
    new = AccountConfig(sip_server=SERVER, user_id="1002", password="pw1002")
    rig.phone.reconfigure_account(0, new).result()
    assert rig.phone.config.accounts[0] is new
    settings = rig.sip.accounts[0]
    assert (settings.user_id, settings.password, settings.registrar) == ("1002", "pw1002", SERVER)
    assert rig.sip.names()[-2:] == ["set_account", "register"]
    rig.sip.reg_result(0, 200)
    assert rig.phone.registrations()[0].registered


def test_reconfiguring_an_account_tells_the_ui_its_anonymous_flag() -> None:
    rig = make_phone()
    rig.phone.reconfigure_account(1, AccountConfig(sip_server=SERVER, user_id="1002", anonymous=True)).result()
    assert rig.of(FeaturesChanged)[-1].anonymous == (False, True)


def test_a_wrong_password_after_reconfiguring_shows_the_403() -> None:
    rig = make_phone()
    rig.phone.reconfigure_account(0, AccountConfig(sip_server=SERVER, user_id="1002", password="nope")).result()
    rig.sip.reg_result(0, 403)
    reg = rig.phone.registrations()[0]
    assert (reg.registered, reg.sip_status, reg.reason) == (False, 403, "Forbidden")


def test_disabling_an_account_unregisters_it_then_removes_it() -> None:
    rig = make_phone()
    rig.sip.reg_result(0, 200)
    rig.phone.reconfigure_account(0, AccountConfig(**ACCOUNT, enabled=False)).result()
    assert rig.sip.sent("register")[-1] == ("register", 0, False)
    assert 0 in rig.sip.accounts                 # kept until the server answers the un-REGISTER
    rig.sip.reg_result(0, 200, expires=0)
    rig.sip.advance(0)
    assert rig.sip.sent("remove_account") == [("remove_account", 0)]
    assert rig.of(RegState)[-1].registered is False
    assert rig.phone.registrations() == {}
    with pytest.raises(PhoneError, match="Account 1 is disabled"):
        rig.phone.call("100", 0).result()


def test_a_disabled_account_whose_server_never_answers_is_removed_all_the_same() -> None:
    rig = make_phone()
    rig.sip.reg_result(0, 200)
    rig.phone.reconfigure_account(0, AccountConfig(**ACCOUNT, enabled=False)).result()
    rig.sip.advance(LEAVE_TIMEOUT_S)
    assert rig.sip.sent("remove_account") == [("remove_account", 0)]
    last = rig.of(RegState)[-1]
    assert (last.account, last.registered, last.reason) == (0, False, "account disabled")


def test_enabling_again_before_the_unregister_is_answered_keeps_the_new_account() -> None:
    rig = make_phone()
    rig.sip.reg_result(0, 200)
    rig.phone.reconfigure_account(0, AccountConfig(**ACCOUNT, enabled=False)).result()
    rig.phone.reconfigure_account(0, AccountConfig(**ACCOUNT)).result()
    rig.sip.advance(LEAVE_TIMEOUT_S)
    assert rig.sip.sent("remove_account") == []
    assert rig.sip.sent("register")[-1] == ("register", 0, True)


def test_an_account_that_was_never_registered_is_removed_at_once() -> None:
    rig = make_phone()
    rig.phone.reconfigure_account(0, AccountConfig(**ACCOUNT, enabled=False)).result()
    assert rig.sip.sent("remove_account") == [("remove_account", 0)]


def test_a_new_account_is_added_after_the_others_and_registers_on_its_own() -> None:
    rig = make_phone()
    rig.phone.reconfigure_account(1, AccountConfig(sip_server="192.0.2.20", user_id="2001")).result()
    assert len(rig.phone.config.accounts) == 2
    assert rig.sip.accounts[1].registrar == "192.0.2.20"
    assert ("register", 1, True) not in rig.sip.commands     # a new stack account registers when added
    assert rig.phone.resolve_target("300", 1) == (1, "sip:300@192.0.2.20")
    with pytest.raises(PhoneError, match="There is no account 4 to change: the config has 2"):
        rig.phone.reconfigure_account(3, AccountConfig(sip_server="192.0.2.20", user_id="2001")).result()


def test_a_new_dial_plan_applies_at_once() -> None:
    rig = make_phone()
    rig.phone.reconfigure_account(0, AccountConfig(**ACCOUNT, dial_plan="{ 1xxx }")).result()
    with pytest.raises(PhoneError) as err:
        rig.phone.call("555").result()
    assert err.value.result == "blocked_by_dial_plan"


def test_a_call_in_progress_survives_reconfiguring_its_account() -> None:
    rig = make_phone()
    line, cid = rig.ringing()
    rig.phone.answer(line).result()
    rig.sip.remote_state(cid, "confirmed")
    rig.phone.reconfigure_account(0, AccountConfig(**{**ACCOUNT, "display_name": "Desk"})).result()
    assert [(c.line, c.state) for c in rig.phone.lines()] == [(line, LineState.TALKING)]
    assert not [e for e in rig.of(CallState) if e.state == LineState.ENDED]


def test_blf_keys_of_a_reconfigured_account_watch_its_new_server() -> None:
    rig = make_phone(keys=[{"mode": "blf", "value": "1002"}])
    blf_says(rig, 0, "Ringing")
    rig.phone.reconfigure_account(0, AccountConfig(sip_server="192.0.2.20", user_id="1001")).result()
    assert rig.sip.sent("unwatch") == [("unwatch", 0)]
    assert rig.sip.sent("watch")[-1] == ("watch", 0, "sip:1002@192.0.2.20")
    assert rig.phone.key_states() == {0: "unknown"}          # the old server's "ringing" no longer holds
    assert rig.of(Blf)[-1] == Blf(key=0, extension="1002", state="unknown")
    rig.sip.listener.on_buddy_state(1, "online", "", "")      # the new subscription's first NOTIFY
    assert rig.phone.key_states() == {0: "idle"}


def test_blf_keys_of_a_disabled_account_stop_watching() -> None:
    rig = make_phone(keys=[{"mode": "blf", "value": "1002"}])
    rig.phone.reconfigure_account(0, AccountConfig(**ACCOUNT, enabled=False)).result()
    assert rig.sip.sent("unwatch") == [("unwatch", 0)]
    assert len(rig.sip.sent("watch")) == 1
    assert rig.phone.key_states() == {}


def test_stop_ends_the_sound_devices_after_the_stack() -> None:
    rig = make_phone(accounts=[], audio=True)
    assert rig.audio.started
    rig.phone.stop()
    assert not rig.audio.started
