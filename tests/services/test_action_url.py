"""Action URLs: engine events become SPEC §5 events, variables are URL-encoded, GETs reach a local server
without ever holding up the phone, and a failing URL is logged once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from tests.fakes import FakeBackend
from tuiphone.config import Config
from tuiphone.engine.events import SipMessage
from tuiphone.engine.phone import Phone
from tuiphone.services.action_url import (
    Action,
    ActionEvents,
    ActionUrls,
    idle_text,
    substitute,
    with_scheme,
)

PBX = {"sip_server": "pbx.example.com", "user_id": "1001", "password": "secret", "display_name": "Front desk"}
EVENTS = ["registered", "setup_completed", "unregistered", "off_hook", "on_hook", "incoming_call", "outgoing_call",
          "missed_call", "established", "terminated", "dnd_on", "dnd_off", "forward_on", "forward_off",
          "blind_transfer", "attended_transfer", "hold", "unhold"]


def test_variables_are_url_encoded_and_unknown_ones_stay_as_written():
    seen: list[str] = []
    url = substitute("h/x?n=$display_remote&r=${remote}&z=$nope&e=$event", {
        "display_remote": "张三 & Co/1", "remote": "+1 617", "event": "established"}, encode=True,
        unknown=seen.append)
    assert url == "h/x?n=%E5%BC%A0%E4%B8%89%20%26%20Co%2F1&r=%2B1%20617&z=$nope&e=established"
    assert seen == ["nope"]
    assert with_scheme("h/x") == "http://h/x" and with_scheme("https://h/x") == "https://h/x"


def test_idle_text_fills_variables_without_encoding():
    phone, _ = _phone()
    text = idle_text("$display_local ($local) on $product, acct $account $nope", phone.config, phone)
    assert text == "Front desk (1001) on tuiphone, acct 1 $nope"


class Rig:
    """A phone on the fake stack whose events go through ActionEvents."""

    def __init__(self, **extra: Any):
        self.phone, self.sip = _phone(**extra)
        self.mapper = ActionEvents()
        self.mapper.seed(self.phone)
        self.actions: list[Action] = []
        self.phone.subscribe(lambda event: self.actions.extend(self.mapper.feed(event)))

    def names(self) -> list[str]:
        names = [a.event for a in self.actions]
        self.actions.clear()
        return names


def _phone(**extra: Any) -> tuple[Phone, FakeBackend]:
    sip = FakeBackend()
    phone = Phone(Config.model_validate({"accounts": [PBX], **extra}), sip)
    phone.start()
    return phone, sip


def test_a_whole_outgoing_call_gives_off_hook_to_on_hook():
    rig = Rig()
    line = rig.phone.call("200").result()
    cid = next(iter(rig.sip.calls))
    rig.sip.remote_state(cid, "early")
    rig.sip.remote_state(cid, "confirmed")
    rig.phone.hold(line).result()
    rig.phone.resume(line).result()
    rig.phone.hangup(line).result()
    assert rig.names() == ["off_hook", "outgoing_call", "established", "hold", "unhold", "terminated", "on_hook"]


def test_an_unanswered_incoming_call_is_missed_and_never_off_hook():
    rig = Rig()
    cid = rig.sip.incoming(0, '"Alice" <sip:200@pbx.example.com>')
    rig.sip.remote_state(cid, "disconnected", 487)
    assert rig.names() == ["incoming_call", "missed_call", "terminated"]


def test_answering_an_incoming_call_goes_off_hook_and_carries_the_caller():
    rig = Rig()
    cid = rig.sip.incoming(0, '"Alice" <sip:200@pbx.example.com>')
    rig.phone.answer(1).result()
    rig.sip.remote_state(cid, "confirmed")
    acts = list(rig.actions)
    assert [a.event for a in acts] == ["incoming_call", "off_hook", "established"]
    assert {(a.remote, a.display_remote, a.account) for a in acts} == {("200", "Alice", 0)}


def test_registration_dnd_and_forwarding_changes():
    rig = Rig()
    rig.sip.reg_result(0, 200)
    rig.sip.reg_result(0, 200)           # a refresh is not a new registration
    rig.sip.reg_result(0, 408)
    rig.phone.set_dnd(True).result()
    rig.phone.set_dnd(False).result()
    rig.phone.set_forward("busy", "300").result()
    rig.phone.set_forward("busy", "").result()
    assert rig.names() == ["registered", "unregistered", "dnd_on", "dnd_off", "forward_on", "forward_off"]


def test_a_refer_sent_is_a_blind_or_attended_transfer():
    mapper = ActionEvents()

    def refer(refer_to: str) -> Action:
        text = f"REFER sip:200@pbx SIP/2.0\r\nCall-ID: abc@h\r\nRefer-To: {refer_to}\r\n\r\n"
        return mapper.feed(SipMessage(0.0, "out", "UDP", "1.2.3.4:5060", text.split("\r\n")[0], "abc@h", text))[0]
    blind = refer("<sip:300@pbx.example.com>")
    attended = refer("<sip:400@pbx.example.com?Replaces=xyz%3Bto-tag%3D1%3Bfrom-tag%3D2>")
    assert (blind.event, blind.remote, blind.call_id) == ("blind_transfer", "300", "abc@h")
    assert (attended.event, attended.remote) == ("attended_transfer", "400")


def _run(coro):
    return asyncio.run(coro)


def test_gets_reach_the_server_with_variables_filled(recorder):
    server = recorder()
    phone, sip = _phone(action_url={"established": f"{server.base}/ev?e=$event&who=$display_remote&n=$remote"
                                                   f"&acct=$account&me=$local&ip=$phone_ip&v=$program_version"})

    async def scenario() -> None:
        urls = ActionUrls(phone.config, phone)
        await urls.start()
        urls.fire(Action("established", 0, "+86 10 1234", "张三"))
        await wait_async(lambda: urls.sent == 1)
        await urls.stop()
    _run(scenario())
    path, query = server.requests[0]
    assert path == "/ev"
    assert query == {"e": "established", "who": "张三", "n": "+86 10 1234", "acct": "1", "me": "1001",
                     "ip": "127.0.0.1", "v": query["v"]}
    assert query["v"]


def test_a_failing_url_is_logged_once_and_recovery_is_logged(recorder, caplog):
    server = recorder(status=503)
    phone, _ = _phone(action_url={"hold": f"{server.base}/hold"})
    caplog.set_level(logging.INFO, logger="tuiphone.services.action_url")

    async def scenario() -> None:
        urls = ActionUrls(phone.config, phone)
        await urls.start()
        for _ in range(5):
            urls.fire(Action("hold"))
        await wait_async(lambda: len(server.requests) == 5)
        await asyncio.sleep(0.1)
        server.status = 200
        urls.fire(Action("hold"))
        await wait_async(lambda: urls.sent == 1)
        await urls.stop()
    _run(scenario())
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failed (HTTP 503)" in m for m in messages) == 1
    assert sum(m == "Action URL for hold works again" for m in messages) == 1


def test_a_slow_server_never_holds_up_the_phone(recorder, caplog):
    server = recorder(delay_s=2.0)
    phone, sip = _phone(action_url={"incoming_call": f"{server.base}/in", "terminated": f"{server.base}/t"})

    async def scenario() -> float:
        urls = ActionUrls(phone.config, phone, timeout_s=0.5, flush_s=0.3)
        await urls.start()
        started = time.monotonic()
        for _ in range(20):
            def call_and_cancel() -> None:
                cid = sip.incoming(0, "<sip:200@pbx.example.com>")
                sip.remote_state(cid, "disconnected", 487)
            for event in _drain(phone, call_and_cancel):
                urls.handle(event)
        elapsed = time.monotonic() - started
        assert urls._queue.qsize() >= 39        # 40 GETs queued, at most one on its way
        await asyncio.sleep(0.8)
        await urls.stop()
        return elapsed
    elapsed = _run(scenario())
    assert elapsed < 0.5
    failures = [r.getMessage() for r in caplog.records if "no answer in 0.5 s" in r.getMessage()]
    # once per URL however often it fails (terminated's too, when stop's flush got to it)
    assert sum(m.startswith("Action URL for incoming_call failed") for m in failures) == 1, failures
    assert sum(m.startswith("Action URL for terminated failed") for m in failures) <= 1, failures


def _drain(phone: Phone, action) -> list:
    events: list = []
    undo = phone.subscribe(events.append)
    action()
    undo()
    return events


async def wait_async(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        await asyncio.sleep(0.02)



def test_start_up_sends_registered_even_for_an_earlier_registration_then_setup_completed(recorder, tmp_path):
    """As a desk phone: `registered` for each account (one registered before the services subscribed too),
    `setup_completed` once every registering account's first REGISTER is answered, a failure included."""
    from tuiphone.services.runner import Services

    server = recorder()
    second = {**PBX, "user_id": "1002"}
    phone, sip = _phone(accounts=[PBX, second], action_url={name: f"{server.base}/{name}?a=$account"
                                                             for name in ("registered", "setup_completed")})
    sip.reg_result(0, 200)                       # before the services start: it used to be lost

    async def scenario() -> None:
        services = Services(phone, phone.config, tmp_path)
        await services.start()
        await wait_async(lambda: len(server.requests) == 1)
        await asyncio.sleep(0.2)
        assert [path for path, _ in server.requests] == ["/registered"]     # account 2 not answered yet
        sip.reg_result(1, 403)                   # its first attempt fails: the set-up is complete all the same
        await wait_async(lambda: len(server.requests) == 2)
        await services.stop()
    _run(scenario())
    assert server.requests == [("/registered", {"a": "1"}), ("/setup_completed", {"a": "1"})]


def test_stop_still_sends_what_is_waiting(recorder):
    server = recorder(delay_s=0.2)
    phone, _ = _phone(action_url={"terminated": f"{server.base}/t", "on_hook": f"{server.base}/o"})

    async def scenario() -> None:
        urls = ActionUrls(phone.config, phone)
        await urls.start()
        urls.fire(Action("terminated"))
        urls.fire(Action("on_hook"))
        await urls.stop()                        # at once: both are still on their way
    _run(scenario())
    assert [path for path, _ in server.requests] == ["/t", "/o"]
