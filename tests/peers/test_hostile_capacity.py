"""`tuiphone daemon` under floods and races from the network (issue 12, items 1, 2, 7).

One daemon (no account, CTI on, bound to 127.0.0.1) takes every test in turn; after each, it must still
run with bounded memory, answer its CTI API, have every line idle again within a few seconds, and ring
for a normal call from another tuiphone process.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.peers.sipflood import SipFlood
from tests.peers.sipp import Sipp
from tests.phoneproc import PhoneProc
from tests.services.helpers import daemon_proc, wait_cti, wait_for

pytestmark = pytest.mark.peers

RSS_LIMIT_KB = 400_000
RSS_GROWTH_KB = 80_000


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    proc, cti = daemon_proc(workdir, "daemon", {"sip": {"bind_address": "127.0.0.1"}})
    proc.start()
    try:
        wait_cti(cti)
        proc.rss_start = _rss_kb(proc.pid)
        proc.workdir_ = workdir
        yield proc, cti
    finally:
        proc.stop()


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmRSS:")))


def _states(cti) -> list[str]:
    return [ln["state"] for ln in cti.ok("api-get_line_status")]


def _still_a_phone(proc, cti, tmp_path, ring_check: bool = True) -> None:
    """Alive, memory bounded, CTI answering, every line idle within a few seconds, a real call rings."""
    assert proc._popen.poll() is None, f"the daemon died ({proc._popen.returncode}): {proc.stderr()}"
    rss = _rss_kb(proc.pid)
    assert rss < RSS_LIMIT_KB and rss - proc.rss_start < RSS_GROWTH_KB, (proc.rss_start, rss)
    wait_for(lambda: set(_states(cti)) == {"idle"}, 6, "every line to be idle again")
    if not ring_check:
        return
    caller = PhoneProc(tmp_path, "caller", ["call", proc.keypad, "--timeout", "10", "--json"]).start()
    try:
        wait_for(lambda: "ringing" in _states(cti), 10, "a normal call to ring")
        status, answer = cti.get("api-phone_operation", cmd="rejectcall")
        assert status == 200, answer
        rc, report = caller.result(15)
        assert report.get("sip_status") == 486, caller.stderr()
    finally:
        caller.stop()
    wait_for(lambda: set(_states(cti)) == {"idle"}, 5, "the line to be idle after the normal call")


def _reject_ringing(cti) -> None:
    """Turn away every ringing call over CTI (a flood that never CANCELs leaves calls ringing)."""
    for _ in range(8):
        status, answer = cti.get("api-phone_operation", cmd="rejectcall")
        assert status in (200, 409), answer        # 409: none is ringing; never a 5xx
        if status == 409:
            return


def _cancel_all(flood: SipFlood, call_ids) -> None:
    for call_id in call_ids:
        if flood.final(call_id) is None:
            flood.cancel(call_id)
    flood.pump(0.5)


@pytest.fixture(scope="module")
def two_line_phone(tmp_path_factory):
    """A daemon with two lines: calls 3 and 4 get a pjsua call (and sockets) before the phone says busy."""
    proc, cti = daemon_proc(tmp_path_factory.mktemp("two-lines"), "two-lines", {"phone": {"lines": 2}})
    proc.start()
    try:
        wait_cti(cti)
        proc.rss_start = _rss_kb(proc.pid)
        yield proc, cti
    finally:
        proc.stop()


def test_sipp_invite_flood_at_200_calls_a_second_is_refused_never_aborts(two_line_phone, tmp_path):
    proc, cti = two_line_phone
    sipp = Sipp("uac", tmp_path, remote=proc.address, calls=1000, pause_ms=100, timeout=8,
                extra_args=["-r", "200", "-l", "20"])
    sipp.start()
    try:
        time.sleep(5.5)                     # 1000 calls at 200/s
        assert proc._popen.poll() is None, proc.stderr()
    finally:
        sipp.stop()
    result = sipp.result()
    codes = result.received_statuses()
    assert 180 in codes and (486 in codes or 503 in codes), sorted(set(codes))
    assert not [c for c in codes if c >= 500 and c != 503], sorted(set(codes))
    _reject_ringing(cti)
    _still_a_phone(proc, cti, tmp_path)


def test_invite_cancel_flood_leaves_no_ghost_lines(phone, tmp_path):
    proc, cti = phone
    flood = SipFlood(proc.address)
    sent, pending = [], []
    try:
        start = time.monotonic()
        for i in range(400):                        # 200 INVITE+CANCEL pairs a second for 2 s
            due = start + i / 200
            while time.monotonic() < due:
                flood.pump(0)
            sent.append(flood.invite())
            pending.append((due + 0.02, sent[-1]))
            while pending and pending[0][0] <= time.monotonic():
                flood.cancel(pending.pop(0)[1])
        for _, call_id in pending:
            flood.cancel(call_id)
        flood.pump(1.5)
        finals = flood.finals()
        assert proc._popen.poll() is None, proc.stderr()
        assert not {c for c in finals if c >= 500 and c != 503}, finals
        assert 603 not in finals, finals
        assert sum(n for c, n in finals.items() if c) >= 380, finals      # UDP on loopback: nearly all
    finally:
        flood.close()
    _still_a_phone(proc, cti, tmp_path)


def _udp_sockets(pid: int) -> list[str]:
    """Local addresses of the process's UDP and TCP sockets, from /proc/<pid>/fd and /proc/<pid>/net."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    found = []
    for table in ("udp", "tcp", "udp6", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                if cols[9] in inodes:
                    found.append(f"{table} {_address(cols[1])}")
    return found


def _address(hex_addr: str) -> str:
    host, port = hex_addr.split(":")
    if len(host) == 8:
        ip = ".".join(str(int(host[i:i + 2], 16)) for i in (6, 4, 2, 0))
    else:
        ip = "::" if int(host, 16) == 0 else "ipv6:" + host
    return f"{ip}:{int(port, 16)}"


def test_sixteen_m_lines_get_one_audio_stream_and_every_socket_is_bound(phone, tmp_path):
    proc, cti = phone
    flood = SipFlood(proc.address)
    try:
        before = _udp_sockets(proc.pid)
        calls = [flood.invite(audio_lines=16), flood.invite(audio_lines=16)]
        flood.pump(0.5)
        assert [flood.statuses[c][-1:] for c in calls] == [[180], [180]], dict(flood.statuses)
        during = _udp_sockets(proc.pid)
        udp = [s for s in during if s.startswith("udp")]
        assert len(udp) <= len([s for s in before if s.startswith("udp")]) + 2 * 2, during
        wild = [s for s in during if " 0.0.0.0:" in s or " :::" in s or s.endswith(" ::")]
        assert not wild, during
        assert all(" 127." in s for s in during), during
        third = flood.invite()
        flood.pump(0.3)
        assert flood.statuses[third][-1:] == [180], dict(flood.statuses)
        assert cti.ok("api-phone_operation", cmd="acceptcall") == "complete"
        flood.pump(1.0)
        answered = [c for c in calls + [third] if c in flood.answers]
        assert len(answered) == 1, dict(flood.statuses)
        if answered[0] in calls:
            ports = re.findall(rb"^m=audio (\d+)", flood.answers[answered[0]], re.M)
            assert len(ports) == 16 and sum(p != b"0" for p in ports) == 1, ports
        _cancel_all(flood, calls + [third])
    finally:
        flood.close()
    _still_a_phone(proc, cti, tmp_path, ring_check=False)


def test_cancel_racing_a_new_invite_never_leaves_a_ghost_line(phone, tmp_path):
    proc, cti = phone
    flood = SipFlood(proc.address)
    try:
        ringing = [flood.invite() for _ in range(4)]
        flood.pump(0.3)
        news = []
        for _ in range(5):
            fresh = []
            for old in ringing:
                flood.cancel(old)
                fresh.append(flood.invite())        # back to back: pjsua may give it the old call's id
            flood.pump(0.3)
            news += fresh
            ringing = fresh
        flood.pump(0.3)
        finals = {c: flood.final(c) for c in news}
        assert 603 not in finals.values(), finals
        assert [c for c in ringing if flood.statuses[c][-1:] == [180]] == ringing, dict(flood.statuses)
        status, answer = cti.get("api-phone_operation", cmd="acceptcall")
        assert status == 200, answer
        flood.pump(0.5)
        _cancel_all(flood, ringing)
        for cmd in ("rejectcall", "acceptcall", "endcall"):
            status, answer = cti.get("api-phone_operation", cmd=cmd)
            assert status in (200, 409), (cmd, answer)
    finally:
        flood.close()
    _still_a_phone(proc, cti, tmp_path)


def test_calls_beyond_the_stacks_capacity_are_refused_busy(phone, tmp_path):
    proc, cti = phone
    flood = SipFlood(proc.address)
    try:
        calls = []
        for _ in range(5):
            calls.append(flood.invite())
            flood.pump(0.3)
        assert [flood.statuses[c][-1:] for c in calls[:4]] == [[180]] * 4, dict(flood.statuses)
        assert flood.final(calls[4]) == 486, dict(flood.statuses)
        assert _states(cti).count("ringing") == 4
        _cancel_all(flood, calls)
    finally:
        flood.close()
    _still_a_phone(proc, cti, tmp_path)


def test_two_lines_ring_two_calls_and_the_third_is_busy(two_line_phone, tmp_path):
    proc, cti = two_line_phone
    flood = SipFlood(proc.address)
    try:
        calls = []
        for _ in range(3):
            calls.append(flood.invite())
            flood.pump(0.3)
        assert [flood.statuses[c][-1:] for c in calls[:2]] == [[180]] * 2, dict(flood.statuses)
        assert flood.statuses[calls[2]] == [100, 486], dict(flood.statuses)     # the phone's own busy
        assert _states(cti) == ["ringing", "ringing"]
        _cancel_all(flood, calls)
    finally:
        flood.close()
    _still_a_phone(proc, cti, tmp_path, ring_check=False)
