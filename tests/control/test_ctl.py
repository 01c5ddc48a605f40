"""`tuiphone ctl` and `tuiphone stop` against a real `tuiphone daemon`, calling a real tuiphone on loopback."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.control.conftest import ctl
from tests.services.helpers import wait_for
from tuiphone.control.client import (
    ControlClient,
    NoPhone,
    PhoneRefused,
    RemotePhone,
    call_phone,
)
from tuiphone.engine.events import CallState, LineState

pytestmark = pytest.mark.peers


def line_states(config) -> list[tuple[int, str]]:
    """In this process: a `ctl` process costs a second or two on two loaded cores."""
    _, status = call_phone(config, "status")
    return [(item["call"]["line"], item["call"]["state"]) for item in status["lines"]]


def test_ctl_dials_a_real_phone_and_the_call_shows_in_status_events_and_history(ctl_daemons, phones, tmp_path):
    callee = phones("callee", ["answer", "--timeout", "30", "--json"], ready=True)
    daemon = ctl_daemons()
    rc, status, err = ctl(daemon.config_path, "ctl", "status", "--json")
    assert rc == 0, err
    assert status["ok"] and status["result"]["pid"] == daemon.pid and status["result"]["lines"] == []
    assert status["result"]["sip"] == daemon.address and status["result"]["features"]["dnd"] is False
    with open(tmp_path / "events.out", "wb") as out:
        follower = subprocess.Popen([sys.executable, "-m", "tuiphone", "--config", str(daemon.config_path),
                                     "ctl", "events", "--json"], stdout=out, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)            # the follower has connected (its snapshot is not printed, only events)
        rc, dialed, err = ctl(daemon.config_path, "ctl", "dial", callee.keypad, "--json")
        assert (rc, dialed) == (0, {"ok": True, "result": 1}), err
        wait_for(lambda: line_states(daemon.config_path) == [(1, "talking")], 10, "line 1 to be talking")

        async def attach() -> tuple:
            client = await ControlClient.connect(daemon.config_path)
            try:
                phone = RemotePhone(client)
                info = phone.line_info(1)
                muted = await asyncio.wrap_future(phone.mute(1, True))
                await asyncio.sleep(0.3)
                return phone.lines(), info, muted, phone.lines()
            finally:
                await client.close()
        before, info, _, after = asyncio.run(attach())
        assert [c.state for c in before] == [LineState.TALKING] and isinstance(before[0], CallState)
        assert info.talking_since is not None and time.time() - 10 < info.talking_since <= time.time()
        assert after[0].muted is True            # the event of the mute reached the attached view
        rc, human, err = ctl(daemon.config_path, "ctl", "status")
        assert rc == 0 and "line 1: talking to " in human and "muted" in human, err
        rc, hung, err = ctl(daemon.config_path, "ctl", "hangup", "--json")
        assert (rc, hung) == (0, {"ok": True, "result": {"line": 1}}), err
        rc, report = callee.result()
        assert rc == 0 and report["answered"] == 1, callee.stderr()
        wait_for(lambda: line_states(daemon.config_path) == [], 5, "the line to be free")
    finally:
        follower.send_signal(signal.SIGINT)
        _, said = follower.communicate(timeout=10)       # and its stderr pipe is closed
        assert follower.returncode == 0, said
    seen = [json.loads(line) for line in (tmp_path / "events.out").read_text().splitlines()]
    states = [(e["data"]["line"], e["data"]["state"]) for e in seen if e["event"] == "CallState"]
    assert (1, "calling") in states and (1, "talking") in states and states[-1] == (1, "ended")
    assert any(e["event"] == "CallStarted" for e in seen) and any(e["event"] == "CallLogEntry" for e in seen)
    _, history = call_phone(daemon.config_path, "history", {"limit": 5})
    assert [(row["direction"], row["disposition"]) for row in history] == [("out", "answered")]
    assert call_phone(daemon.config_path, "contacts", {"search": "nobody"})[1] == []
    with pytest.raises(PhoneRefused, match="3"):
        call_phone(daemon.config_path, "hold", {"line": 3})
    watcher = subprocess.Popen([sys.executable, "-m", "tuiphone", "--config", str(daemon.config_path),
                                "ctl", "events"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: call_phone(daemon.config_path, "status")[1]["front_ends"] == 2, 10, "the watcher to attach")
        rc, stopped, err = ctl(daemon.config_path, "stop", "--json")
        assert (rc, stopped) == (0, {"ok": True, "result": {"stopped": True, "pid": daemon.pid}}), err
        assert daemon._popen.wait(timeout=5) == 0
        _, said = watcher.communicate(timeout=5)
        assert watcher.returncode == 1                    # an attached front-end hears the phone go at once
        assert "the phone closed the connection" in said
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(timeout=5)
        watcher.stderr.close()
    with pytest.raises(NoPhone):
        call_phone(daemon.config_path, "status")


def test_usage_errors_exit_2(runtime_dir, tmp_path):
    config = tmp_path / "none.toml"
    rc, _, err = ctl(config, "stop")
    assert rc == 1 and "no phone is running for" in err and "`tuiphone daemon`" in err
    for args in (["ctl", "hold"], ["ctl", "dnd", "maybe"]):
        rc, _, err = ctl(config, *args)
        assert rc == 2, (args, err)
