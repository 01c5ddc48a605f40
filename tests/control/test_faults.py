"""Front-ends that die or come and go leave the phone process as it was (issue 15, Faults): a front-end
killed with SIGKILL mid-call does not end the call, and 100 attach/detach cycles leak no fds and no memory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services.helpers import wait_for
from tuiphone.control.client import ControlClient, RemotePhone, call_phone

pytestmark = pytest.mark.peers

CALL_S = 4.0            # the callee hangs up after this long (its own --duration)
PACKETS_PER_S = 50      # 20 ms frames, no VAD: RTP goes out all the time, silence or not


# a small front-end process: a RemotePhone attached to the phone, printing the events it gets
FRONT_END = """
import asyncio, json, sys
from tuiphone.control.client import ControlClient, RemotePhone

async def main():
    client = await ControlClient.connect(sys.argv[1], timeout=30)
    phone = RemotePhone(client)
    print("attached", len(phone.lines()), flush=True)
    async for event in client.events(raw=True):
        print(json.dumps(event), flush=True)

asyncio.run(main())
"""


def status(config: Path) -> dict:
    return call_phone(config, "status")[1]


def line_states(config: Path) -> list[tuple[int, str]]:
    return [(item["call"]["line"], item["call"]["state"]) for item in status(config)["lines"]]


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    raise AssertionError("no VmRSS")


def test_a_front_end_killed_mid_call_leaves_the_call_up_and_its_audio_flowing(ctl_daemons, phones, tmp_path):
    callee = phones("callee", ["answer", "--timeout", "30", "--duration", str(CALL_S), "--record",
                               str(tmp_path / "heard.wav"), "--json"])
    daemon = ctl_daemons(ready=False)          # both start at once: two loaded cores
    callee.wait_ready()
    daemon.wait_ready()
    wait_for(lambda: status(daemon.config_path)["front_ends"] == 1, 30, "the phone's control socket to answer")
    events, errors = tmp_path / "events.out", tmp_path / "front-end.err"
    with open(events, "wb") as out, open(errors, "wb") as err:
        front_end = subprocess.Popen([sys.executable, "-c", FRONT_END, str(daemon.config_path)], stdout=out,
                                     stderr=err)
    try:
        wait_for(lambda: events.read_text().startswith("attached") or front_end.poll() is not None, 30,
                 "the front-end to attach")
        assert front_end.poll() is None, errors.read_text()[-2000:]
        assert call_phone(daemon.config_path, "call", {"target": callee.keypad})[1] == 1
        wait_for(lambda: line_states(daemon.config_path) == [(1, "talking")], 20, "line 1 to be talking")
        wait_for(lambda: '"CallState"' in events.read_text(), 10, "the front-end to follow the call")
        os.kill(front_end.pid, signal.SIGKILL)
        age_at_kill = time.time() - status(daemon.config_path)["lines"][0]["talking_since"]   # an upper bound
        assert front_end.wait(timeout=5) == -signal.SIGKILL
    finally:
        if front_end.poll() is None:
            front_end.kill()
            front_end.wait(timeout=5)
    wait_for(lambda: status(daemon.config_path)["front_ends"] == 1, 10, "the phone to let the dead front-end go")
    time.sleep(1.0)
    assert line_states(daemon.config_path) == [(1, "talking")]       # the call goes on without its front-end
    rc, report = callee.result(timeout=CALL_S + 10)
    assert rc == 0 and report["answered"] == 1, callee.stderr()
    call = report["calls"][0] if "calls" in report else report
    # the callee hung up after CALL_S of talking and heard the phone's RTP all along: at least 1 s more of
    # it than the phone could have sent before the kill
    assert age_at_kill + 1.0 < CALL_S - 0.5, f"the kill came {age_at_kill:.1f} s into the call: too late to tell"
    assert call["rx"]["packets"] >= PACKETS_PER_S * (age_at_kill + 1.0), json.dumps(call)
    assert call["duration_s"] >= CALL_S - 0.5, json.dumps(call)
    assert (tmp_path / "heard.wav").stat().st_size > 44 + 8000 * 2 * (CALL_S - 1)      # 8 kHz at least
    wait_for(lambda: line_states(daemon.config_path) == [], 10, "the line to be free after the callee hung up")


def test_a_hundred_attach_detach_cycles_leak_no_fds_and_bounded_memory(ctl_daemons):
    daemon = ctl_daemons()
    pid = daemon.pid
    assert pid is not None

    async def cycle(abrupt: bool) -> None:
        client = await ControlClient.connect(daemon.config_path)       # hello and snapshot
        phone = RemotePhone(client)
        assert phone.lines() == [] and phone.max_lines >= 1
        if abrupt:             # as a killed front-end: the connection just drops
            client._writer.transport.abort()
            await asyncio.wait_for(client.closed.wait(), 5)
        else:
            await client.close()

    async def cycles(count: int) -> None:
        async def one_after_another(first: int) -> None:
            for i in range(first, count, 4):
                await cycle(abrupt=i % 8 == 7)
        await asyncio.gather(*(one_after_another(first) for first in range(4)))      # four front-ends at a time

    def settled() -> bool:
        return status(daemon.config_path)["front_ends"] == 1          # only the status request itself

    def quiet_fds() -> int:
        """The phone's fds with no front-end: the status request's own socket may still be closing."""
        samples = []
        for _ in range(5):
            samples.append(fd_count(pid))
            time.sleep(0.1)
        return min(samples)

    asyncio.run(cycles(8))           # warm-up: the first connections allocate what later ones reuse
    wait_for(settled, 20, "the warm-up front-ends to go")
    fds, rss = quiet_fds(), rss_kib(pid)
    asyncio.run(cycles(100))
    wait_for(settled, 20, "the front-ends to go")
    wait_for(lambda: fd_count(pid) <= fds, 20, f"the phone's fds back to {fds}")
    grown = rss_kib(pid) - rss
    print(f"\nphone pid {pid}: fds {fds} -> {fd_count(pid)}, RSS {rss} -> {rss + grown} KiB (+{grown} KiB) "
          "after 100 attach/detach cycles")
    assert grown < 4096, f"the phone's RSS grew by {grown} KiB over 100 attach/detach cycles"
