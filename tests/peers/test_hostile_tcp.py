"""`tuiphone daemon` under TCP connection floods to its SIP TCP port (issue 12: pjsip's ioqueue).

Without the TCP guard (engine/tcp_guard.py) pjlib aborts the process (`pj_ioqueue_register_sock2:
Assertion '!pj_list_empty(&ioqueue->free_list)'`) after some 70 connections opened and closed within half a
second, and at once when connections held open are closed and new ones follow. After each test the daemon
must be alive, with bounded memory, answering its CTI API, and ring for calls over UDP and over TCP.
"""

from __future__ import annotations

import threading
import time

import aiohttp
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


def _alive(proc, what: object = "") -> None:
    assert proc._popen.poll() is None, f"the daemon died ({proc._popen.returncode}): {proc.stderr()} {what}"


def _ringing(proc, cti) -> bool:
    try:
        return "ringing" in _states(cti)
    except aiohttp.ClientError:
        time.sleep(0.5)                 # the CTI went away: say so if the daemon died
        _alive(proc)
        raise


def _rings_over_tcp(proc, cti, tmp_path, source: str = "127.0.0.2", transport: str = "tcp") -> None:
    """A call from another tuiphone process (bound to `source`) to sip:<daemon>;transport=tcp (or over UDP)
    rings and is turned away 486."""
    target = f"sip:127.0.0.1:{proc.port};transport=tcp" if transport == "tcp" else proc.keypad
    caller = PhoneProc(tmp_path, f"{transport}-caller", ["call", target, "--timeout", "10", "--json"])
    caller.argv[caller.argv.index("--bind") + 1] = source
    caller.start()
    try:
        wait_for(lambda: _ringing(proc, cti), 10, f"a call over {transport.upper()} to ring")
        status, answer = cti.get("api-phone_operation", cmd="rejectcall")
        assert status == 200, answer
        rc, report = caller.result(15)
        assert report.get("sip_status") == 486, caller.stderr()
    finally:
        caller.stop()
    wait_for(lambda: set(_states(cti)) == {"idle"}, 5, "the line to be idle after the call")


def test_tcp_connect_close_flood_never_aborts(phone, tmp_path):
    proc, cti = phone
    flood: dict[str, tcpflood.FloodResult] = {}
    flooding = threading.Thread(target=lambda: flood.setdefault("result", tcpflood.connect_close(
        "127.0.0.1", proc.port, total=600, threads=8, max_s=4.0, connect_timeout=0.2)))
    flooding.start()
    try:
        _rings_over_tcp(proc, cti, tmp_path, transport="udp")     # during the flood
    finally:
        flooding.join(10)
    result = flood["result"]
    assert proc._popen.poll() is None, f"the daemon died ({proc._popen.returncode}): {proc.stderr()}"
    assert result.made >= 60, result           # enough to use up pjsip's 64 handles without the guard
    _still_a_phone(proc, cti, tmp_path)
    _rings_over_tcp(proc, cti, tmp_path)


def test_tcp_connections_held_then_dropped_never_abort(phone, tmp_path):
    proc, cti = phone
    holders = [tcpflood.Holder("127.0.0.1", proc.port, connect_timeout=0.1, source=f"127.0.0.{n}")
               for n in (1, 3, 4)]
    try:
        first = holders[0]
        first.open(100, max_s=1.5)
        _alive(proc)
        assert 10 <= first.made <= 40, first.made             # one source gets its share, no more
        assert "more than its share" in proc.log_path.read_text()
        _rings_over_tcp(proc, cti, tmp_path)                   # another source still gets in
        for more in holders[1:]:
            more.open(100, max_s=1.0)
        _alive(proc)
        assert holders[2].made < first.made, [h.made for h in holders]   # the door closed on the third
        _still_a_phone(proc, cti, tmp_path)                    # UDP calls ring while the door is closed
    finally:
        for holder in holders:
            holder.close()
    # every handle they held is now closing for 0.5 s: new connections at once are what pjlib asserted on
    burst = tcpflood.connect_close("127.0.0.1", proc.port, total=60, threads=4, max_s=1.0, connect_timeout=0.2,
                                   source="127.0.0.5")
    _alive(proc, burst)
    _still_a_phone(proc, cti, tmp_path, ring_check=False)       # rung over UDP above, over TCP here
    _rings_over_tcp(proc, cti, tmp_path)                       # the door is open again
