"""PagingListener and PagingSender in this process, their sockets inside a private namespace:
priorities, end page, the barge gate, silence timeout, garbage, and the sender not hearing itself."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from tuiphone.audio.analysis import dominant_frequency, has_tone
from tuiphone.audio.paging import (
    PagingError,
    PagingGroup,
    PagingListener,
    PagingSender,
    barge_level,
    check_groups,
    groups_from_config,
)
from tuiphone.audio.rtp import RtpPacket
from tuiphone.audio.sources import ToneSource
from tuiphone.config import parse_config_text

pytestmark = pytest.mark.timeout(30)

GROUPS = [(f"224.2.0.{n}", 6000, f"zone {n}") for n in range(1, 6)]    # priorities 1..5


class Recorder:
    """A frame sink and page callbacks that remember what happened, in order."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.frames: list[tuple[int, np.ndarray]] = []     # (priority of the page playing, frame)
        self.listener: PagingListener | None = None
        self.changed = threading.Condition()

    def write(self, frame: np.ndarray) -> None:
        assert frame.dtype == np.int16 and len(frame) == 320
        self.frames.append((self.listener.active.group.priority, frame.copy()))

    def start(self, page) -> None:
        self._note(("start", page.group.priority))

    def end(self, page, reason: str) -> None:
        self._note(("end", page.group.priority, reason))

    def _note(self, event: tuple) -> None:
        with self.changed:
            self.events.append((*event, time.monotonic()))
            self.changed.notify_all()

    def names(self) -> list[tuple]:
        return [e[:-1] for e in self.events]

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= count, timeout), self.names()

    def tone_of(self, priority: int) -> float:
        audio = np.concatenate([f for p, f in self.frames if p == priority])
        return dominant_frequency(audio, 16000)


@pytest.fixture
def recorder():
    return Recorder()


def _listener(netns, recorder, groups=GROUPS, **kwargs) -> PagingListener:
    kwargs.setdefault("silence_timeout", 0.3)
    listener = PagingListener(groups, sink=recorder, on_page_start=recorder.start, on_page_end=recorder.end,
                              interface="127.0.0.1", ignore_own=False, **kwargs)
    recorder.listener = listener
    with netns.inside():
        listener.start()
    return listener


def _page(netns, priority: int, freq: float, seconds: float, codec: str = "PCMU") -> PagingSender:
    address, port, _ = GROUPS[priority - 1]
    sender = PagingSender(address, port, codec, source=ToneSource(freq), interface="127.0.0.1", duration=seconds)
    with netns.inside():
        sender.start()
    return sender


def test_a_higher_priority_page_replaces_a_lower_one_which_comes_back_after(netns, recorder):
    listener = _listener(netns, recorder, priority_active=True)
    try:
        low = _page(netns, 5, 500, 1.6)
        recorder.wait_for(1)
        time.sleep(0.2)
        high = _page(netns, 2, 1500, 0.5)
        high.wait(3)
        low.wait(3)
        recorder.wait_for(6)
    finally:
        listener.stop()
    assert recorder.names() == [("start", 5), ("end", 5, "replaced"), ("start", 2), ("end", 2, "silence"),
                                ("start", 5), ("end", 5, "silence")]
    assert listener.stats[4].waiting > 0            # the low page's packets while the high one played
    assert abs(recorder.tone_of(2) - 1500) < 5 and abs(recorder.tone_of(5) - 500) < 5


def test_without_priority_active_the_first_page_holds(netns, recorder):
    listener = _listener(netns, recorder, priority_active=False)
    try:
        low = _page(netns, 5, 500, 0.8)
        recorder.wait_for(1)
        high = _page(netns, 2, 1500, 1.6)
        low.wait(3)
        recorder.wait_for(3)
        high.stop()
        recorder.wait_for(4)
    finally:
        listener.stop()
    assert recorder.names() == [("start", 5), ("end", 5, "silence"), ("start", 2), ("end", 2, "silence")]
    assert listener.stats[1].waiting > 0
    assert abs(recorder.tone_of(5) - 500) < 5 and abs(recorder.tone_of(2) - 1500) < 5


def test_end_page_stops_the_page_until_its_sender_stops(netns, recorder):
    listener = _listener(netns, recorder)
    try:
        first = _page(netns, 1, 800, 1.2)
        recorder.wait_for(1)
        listener.end_page()
        recorder.wait_for(2)
        time.sleep(0.4)
        assert recorder.names() == [("start", 1), ("end", 1, "ended")]     # still sending, not played
        assert listener.active is None and first.running
        second = _page(netns, 1, 900, 0.3)                                  # a new page on that group
        recorder.wait_for(4)
        second.wait(2)
        first.stop()
    finally:
        listener.stop()
    assert recorder.names()[2:] == [("start", 1), ("end", 1, "silence")]


def test_a_page_waits_while_may_start_says_no(netns, recorder):
    allowed = threading.Event()
    asked = []
    listener = _listener(netns, recorder, may_start=lambda group: asked.append(group) or allowed.is_set())
    try:
        sender = _page(netns, 3, 700, 1.0)
        time.sleep(0.4)
        assert recorder.events == [] and listener.stats[2].waiting > 0
        assert asked[0] == PagingGroup("224.2.0.3", 6000, "zone 3", priority=3)
        allowed.set()                         # e.g. the call that blocked it has ended
        recorder.wait_for(2)
        sender.wait(2)
    finally:
        listener.stop()
    assert recorder.names() == [("start", 3), ("end", 3, "silence")]
    assert has_tone(np.concatenate([f for _, f in recorder.frames]), 16000, 700, tol_hz=10)


def test_a_page_ends_about_one_second_after_its_last_packet(netns, recorder):
    listener = _listener(netns, recorder, silence_timeout=1.0)
    try:
        sender = _page(netns, 1, 600, 0.3, codec="G722")
        sender.wait(2)
        stopped = time.monotonic()
        recorder.wait_for(2, timeout=3)
    finally:
        listener.stop()
    assert recorder.names() == [("start", 1), ("end", 1, "silence")]
    assert 0.95 <= recorder.events[1][-1] - stopped <= 1.3
    assert abs(listener.seconds_played - 0.3) < 0.03 and listener.stats[0].codec == "G722"


def test_stopping_the_listener_ends_the_page_and_leaves_the_groups(netns, recorder):
    listener = _listener(netns, recorder)
    sender = _page(netns, 4, 700, 2.0)
    try:
        recorder.wait_for(1)
        assert "224.2.0.4" in netns.joined()
        listener.stop()
        assert recorder.names() == [("start", 4), ("end", 4, "stopped")]
        assert "224.2.0.4" not in netns.joined()
    finally:
        sender.stop()
        listener.stop()


def test_the_phone_does_not_play_its_own_page(netns, recorder):
    listener = PagingListener(GROUPS[:1], sink=recorder, on_page_start=recorder.start, interface="127.0.0.1")
    with netns.inside():
        listener.start()
    try:
        _page(netns, 1, 800, 0.3).wait(2)
        time.sleep(0.1)
    finally:
        listener.stop()
    assert recorder.events == [] and listener.stats[0].packets == 0


def test_garbage_on_a_group_is_counted_and_the_page_still_plays(netns, recorder):
    listener = _listener(netns, recorder)
    with netns.inside():
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        junk.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        for data in [b"", b"hello", bytes(11), bytes([0x40]) + bytes(20),
                     RtpPacket(96, 1, 2, 3, b"opus?").to_bytes(), RtpPacket(0, 1, 2, 3, b"").to_bytes()]:
            junk.sendto(data, ("224.2.0.2", 6000))
        _page(netns, 2, 1200, 0.4).wait(2)
        recorder.wait_for(2)
    finally:
        junk.close()
        listener.stop()
    assert listener.stats[1].bad == 6 and listener.stats[1].packets == 20
    assert abs(recorder.tone_of(2) - 1200) < 5


def test_a_group_that_cannot_be_joined_is_a_clear_error(netns):
    listener = PagingListener(GROUPS[:2], interface="10.9.9.9")
    with netns.inside(), pytest.raises(PagingError) as err:
        listener.start()
    assert str(err.value).startswith("cannot join paging group zone 1 (224.2.0.1:6000) on interface 10.9.9.9: ")
    assert "224.2.0.1" not in netns.joined()


# ---------------------------------------------------------------- validation, no network


def test_at_most_ten_groups():
    groups = [f"224.3.0.{n}:7000" for n in range(1, 12)]
    assert len(check_groups(groups[:10])) == 10
    with pytest.raises(PagingError, match="at most 10 paging groups; remove 224.3.0.11:7000"):
        check_groups(groups)


@pytest.mark.parametrize("entries, message", [
    (["224.0.0.251:5353"], "224.0.0.251 is outside the paging range 224.0.1.0–238.255.255.255"),
    (["239.255.255.250:1900"], "outside the paging range"),
    (["10.0.0.1:4000"], "outside the paging range"),
    (["pbx:4000"], "'pbx' is not an IPv4 address"),
    (["224.1.1.1:0"], "the port must be a number from 1 to 65535"),
    (["224.1.1.1:4009", ("224.1.1.1", 4009, "again")], "224.1.1.1:4009 is listed twice"),
])
def test_bad_groups_are_named_in_the_error(entries, message):
    with pytest.raises(PagingError, match=message):
        check_groups(entries)


def test_ports_used_by_sip_rtp_or_cti_are_refused():
    with pytest.raises(PagingError, match="224.1.1.1:5060 uses port 5060, which sip.port already uses"):
        check_groups(["224.1.1.1:4009", "224.1.1.1:5060"], {5060: "sip.port"})
    with pytest.raises(PagingError, match="which the RTP of line 1 already uses"):
        PagingListener(["224.1.1.1:4000"], used={4000: "the RTP of line 1"})


def test_sender_settings_are_checked():
    source = ToneSource(800)
    with pytest.raises(PagingError, match="'opus' is not a paging codec; choose PCMU, PCMA or G722"):
        PagingSender("224.1.1.1", 4009, "opus", source=source)
    with pytest.raises(PagingError, match="TTL is 1-255"):
        PagingSender("224.1.1.1", 4009, source=source, ttl=0)
    with pytest.raises(PagingError, match="outside the paging range"):
        PagingSender("239.1.1.1", 4009, source=source)


def test_groups_come_from_the_config_in_priority_order():
    cfg = parse_config_text('[sip]\nport = 5060\n[paging]\nbarge = 3\n'
                            '[[paging.listen]]\naddress = "224.1.1.1:4009"\nlabel = "All staff"\n'
                            '[[paging.listen]]\naddress = "224.1.1.2:4009"\nlabel = "Warehouse"\n')
    assert groups_from_config(cfg) == [PagingGroup("224.1.1.1", 4009, "All staff", 1),
                                       PagingGroup("224.1.1.2", 4009, "Warehouse", 2)]
    assert str(groups_from_config(cfg)[1]) == "Warehouse (224.1.1.2:4009)"


@pytest.mark.parametrize("barge, barging", [(0, []), (1, []), (3, [1, 2]), (11, list(range(1, 11)))])
def test_barge_lets_only_priorities_above_the_setting_interrupt_a_call(barge, barging):
    assert [p for p in range(1, 11) if barge_level(p, barge)] == barging
