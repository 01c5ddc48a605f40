"""The Pager inside a phone (fake SIP stack, real multicast inside a private namespace): pages play
through the speaker, PageState events, barging into calls, end page, and paging with the microphone."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import FakeBackend
from tests.paging.remote import RemotePage
from tuiphone.audio.analysis import dominant_frequency
from tuiphone.audio.local import LocalAudio
from tuiphone.audio.paging import PagingListener
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import read_wav, write_wav
from tuiphone.config import Config
from tuiphone.engine.events import CallState, IncomingCall, LineState, Notice, PageState
from tuiphone.engine.pager import STREAM, Pager, PagerError
from tuiphone.engine.phone import Phone

pytestmark = pytest.mark.timeout(30)

ALL_STAFF, WAREHOUSE, LOBBY = "224.5.0.1:6100", "224.5.0.2:6100", "224.5.0.3:6100"
LISTEN = [{"address": ALL_STAFF, "label": "All staff"}, {"address": WAREHOUSE, "label": "Warehouse"},
          {"address": LOBBY, "label": "Lobby"}]
ACCOUNT = {"sip_server": "127.0.0.1", "user_id": "1001", "password": "secret"}
CALLER = '"Alice" <sip:200@127.0.0.1>'


class Rig:
    """A started phone (fake SIP stack) with its Pager, and every event the phone emitted."""

    def __init__(self, netns, paging: dict, local_audio: LocalAudio | None = None, keys: list | None = None):
        config = Config.model_validate({"sip": {"port": 5060}, "accounts": [ACCOUNT], "paging": paging,
                                        "keys": keys or []})
        self.sip = FakeBackend()
        self.phone = Phone(config, self.sip, local_audio=local_audio)
        self.events: queue.Queue = queue.Queue()
        self.seen: list = []
        self.phone.subscribe(self.events.put)
        self.phone.start()
        self.pager = Pager(self.phone, interface="127.0.0.1", silence_timeout=0.4)
        self.phone.pager = self.pager
        with netns.inside():
            self.pager.start()

    def wait_for(self, pred, timeout: float = 5.0, after=None):
        """The first event matching `pred`, among those seen (after the event `after`) or still to come."""
        start = 0 if after is None else next(i for i, e in enumerate(self.seen) if e is after) + 1
        found = next((e for e in self.seen[start:] if pred(e)), None)
        deadline = time.monotonic() + timeout
        while found is None and time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(event)
            found = event if pred(event) else None
        assert found is not None, f"no such event in {timeout} s; saw {self.seen[-8:]}"
        return found

    def drain(self, seconds: float) -> list:
        """Every event for the next `seconds`."""
        end = time.monotonic() + seconds
        got = []
        while time.monotonic() < end:
            try:
                got.append(self.events.get(timeout=0.05))
            except queue.Empty:
                pass
        self.seen += got
        return got

    def pages(self) -> list[PageState]:
        return [e for e in self.seen if isinstance(e, PageState)]

    def talking(self) -> int:
        """An incoming call, answered and confirmed; returns its line."""
        cid = self.sip.incoming(0, CALLER)
        line = self.wait_for(lambda e: isinstance(e, IncomingCall)).line
        self.phone.answer(line).result()
        self.sip.remote_state(cid, "confirmed")
        self.wait_for(line_is(line, LineState.TALKING))
        self.cid = cid
        return line

    def stop(self) -> None:
        self.pager.stop()
        self.phone.stop()


def line_is(line: int, state: LineState):
    return lambda e: isinstance(e, CallState) and e.line == line and e.state == state


def page_is(direction: str, address: str, active: bool):
    return lambda e: isinstance(e, PageState) and (e.direction, e.address, e.active) == (direction, address, active)


@pytest.fixture
def rigs(netns):
    made: list[Rig] = []

    def make(paging: dict, **kwargs) -> Rig:
        rig = Rig(netns, paging, **kwargs)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.stop()


@pytest.fixture
def sound(tmp_path: Path):
    """Local audio on files: a microphone that says a 700 Hz tone, a speaker that writes speaker.wav."""
    write_wav(tmp_path / "mic.wav", sine(700, 1.0, level_dbfs=-6), 16000)
    return LocalAudio(input_device=f"file:{tmp_path / 'mic.wav'}", output_device=f"file:{tmp_path / 'speaker.wav'}")


# ---------------------------------------------------------------- listening


def test_a_page_plays_through_the_speaker_with_its_label_and_ends(netns, rigs, sound, tmp_path):
    rig = rigs({"listen": LISTEN}, local_audio=sound)
    assert [g.label for g in rig.pager.groups] == ["All staff", "Warehouse", "Lobby"]
    page = RemotePage(netns, WAREHOUSE, 1200, seconds=1.0)
    assert rig.wait_for(page_is("in", WAREHOUSE, True)) == PageState("in", WAREHOUSE, "Warehouse", True)
    assert rig.pager.page == PageState("in", WAREHOUSE, "Warehouse", True)
    assert STREAM in sound.mixer.names
    page.wait()
    rig.wait_for(page_is("in", WAREHOUSE, False))
    assert rig.pager.page is None and STREAM not in sound.mixer.names
    rig.stop()                          # closes the speaker file
    heard = read_wav(tmp_path / "speaker.wav")
    loud = heard[np.abs(heard) > 1000]
    assert len(loud) > 0.6 * 16000, f"only {len(loud) / 16000:.2f} s of the page came out of the speaker"
    assert abs(dominant_frequency(heard, 16000) - 1200) < 10


def test_end_page_stops_the_page_the_phone_is_playing(netns, rigs):
    rig = rigs({"listen": LISTEN})
    page = RemotePage(netns, ALL_STAFF, 800, seconds=5)
    try:
        rig.wait_for(page_is("in", ALL_STAFF, True))
        rig.pager.end_page()
        rig.wait_for(page_is("in", ALL_STAFF, False), timeout=1.0)
        assert not any(isinstance(e, PageState) for e in rig.drain(0.6))     # still sending; not played
    finally:
        page.stop()


def test_without_local_audio_a_page_still_plays_to_nothing(netns, rigs):
    rig = rigs({"listen": LISTEN[:1]})
    assert rig.phone.local_audio is None
    RemotePage(netns, ALL_STAFF, 800, seconds=0.4)
    rig.wait_for(page_is("in", ALL_STAFF, True))
    rig.wait_for(page_is("in", ALL_STAFF, False))
    assert rig.pager._listener.seconds_played > 0.3


# ---------------------------------------------------------------- barging into calls


def test_a_barging_page_holds_the_call_and_resumes_it_after(netns, rigs):
    rig = rigs({"listen": LISTEN, "barge": 2})
    line = rig.talking()
    page = RemotePage(netns, ALL_STAFF, 800, seconds=0.6)      # priority 1 < barge 2
    rig.wait_for(page_is("in", ALL_STAFF, True))
    held = rig.wait_for(line_is(line, LineState.HELD))
    page.wait()
    rig.wait_for(page_is("in", ALL_STAFF, False))
    rig.wait_for(line_is(line, LineState.TALKING), after=held)
    assert [c[0] for c in rig.sip.commands if c[0] in ("hold", "unhold")] == ["hold", "unhold"]


def test_a_page_below_the_barge_level_waits_until_the_call_ends(netns, rigs):
    rig = rigs({"listen": LISTEN, "barge": 2})
    line = rig.talking()
    page = RemotePage(netns, WAREHOUSE, 800, seconds=5)        # priority 2: not 1..barge-1
    try:
        assert not any(isinstance(e, PageState) for e in rig.drain(0.6))
        assert rig.phone.lines()[0].state == LineState.TALKING and rig.sip.sent("hold") == []
        rig.sip.remote_state(rig.cid, "disconnected")
        rig.wait_for(line_is(line, LineState.ENDED))
        rig.wait_for(page_is("in", WAREHOUSE, True))            # the waiting page plays now
    finally:
        page.stop()


def test_with_barge_zero_no_page_interrupts_a_call(netns, rigs):
    rig = rigs({"listen": LISTEN})
    rig.talking()
    page = RemotePage(netns, ALL_STAFF, 800, seconds=0.6)
    page.wait()
    assert not any(isinstance(e, PageState) for e in rig.drain(0.5))
    assert rig.sip.sent("hold") == [] and rig.pager._listener.stats[0].waiting > 20


def test_a_call_answered_during_a_page_that_may_not_barge_ends_the_page(netns, rigs):
    rig = rigs({"listen": LISTEN, "barge": 2})
    page = RemotePage(netns, WAREHOUSE, 800, seconds=5)        # priority 2: may not interrupt a call
    try:
        started = rig.wait_for(page_is("in", WAREHOUSE, True))
        line = rig.talking()
        rig.wait_for(page_is("in", WAREHOUSE, False), after=started)
        assert not any(isinstance(e, PageState) and e.active for e in rig.drain(0.6))   # nor comes back
        assert rig.phone.lines()[0].state == LineState.TALKING and line == 1
    finally:
        page.stop()


def test_barge_action_hangup_ends_the_call(netns, rigs):
    rig = rigs({"listen": LISTEN, "barge": 11, "barge_action": "hangup"})
    line = rig.talking()
    RemotePage(netns, LOBBY, 800, seconds=0.4)
    rig.wait_for(page_is("in", LOBBY, True))
    rig.wait_for(line_is(line, LineState.ENDED))
    rig.wait_for(page_is("in", LOBBY, False))
    assert rig.phone.lines() == [] and rig.sip.sent("unhold") == []


def test_ending_a_barging_page_gives_the_call_back(netns, rigs):
    rig = rigs({"listen": LISTEN, "barge": 3})
    line = rig.talking()
    page = RemotePage(netns, WAREHOUSE, 800, seconds=5)
    try:
        held = rig.wait_for(line_is(line, LineState.HELD))
        rig.pager.end_page()
        rig.wait_for(line_is(line, LineState.TALKING), after=held)
        assert not any(isinstance(e, PageState) and e.active for e in rig.drain(0.5))
    finally:
        page.stop()


def test_a_call_the_user_takes_back_during_the_page_is_left_alone_after(netns, rigs):
    rig = rigs({"listen": LISTEN, "barge": 2})
    line = rig.talking()
    page = RemotePage(netns, ALL_STAFF, 800, seconds=1.2)
    held = rig.wait_for(line_is(line, LineState.HELD))
    rig.phone.resume(line).result()
    rig.wait_for(line_is(line, LineState.TALKING), after=held)
    rig.phone.hold(line).result()                 # and puts it on hold again, on purpose
    page.wait()
    rig.wait_for(page_is("in", ALL_STAFF, False))
    rig.drain(0.3)
    assert rig.phone.lines()[0].state == LineState.HELD


# ---------------------------------------------------------------- sending


def test_start_sending_pages_the_microphone_to_the_group(netns, rigs, sound):
    heard: list[np.ndarray] = []

    class Sink:
        def write(self, frame):
            heard.append(frame.copy())

    other = PagingListener([LOBBY], sink=Sink(), interface="127.0.0.1", ignore_own=False)
    with netns.inside():
        other.start()
    rig = rigs({"listen": LISTEN, "codec": "G722"}, local_audio=sound,
               keys=[{"mode": "paging", "label": "Lobby key", "value": LOBBY}])
    try:
        with netns.inside():
            rig.pager.start_sending(LOBBY)
        assert rig.pager.sending == LOBBY
        assert rig.wait_for(page_is("out", LOBBY, True)) == PageState("out", LOBBY, "Lobby key", True)
        time.sleep(0.8)
        rig.pager.stop_sending()
        rig.wait_for(page_is("out", LOBBY, False))
        assert rig.pager.sending is None
    finally:
        other.stop()
    assert other.stats[0].codec == "G722"
    assert abs(dominant_frequency(np.concatenate(heard), 16000) - 700) < 10
    assert not any(e.direction == "in" for e in rig.pages())      # its own listener did not play it


@pytest.mark.parametrize("target, codec, message", [
    ("224.1.1.1", None, "Paging group '224.1.1.1' must be a multicast address and port, like 224.1.1.1:4009"),
    ("10.0.0.1:4000", None, "outside the paging range 224.0.1.0–238.255.255.255"),
    ("224.1.1.1:5060", None, ("Paging group 224.1.1.1:5060 uses port 5060, which sip.port already uses; "
                              "pick another port.")),
    ("224.1.1.1:4009", "opus", "'opus' is not a paging codec; choose PCMU, PCMA or G722."),
])
def test_bad_targets_are_refused_with_a_sentence(netns, rigs, sound, target, codec, message):
    rig = rigs({}, local_audio=sound)
    with netns.inside(), pytest.raises(PagerError) as err:     # in the namespace, should it not refuse
        rig.pager.start_sending(target, codec)
    assert message in str(err.value)
    assert rig.pager.sending is None and rig.pages() == []


def test_paging_needs_a_microphone_and_a_free_one(netns, rigs, sound):
    with netns.inside(), pytest.raises(PagerError, match="This phone has no microphone to page with"):
        rigs({}).pager.start_sending(ALL_STAFF)
    rig = rigs({}, local_audio=sound)
    line = rig.talking()
    with netns.inside(), pytest.raises(PagerError, match=f"Line {line} is in a call and has the microphone; hold it"):
        rig.pager.start_sending(ALL_STAFF)


def test_a_call_that_starts_talking_ends_the_page_being_sent(netns, rigs, sound):
    rig = rigs({}, local_audio=sound)
    with netns.inside():
        rig.pager.start_sending(ALL_STAFF)
    rig.wait_for(page_is("out", ALL_STAFF, True))
    line = rig.talking()
    rig.wait_for(page_is("out", ALL_STAFF, False))
    notice = rig.wait_for(lambda e: isinstance(e, Notice))
    assert notice.text == f"The page to {ALL_STAFF} ended: line {line} is talking."
    assert rig.pager.sending is None


def test_groups_that_cannot_be_joined_are_a_sentence_and_sending_still_works(netns, sound):
    config = Config.model_validate({"paging": {"listen": LISTEN[:1]}})
    phone = Phone(config, FakeBackend(), local_audio=sound)
    phone.start()
    pager = Pager(phone, interface="10.9.9.9")
    try:
        with netns.inside(), pytest.raises(PagerError) as err:
            pager.start()
        assert str(err.value).startswith("Cannot join paging group All staff (224.5.0.1:6100) on interface "
                                         "10.9.9.9: ")
        assert not pager.listening
    finally:
        pager.stop()
        phone.stop()


def test_the_phone_pages_and_listens_on_the_configured_interface(netns):
    from tuiphone.engine.pager import attach_pager

    config = Config.model_validate({"sip": {"port": 5060}, "accounts": [ACCOUNT],
                                    "paging": {"interface": "127.0.0.1", "listen": LISTEN[:1]}})
    phone = Phone(config, FakeBackend())
    phone.start()
    try:
        with netns.inside():
            pager = attach_pager(phone)
        assert phone.pager is pager and pager.interface == "127.0.0.1" and pager.listening
    finally:
        pager.stop()
        phone.stop()


def test_a_paging_interface_that_is_not_an_address_is_refused_with_a_sentence():
    from tuiphone.config import ConfigError, parse_config_text

    with pytest.raises(ConfigError, match=r"paging\.interface: must be the IPv4 address of one of this "
                                          r"machine's interfaces, like 192\.168\.1\.20 \(got 'eth0'\)"):
        parse_config_text('[paging]\ninterface = "eth0"\n')
