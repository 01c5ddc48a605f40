"""How a phone starts and stops, seen from outside: the Action URLs of start-up (`registered`, then
`setup_completed`) and of a call that ends just before `tuiphone call` exits, and a daemon whose terminal
closes (SIGHUP) leaving no registration behind. Real processes, a real Kamailio, an HTTP server on loopback."""

from __future__ import annotations

import os
import signal

import pytest

from tests.services.helpers import wait_for
from tests.services.test_action_url import EVENTS

pytestmark = pytest.mark.peers


def _urls(base: str) -> dict[str, str]:
    return {name: f"{base}/{name}?event=$event&acct=$account&local=$local" for name in EVENTS}


def _account(kam, user: str) -> dict:
    return {"sip_server": f"{kam.host}:{kam.port}", "user_id": user, "password": kam.users[user], "reg_expires": 60}


def test_the_daemon_sends_registered_then_setup_completed_as_a_desk_phone_does(daemons, recorder, kamailio):
    server = recorder()
    daemons(config={"accounts": [_account(kamailio, "1001"), _account(kamailio, "1002")],
                    "action_url": _urls(server.base)}, cti=False)
    wait_for(lambda: len(server.requests) >= 3, 10, "two registrations and the end of the set-up")
    assert server.events() == ["registered", "registered", "setup_completed"]
    assert sorted(q["acct"] for _, q in server.requests[:2]) == ["1", "2"]
    assert {q["local"] for _, q in server.requests[:2]} == {"1001", "1002"}
    assert server.requests[2][1]["acct"] == "1"        # the default account


def test_setup_completed_waits_for_a_failed_first_registration_too(daemons, recorder, kamailio):
    server = recorder()
    wrong = {**_account(kamailio, "1001"), "password": "not-it"}
    daemons(config={"accounts": [wrong], "action_url": _urls(server.base)}, cti=False)
    wait_for(lambda: server.requests, 10, "setup_completed")
    assert server.events() == ["setup_completed"]       # the 403 answered the first attempt: set up, unregistered


def test_tuiphone_call_sends_registered_and_terminated_before_it_exits(phones, recorder, kamailio):
    server = recorder()
    callee = phones("callee", ["answer", "--timeout", "30", "--json"], ready=True)
    caller = phones("caller", ["call", callee.keypad, "--duration", "0.5", "--json"],
                    config={"accounts": [_account(kamailio, "1001")], "action_url": _urls(server.base)})
    rc, report = caller.result()
    assert rc == 0 and report["result"] == "answered", (report, caller.stderr())
    events = server.events()          # no waiting: what the process sent before it exited
    assert events[-2:] == ["terminated", "on_hook"], events
    assert {"registered", "setup_completed", "off_hook", "outgoing_call", "established"} <= set(events), events


def test_sighup_stops_the_daemon_cleanly_and_unregisters(daemons, phones, kamailio):
    """Closing the daemon's terminal is a stop like SIGTERM: the registrar forgets the contact at once, so a
    caller gets 480 now instead of being sent to a dead address."""
    daemon, cti = daemons(config={"accounts": [_account(kamailio, "1001")]})
    wait_for(lambda: cti.ok("api-get_accounts")[0]["reg"] == 1, 10, "account 1 to register")
    os.kill(daemon.pid, signal.SIGHUP)
    rc = daemon._popen.wait(15)
    assert rc == 0, daemon.stderr()
    assert "Traceback" not in daemon.stderr()
    # a stale contact would be tried for 4 s (Kamailio's fr_timer): the caller gives up at 2 s with 487
    caller = phones("caller", ["call", "1001", "--timeout", "2", "--json"],
                    config={"accounts": [_account(kamailio, "1002")]})
    rc, report = caller.result()
    assert (report["result"], report["sip_status"]) == ("no_answer", 480), report
