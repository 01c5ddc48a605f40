"""Action URLs from a real `tuiphone daemon` in real calls, received by a small HTTP server on loopback."""

from __future__ import annotations

import pytest

from tests.services.helpers import wait_for
from tests.services.test_action_url import EVENTS

pytestmark = pytest.mark.peers


def _urls(base: str) -> dict[str, str]:
    return {name: f"{base}/{name}?event=$event&remote=$remote&acct=$account&product=$product&ip=$phone_ip"
            for name in EVENTS}


def _after(server, count: int, what: str) -> list[tuple[str, dict[str, str]]]:
    wait_for(lambda: len(server.requests) >= count, 10, what)
    return server.requests[:count]


def test_a_whole_call_its_hold_a_missed_call_and_dnd_reach_the_server(daemons, phones, recorder):
    server = recorder()
    callee = phones("callee", ["answer", "--timeout", "40", "--json"], ready=True)
    daemon, cti = daemons(config={"action_url": _urls(server.base)})
    _after(server, 1, "setup_completed")
    assert server.events() == ["setup_completed"]
    assert server.requests[0][1] == {"event": "setup_completed", "remote": "", "acct": "", "product": "tuiphone",
                                     "ip": "127.0.0.1"}

    cti.ok("api-make_call", phonenumber=callee.keypad)
    cti.wait_state("connected")
    cti.ok("api-phone_operation", cmd="holdcall")
    cti.ok("api-phone_operation", cmd="unhold")
    cti.wait_state("connected")
    cti.ok("api-phone_operation", cmd="endcall")
    calls = _after(server, 8, "the events of the outgoing call")
    assert server.events()[1:8] == ["off_hook", "outgoing_call", "established", "hold", "unhold", "terminated",
                                    "on_hook"]
    assert all(path == "/" + query["event"] for path, query in calls)
    assert {query["remote"] for _, query in calls[1:]} == {callee.keypad}

    caller = phones("caller", ["call", daemon.keypad, "--timeout", "1", "--json"])
    assert caller.result()[1]["result"] == "no_answer"
    _after(server, 11, "the events of the missed call")
    assert server.events()[8:11] == ["incoming_call", "missed_call", "terminated"]

    cti.ok("api-send_key", keys="STAR:7:8:SEND")
    cti.ok("api-send_key", keys="STAR:7:9:SEND")
    _after(server, 13, "DND on and off")
    assert server.events()[11:] == ["dnd_on", "dnd_off"]
