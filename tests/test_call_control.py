"""Hold, resume and transfer, driven through the Phone API in this process against tuiphone processes."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest

from tests.phoneproc import sip_port
from tuiphone.audio.analysis import has_tone, level_dbfs
from tuiphone.audio.sources import SilenceSource
from tuiphone.config import Config
from tuiphone.engine.backend import CallMedia
from tuiphone.engine.events import CallState, LineState, TransferProgress
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers



class TimedFrames:
    """A sink that keeps every received frame with the time it arrived."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, np.ndarray]] = []
        self._lock = threading.Lock()

    def write(self, frame: np.ndarray) -> None:
        with self._lock:
            self.frames.append((time.monotonic(), frame.copy()))

    def window(self, start: float, end: float) -> np.ndarray:
        with self._lock:
            chunks = [f for t, f in self.frames if start <= t < end]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


@pytest.fixture
def phone():
    port = sip_port()
    p = Phone(Config(), PjsuaBackend(), port=port, bind="127.0.0.1")
    p.port = port
    events: queue.Queue = queue.Queue()
    p.subscribe(events.put)
    p.history = []
    p.subscribe(p.history.append)
    p.start()
    p.events = events
    yield p
    p.stop()


def wait_for(events: queue.Queue, pred, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            ev = events.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(ev)
        if pred(ev):
            return ev
    raise AssertionError(f"no matching event in {timeout} s; saw {seen[-10:]}")


def is_state(line: int, state: LineState):
    return lambda ev: isinstance(ev, CallState) and ev.line == line and ev.state == state


def test_hold_stops_the_audio_and_resume_brings_it_back(phone, phones):
    remote = phones("remote", ["answer", "--tone", "1000", "--timeout", "30", "--json"], ready=True)
    heard = TimedFrames()
    line = phone.call(remote.keypad, media=CallMedia(SilenceSource(), [heard])).result(5)
    wait_for(phone.events, is_state(line, LineState.TALKING))
    time.sleep(1.5)
    now = time.monotonic()
    assert has_tone(heard.window(now - 1.0, now), 16000, 1000), "no tone before hold"

    phone.hold(line).result(5)
    wait_for(phone.events, is_state(line, LineState.HELD))
    time.sleep(1.5)
    now = time.monotonic()
    during = heard.window(now - 1.0, now)
    assert len(during) == 0 or level_dbfs(during) < -50, "audio kept flowing on hold"

    phone.resume(line).result(5)
    wait_for(phone.events, is_state(line, LineState.TALKING))
    time.sleep(1.5)
    now = time.monotonic()
    assert has_tone(heard.window(now - 1.0, now), 16000, 1000), "audio did not come back after resume"
    phone.hangup(line).result(5)
    wait_for(phone.events, is_state(line, LineState.ENDED))
    assert "a=sendonly" in remote.trace() or "a=inactive" in remote.trace()


def test_second_call_holds_the_first_and_resume_switches_back(phone, phones):
    one = phones("one", ["answer", "--timeout", "30"], ready=True)
    two = phones("two", ["answer", "--timeout", "30"], ready=True)
    first = phone.call(one.keypad).result(5)
    wait_for(phone.events, is_state(first, LineState.TALKING))
    second = phone.call(two.keypad).result(5)
    assert second != first
    wait_for(phone.events, is_state(first, LineState.HELD))
    wait_for(phone.events, is_state(second, LineState.TALKING))
    phone.resume(first).result(5)
    wait_for(phone.events, is_state(second, LineState.HELD))
    states = {s.line: s.state for s in phone.lines()}
    assert states == {first: LineState.TALKING, second: LineState.HELD}
    phone.hangup_all().result(5)


def test_blind_transfer_connects_the_far_end_to_the_target(phone, phones):
    transferee = phones("transferee", ["answer", "--timeout", "15"], ready=True)
    target = phones("target", ["answer", "--tone", "600", "--duration", "2", "--timeout", "20", "--json"],
                    ready=True)
    line = phone.call(transferee.keypad).result(5)
    wait_for(phone.events, is_state(line, LineState.TALKING))
    phone.blind_transfer(line, target.keypad).result(5)
    final = wait_for(phone.events, lambda e: isinstance(e, TransferProgress) and e.final)
    assert final.sip_status == 200
    wait_for(phone.events, is_state(line, LineState.ENDED))   # our leg is hung up after the transfer
    rc, report = target.result(timeout=20)
    assert rc == 0 and report["calls"][0]["result"] == "answered"
    assert "REFER sip:" in transferee.trace()
    assert "Referred-By" in target.trace()


def test_attended_transfer_replaces_our_call_with_the_transferee(phone, phones):
    transferee = phones("transferee", ["answer", "--timeout", "20"], ready=True)
    target = phones("target", ["answer", "--timeout", "25", "--json"], ready=True)
    held = phone.call(transferee.keypad).result(5)
    wait_for(phone.events, is_state(held, LineState.TALKING))
    consult = phone.call(target.keypad).result(5)
    wait_for(phone.events, is_state(consult, LineState.TALKING))
    phone.attended_transfer(held, consult).result(5)
    final = wait_for(phone.events, lambda e: isinstance(e, TransferProgress) and e.final)
    assert final.sip_status == 200
    # our leg to the transferee ends after the NOTIFY; the target drops our leg for the transferee
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
            any(is_state(n, LineState.ENDED)(e) for e in phone.history) for n in (held, consult)):
        time.sleep(0.1)
    assert phone.lines() == []
    assert "Replaces:" in target.trace()
    rc, report = target.result(timeout=30)
    assert report["calls"][0]["result"] == "answered"


@pytest.mark.parametrize("code, result", [(486, "busy"), (603, "rejected")])
def test_rejecting_a_ringing_call_sends_the_chosen_code(phone, phones, code, result):
    from tuiphone.engine.events import IncomingCall
    caller = phones("caller", ["call", f"127*0*0*1#{phone.port}", "--timeout", "10", "--json"])
    ringing = wait_for(phone.events, lambda e: isinstance(e, IncomingCall), timeout=10)
    phone.reject(ringing.line, code).result(5)
    rc, report = caller.result()
    assert rc == 1
    assert (report["result"], report["sip_status"]) == (result, code)


def test_attended_transfer_to_baresip_ends_both_of_our_legs(phone, phones, baresip):
    """baresip 1.0 takes the INVITE with Replaces as a new call and keeps our consultation call: after the
    NOTIFY 200 the phone ends both of its legs itself, and the transferee and baresip go on talking."""
    # --count 2: the transferee stays after our call ends, keeping its call to baresip up
    transferee = phones("transferee", ["answer", "--count", "2", "--timeout", "20"], ready=True)
    target = baresip(user="target")
    held = phone.call(transferee.keypad).result(5)
    wait_for(phone.events, is_state(held, LineState.TALKING))
    consult = phone.call(target.uri).result(5)
    ours = wait_for(phone.events, is_state(consult, LineState.TALKING)).call_id
    assert {s.line: s.state for s in phone.lines()} == {held: LineState.HELD, consult: LineState.TALKING}
    assert target.wait_event("CALL_ESTABLISHED", 5), target.events()
    phone.attended_transfer(held, consult).result(5)
    final = wait_for(phone.events, lambda e: isinstance(e, TransferProgress) and e.final)
    assert final.sip_status == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and phone.lines():
        time.sleep(0.05)
    assert phone.lines() == [], "a leg stayed up on the phone after the transfer"
    assert all(any(is_state(n, LineState.ENDED)(e) for e in phone.history) for n in (held, consult))

    def calls(kind):
        return {e.get("id") for e in target.control.events if e.get("type") == kind}
    # the transferee's INVITE with Replaces reached baresip, was answered, and its audio flows
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not calls("CALL_RTPESTAB") - {ours}:
        time.sleep(0.05)
    (theirs,) = calls("CALL_ESTABLISHED") - {ours}
    assert theirs in calls("CALL_RTPESTAB"), target.events()
    assert "Replaces: " in transferee.trace()
    time.sleep(0.5)
    assert calls("CALL_CLOSED") == {ours}, target.events()     # only our consultation call ended there
    assert "Active calls (1)" in target.command("listcalls")["data"]
