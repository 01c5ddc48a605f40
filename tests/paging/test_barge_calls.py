"""Barging pages against a real SIP call, all inside a private namespace: a `tuiphone daemon` that
listens to two groups (`paging.barge = 2`: priority 1 barges, priority 2 does not) talks to a second
tuiphone (`tuiphone answer`, whose SIP trace shows what it was sent); the test drives the daemon and
reads its lines through its CTI API, and pages it as another phone on the network would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import tomli_w

from tests.paging.remote import RemotePage
from tuiphone.engine.options import OptionsPinger, OptionsTarget

pytestmark = [pytest.mark.peers, pytest.mark.timeout(60)]

FRONT_DESK, WAREHOUSE = "224.6.0.1:6200", "224.6.0.2:6200"
PHONE_PORT, PEER_PORT, CTI = 5062, 5064, "127.0.0.1:8090"
PASSCODE = "paging-test"


class Phones:
    """The phone under test (daemon, CTI on the namespace's loopback) and its peer."""

    def __init__(self, netns, workdir: Path):
        self.netns, self.workdir = netns, workdir
        self.peer_trace = workdir / "peer.trace"
        env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
        self.daemon = self._start("phone", PHONE_PORT, ["--log-level", "info", "daemon"], {
            "audio": {"input_device": "null", "output_device": "null"},
            "cti": {"enabled": True, "listen": CTI, "passcode": PASSCODE},
            "paging": {"barge": 2, "listen": [{"address": FRONT_DESK, "label": "Front desk"},
                                              {"address": WAREHOUSE, "label": "Warehouse"}]},
        }, env)
        self.peer = self._start("peer", PEER_PORT, ["--sip-trace", str(self.peer_trace), "answer", "--count", "5",
                                                    "--timeout", "120"], {}, env)

    def _start(self, name: str, port: int, args: list[str], config: dict, env: dict) -> subprocess.Popen:
        path = self.workdir / f"{name}.toml"
        path.write_text(tomli_w.dumps(config))
        argv = [sys.executable, "-m", "tuiphone", "--config", str(path), "--data-dir", str(self.workdir / name),
                "--port", str(port), "--bind", "127.0.0.1", *args]
        with open(self.workdir / f"{name}.err", "wb") as err:     # the child keeps its own copy
            return self.netns.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)

    def stderr(self, name: str) -> str:
        return (self.workdir / f"{name}.err").read_text(errors="replace")[-2000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60       # two Python processes starting pjsua on a loaded machine
        target = OptionsTarget.parse(f"127.0.0.1:{PEER_PORT}")
        with self.netns.inside(), OptionsPinger(target, bind="127.0.0.1", timeout=0.3) as pinger:
            while pinger.ping().sip_status != 200:
                assert self.peer.poll() is None, f"the peer exited: {self.stderr('peer')}"
                assert time.monotonic() < deadline, f"the peer never answered OPTIONS: {self.stderr('peer')}"
                time.sleep(0.02)            # a refused ping returns at once: no busy loop beside the peer starting
        while True:
            try:
                self.cti("api-get_phone_status")
                return
            except OSError:
                assert self.daemon.poll() is None, f"the daemon exited: {self.stderr('phone')}"
                assert time.monotonic() < deadline, f"the daemon's CTI never answered: {self.stderr('phone')}"
                time.sleep(0.1)

    def cti(self, function: str, **params: str) -> dict:
        query = urllib.parse.urlencode({"passcode": PASSCODE, **params})
        with self.netns.inside():
            response = urllib.request.urlopen(f"http://{CTI}/cgi-bin/{function}?{query}", timeout=5)
        with response:
            return json.loads(response.read())

    def line_one(self) -> str:
        return self.cti("api-get_line_status")["body"][0]["state"]

    def wait_line(self, state: str, timeout: float = 8.0) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.line_one()) != state:
            assert time.monotonic() < deadline, f"line 1 is {now}, not {state}; {self.stderr('phone')}"
            time.sleep(0.05)

    def invites_to_peer(self) -> list[str]:
        """The INVITEs the peer received, in order (each with its SDP)."""
        text = self.peer_trace.read_text(errors="replace") if self.peer_trace.exists() else ""
        blocks = re.split(r"\n(?=<< |>> )", "\n" + text)
        return [b for b in blocks if b.startswith("<< ") and b.split("\n", 2)[1:2] != []
                and b.split("\n", 2)[1].startswith("INVITE ")]

    def stop(self) -> None:
        for proc in (self.daemon, self.peer):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in (self.daemon, self.peer):
            try:
                proc.wait(8)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="module")
def phones(netns, tmp_path_factory):
    phones = Phones(netns, tmp_path_factory.mktemp("barge"))
    try:
        phones.wait_ready()
        yield phones
    finally:
        phones.stop()


@pytest.fixture
def call(phones):
    """Line 1 of the daemon talking to the peer; hung up after the test."""
    phones.cti("api-make_call", phonenumber=f"127*0*0*1#{PEER_PORT}")
    phones.wait_line("connected")
    yield phones
    if phones.line_one() != "idle":
        phones.cti("api-phone_operation", cmd="endcall")
        phones.wait_line("idle")


def direction(invite: str) -> str:
    return next((a for a in ("sendonly", "inactive", "recvonly", "sendrecv") if f"a={a}" in invite), "sendrecv")


def test_a_barging_page_holds_the_call_and_resumes_it_when_the_page_ends(call):
    before = len(call.invites_to_peer())
    page = RemotePage(call.netns, FRONT_DESK, 800, seconds=1.5)          # priority 1 < barge 2
    call.wait_line("onhold", timeout=3)
    held = time.monotonic()
    page.wait()
    call.wait_line("connected", timeout=4)
    back = time.monotonic()
    assert back - held > 1.5, "the call came back before the page ended"
    time.sleep(0.3)                                     # the peer's trace takes the last re-INVITE down
    invites = [direction(i) for i in call.invites_to_peer()[before:]]
    holds = [n for n, d in enumerate(invites) if d in ("sendonly", "inactive")]
    assert holds and invites[-1] == "sendrecv" and holds[0] < len(invites) - 1, invites


def test_a_page_that_may_not_barge_waits_and_leaves_the_call_alone(call):
    before = len(call.invites_to_peer())
    page = RemotePage(call.netns, WAREHOUSE, 800, seconds=3.0)           # priority 2: does not barge
    try:
        states = set()
        for _ in range(15):
            states.add(call.line_one())
            time.sleep(0.1)
        assert states == {"connected"}
        assert [direction(i) for i in call.invites_to_peer()[before:]] in ([], ["sendrecv"])   # no hold
        assert "page on Warehouse" not in call.stderr("phone")
        call.cti("api-phone_operation", cmd="endcall")
        call.wait_line("idle")
        deadline = time.monotonic() + 3
        while "page on Warehouse (224.6.0.2:6200) from" not in call.stderr("phone"):   # it waited; now it plays
            assert time.monotonic() < deadline, call.stderr("phone")
            time.sleep(0.05)
    finally:
        page.stop()
