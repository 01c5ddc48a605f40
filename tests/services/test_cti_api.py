"""The CTI API in process, over real HTTP on loopback, against the phone logic on a fake SIP stack:
send_key sequences, the lockout clock, and hypothesis-made query strings that must never give a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeBackend
from tuiphone.config import Config
from tuiphone.engine.phone import Phone
from tuiphone.services.cti import CtiServer, FailureThrottle
from tuiphone.services.remote_keys import PhoneKeys

PBX = {"sip_server": "pbx.example.com", "user_id": "1001", "password": "secret"}
CALLER = '"Alice" <sip:200@pbx.example.com>'


def make_phone(**extra: Any) -> tuple[Phone, FakeBackend]:
    cti = {"enabled": True, "passcode": "pw", "listen": "127.0.0.1:8088"}
    cfg = Config.model_validate({"accounts": [PBX], "cti": cti, **extra})
    sip = FakeBackend()
    phone = Phone(cfg, sip)
    phone.start()
    sip.reg_result(0, 200)
    return phone, sip


class Api:
    """A CtiServer on 127.0.0.1 (random port) with a loop of its own, driven from a sync test."""

    def __init__(self, server: CtiServer):
        self.loop = asyncio.new_event_loop()
        self.http = TestServer(server.application(), host="127.0.0.1")
        self.loop.run_until_complete(self.http.start_server())
        self.session = self.loop.run_until_complete(self._session())

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def get(self, path: str, params: dict[str, str] | None = None, raw_query: str | None = None) -> tuple[int, Any]:
        url = str(self.http.make_url(path))
        if raw_query is not None:
            url += "?" + raw_query

        async def go() -> tuple[int, Any]:
            async with self.session.get(url, params=params) as resp:
                body = await resp.json(content_type=None)
                return resp.status, body
        return self.loop.run_until_complete(go())

    def key(self, keys: str) -> tuple[int, Any]:
        return self.get("/cgi-bin/api-send_key", {"passcode": "pw", "keys": keys})

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.http.close())
        self.loop.close()


@contextmanager
def serve(phone: Phone, **kwargs: Any) -> Iterator[Api]:
    api = Api(CtiServer(phone, phone.config, **kwargs))
    try:
        yield api
    finally:
        api.close()


def test_typed_digits_and_send_dial_through_the_account():
    phone, sip = make_phone()
    with serve(phone) as api:
        assert api.key("2:0:0:SEND") == (200, {"response": "success", "body": "complete"})
    assert sip.sent("make_call") == [("make_call", 0, "sip:200@pbx.example.com")]


def test_pound_sends_the_number_and_star_is_a_digit():
    phone, sip = make_phone()
    with serve(phone) as api:
        assert api.key("STAR:7:8:#")[0] == 200
    assert sip.sent("make_call") == []          # *78 is a local feature code: DND on, no call
    assert phone.feature_state().dnd is True


def test_offhook_answers_and_digits_in_a_call_go_out_as_dtmf():
    phone, sip = make_phone()
    cid = sip.incoming(0, CALLER)
    with serve(phone) as api:
        assert api.key("OFFHOOK")[0] == 200
        sip.remote_state(cid, "confirmed")
        assert api.key("4:2")[0] == 200
        assert api.key("MUTE")[0] == 200
        assert api.key("ONHOOK")[0] == 200
    assert ("answer", cid, 200) in sip.commands
    assert [c for c in sip.commands if c[0] in ("send_dtmf", "set_mute", "hangup")] == [
        ("send_dtmf", cid, "4", "rfc2833"), ("send_dtmf", cid, "2", "rfc2833"), ("set_mute", cid, True),
        ("hangup", cid, 0)]


def test_xfer_number_send_is_a_blind_transfer_and_hold_toggles():
    phone, sip = make_phone()
    cid = sip.incoming(0, CALLER)
    with serve(phone) as api:
        api.key("OFFHOOK")
        sip.remote_state(cid, "confirmed")
        assert api.key("HOLD")[0] == 200
        assert phone.lines()[0].state.value == "held"
        assert api.key("HOLD")[0] == 200
        assert phone.lines()[0].state.value == "talking"
        assert api.key("XFER:3:0:0:SEND")[0] == 200
    assert sip.sent("blind_transfer") == [("blind_transfer", cid, "sip:300@pbx.example.com")]


def test_programmable_key_speed_dial_and_missing_key():
    phone, sip = make_phone(keys=[{"mode": "speed_dial", "account": 1, "label": "Desk", "value": "555"}])
    with serve(phone) as api:
        assert api.key("MPK1")[0] == 200
        status, answer = api.key("MPK2")
    assert sip.sent("make_call") == [("make_call", 0, "sip:555@pbx.example.com")]
    assert (status, answer["body"]) == (422, "key 1 (MPK2): there is no programmable key 2: the config has 1")


def test_lock_needs_a_screen_unless_the_ui_gives_a_hook():
    phone, _ = make_phone()
    with serve(phone) as api:
        status, answer = api.key("LOCK")
    assert status == 409 and "without a screen" in answer["body"]
    locks: list[bool] = []
    with serve(phone, keys=PhoneKeys(phone, on_lock=locks.append)) as api:
        assert api.key("LOCK:UNLOCK")[0] == 200
    assert locks == [True, False]


def test_send_with_nothing_typed_is_refused():
    phone, sip = make_phone()
    with serve(phone) as api:
        status, answer = api.key("SEND")
    assert status == 409 and answer["body"] == "key 1 (SEND): there is no number to dial: send digits before SEND"


def test_lockout_doubles_up_to_the_cap_and_success_clears_it():
    now = [0.0]
    throttle = FailureThrottle(free=2, base_s=1.0, max_s=4.0, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0
    lockouts = []
    for _ in range(4):
        throttle.failed("10.0.0.1")
        lockouts.append(throttle.locked_for("10.0.0.1"))
    assert lockouts == [1.0, 2.0, 4.0, 4.0]
    assert throttle.locked_for("10.0.0.2") == 0
    now[0] += 4.0
    assert throttle.locked_for("10.0.0.1") == 0
    throttle.succeeded("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0


def test_lockout_memory_is_bounded():
    throttle = FailureThrottle()
    for n in range(5000):
        throttle.failed(f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")
    assert len(throttle._seen) == 4096


FUNCTIONS = ["api-phone_operation", "api-make_call", "api-get_phone_status", "api-get_line_status",
             "api-get_accounts", "api-send_key", "api-nothing", ""]
PARAM_NAMES = st.sampled_from(["cmd", "phonenumber", "account", "keys", "passcode", "hs", "x"])
VALUES = st.one_of(st.text(max_size=40), st.sampled_from(
    ["endcall", "holdcall", "acceptcall", "rejectcall", "cancel", "unhold", "-1", "0", "1", "99", "1e9",
     "SEND", "1:2:3:SEND", "MPK7", "::", "%", "%zz", "sip:a@b", "127*0*0*1#1"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(function=st.sampled_from(FUNCTIONS), params=st.dictionaries(PARAM_NAMES, VALUES, max_size=4),
       raw=st.text(alphabet=st.characters(codec="ascii"), max_size=60), use_raw=st.booleans(),
       with_passcode=st.booleans())
def test_no_query_string_gets_a_server_error(function, params, raw, use_raw, with_passcode):
    if with_passcode:
        params["passcode"] = "pw"
    status, answer = SHARED.get(f"/cgi-bin/{function}", None if use_raw else params,
                                raw_query=("passcode=pw&" if with_passcode else "") + raw if use_raw else None)
    assert status < 500, answer
    assert answer["response"] in ("success", "error")
    assert status == 200 or answer["response"] == "error"


class _Shared:
    """One server for all hypothesis examples (starting one per example would be slow)."""

    api: Api | None = None

    def get(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        if self.api is None:
            phone, sip = make_phone(keys=[{"mode": "speed_dial", "account": 1, "value": "555"}])
            sip.incoming(0, CALLER)
            self.api = Api(CtiServer(phone, phone.config, throttle=FailureThrottle(free=10**9),
                                     failure_delay_s=0))
        return self.api.get(*args, **kwargs)


SHARED = _Shared()


def teardown_module() -> None:
    if SHARED.api is not None:
        SHARED.api.close()
