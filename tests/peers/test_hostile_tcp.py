"""`tuiphone daemon` under TCP connection floods to its SIP TCP port (issue 12: pjsip's ioqueue).

Without the TCP guard (engine/tcp_guard.py) pjlib aborts the process (`pj_ioqueue_register_sock2:
Assertion '!pj_list_empty(&ioqueue->free_list)'`) after some 70 connections opened and closed within half a
second, and at once when connections held open are closed and new ones follow. After each test the daemon
must be alive, with bounded memory, answering its CTI API, and ring for calls over UDP and over TCP.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.peers import tcpflood
from tests.peers.test_hostile_capacity import _rss_kb, _states, _still_a_phone
from tests.phoneproc import PhoneProc
from tests.services.helpers import daemon_proc, wait_cti, wait_for

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile-tcp")
    proc, cti = daemon_proc(workdir, "daemon", {"sip": {"bind_address": "127.0.0.1"}})
    proc.start()
    try:
        wait_cti(cti)
        proc.rss_start = _rss_kb(proc.pid)
        proc.log_path = workdir / "daemon-data" / "logs" / "tuiphone.log"
        yield proc, cti
    finally:
        proc.stop()


def _rings_over_tcp(proc, cti, tmp_path) -> None:
    """A call from another tuiphone process to sip:<daemon>;transport=tcp rings and is turned away 486."""
    target = f"sip:127.0.0.1:{proc.port};transport=tcp"
    caller = PhoneProc(tmp_path, "tcp-caller", ["call", target, "--timeout", "10", "--json"]).start()
    try:
        wait_for(lambda: "ringing" in _states(cti), 10, "a call over TCP to ring")
        status, answer = cti.get("api-phone_operation", cmd="rejectcall")
        assert status == 200, answer
        rc, report = caller.result(15)
        assert report.get("sip_status") == 486, caller.stderr()
    finally:
        caller.stop()
    wait_for(lambda: set(_states(cti)) == {"idle"}, 5, "the line to be idle after the call over TCP")


def _door_log(proc) -> list[str]:
    text = proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""
    return re.findall(r"(?:held off|taken again)[^\n]*", text)


def test_tcp_connect_close_flood_never_aborts(phone, tmp_path):
    proc, cti = phone
    result = tcpflood.connect_close("127.0.0.1", proc.port, total=600, threads=4, max_s=3.0,
                                    connect_timeout=0.2)
    assert proc._popen.poll() is None, f"the daemon died ({proc._popen.returncode}): {proc.stderr()}"
    assert result.made >= 60, result           # enough to use up pjsip's 64 handles without the guard
    _still_a_phone(proc, cti, tmp_path)
    _rings_over_tcp(proc, cti, tmp_path)


def test_tcp_connections_held_then_dropped_never_abort(phone, tmp_path):
    proc, cti = phone
    held = tcpflood.Holder("127.0.0.1", proc.port, connect_timeout=0.1)
    try:
        held.open(100, max_s=2.0)
        assert held.made >= 40, held.made
        time.sleep(0.5)
        assert proc._popen.poll() is None, f"the daemon died ({proc._popen.returncode}): {proc.stderr()}"
        _still_a_phone(proc, cti, tmp_path)          # a call over UDP rings while they are held
    finally:
        held.close()
    # every handle they held is now closing for 0.5 s: new connections at once are what pjlib asserted on
    burst = tcpflood.connect_close("127.0.0.1", proc.port, total=60, threads=4, max_s=1.0, connect_timeout=0.2)
    assert proc._popen.poll() is None, f"the daemon died ({proc._popen.returncode}): {proc.stderr()} {burst}"
    _still_a_phone(proc, cti, tmp_path, ring_check=False)       # rung over UDP above, over TCP here
    _rings_over_tcp(proc, cti, tmp_path)
    door = " ".join(_door_log(proc))
    assert "held off" in door and "taken again" in door, door
