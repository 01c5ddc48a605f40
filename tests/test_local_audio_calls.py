"""The user's own audio (microphone and speaker) joins the talking line: through hold, and in a conference."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from tests.phoneproc import sip_port
from tests.test_call_control import TimedFrames, is_state, wait_for
from tuiphone.audio.analysis import band_energy_ratio, has_tone, level_dbfs
from tuiphone.audio.sources import ToneSource
from tuiphone.audio.wav import read_wav
from tuiphone.config import Config
from tuiphone.engine.events import LineState
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers


class MemoryAudio:
    """Stands in for LocalAudio: a tone for a microphone, a frame recorder for a speaker, a log of sounds.

    With the C local port (`attach_bridge`) a 20 ms clock thread plays the sound card: it sends the tone
    into the bridge and keeps what it receives, as LocalAudio's device callbacks do."""

    def __init__(self, mic_hz: float):
        self.mic = ToneSource(mic_hz)
        self.speaker = TimedFrames()
        self.sounds: list[str] = []
        self._link = None
        self._stop = threading.Event()
        self._clock: threading.Thread | None = None

    def attach_bridge(self, link, tx_tap=None, rx_tap=None):
        self._link, self._tx_tap, self._rx_tap = link, tx_tap, rx_tap
        self._clock = threading.Thread(target=self._run, name="memory-sound-card", daemon=True)
        self._clock.start()

    def _run(self):
        link = self._link
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += 0.02
            self._stop.wait(max(0.0, next_at - time.monotonic()))
            if link.active:
                link.tx[:] = self.mic.read(link.frame_samples)
                if self._tx_tap:
                    self._tx_tap(link.tx)
                link.send()
                if link.receive():
                    if self._rx_tap:
                        self._rx_tap(link.rx)
                    self.speaker.write(link.rx)

    def start(self):
        pass

    def stop(self):
        self._stop.set()
        if self._clock is not None:
            self._clock.join(2)

    def play_tone(self, name, loop=None):
        self.sounds.append(name)

    def stop_tone(self):
        self.sounds.append("stop_tone")

    def start_ring(self, ringtone="ring1", volume=1.0):
        self.sounds.append(f"ring:{ringtone}")

    def stop_ring(self):
        self.sounds.append("stop_ring")


@pytest.fixture(params=["c", "python"])
def local_phone(request, monkeypatch):
    """A phone whose local port is in C (the sound card drives it) or in Python (pjmedia's clock drives it)."""
    if request.param == "python":
        monkeypatch.setenv("TUIPHONE_LOCAL_PORT", "python")
    audio = MemoryAudio(700)
    phone = Phone(Config(), PjsuaBackend(), port=sip_port(), bind="127.0.0.1", local_audio=audio)
    phone.events = queue.Queue()
    phone.subscribe(phone.events.put)
    phone.start()
    phone.audio = audio
    phone.port_kind = request.param
    yield phone
    phone.stop()
    audio.stop()


def test_the_user_hears_the_far_end_and_is_heard(local_phone, phones, tmp_path):
    remote = phones("remote", ["answer", "--tone", "1000", "--record", str(tmp_path / "remote.wav"),
                               "--duration", "2.5", "--json"], ready=True)
    line = local_phone.call(remote.keypad).result(5)
    wait_for(local_phone.events, is_state(line, LineState.TALKING))
    time.sleep(1.5)
    now = time.monotonic()
    assert has_tone(local_phone.audio.speaker.window(now - 1, now), 16000, 1000)
    remote.result()
    heard = read_wav(tmp_path / "remote.wav")[8000:]
    assert band_energy_ratio(heard, 16000, 700, width_hz=40) > 0.5


def test_a_held_line_leaves_the_speaker_silent(local_phone, phones):
    remote = phones("remote", ["answer", "--tone", "1000", "--timeout", "20"], ready=True)
    line = local_phone.call(remote.keypad).result(5)
    wait_for(local_phone.events, is_state(line, LineState.TALKING))
    local_phone.hold(line).result(5)
    wait_for(local_phone.events, is_state(line, LineState.HELD))
    time.sleep(1.2)
    now = time.monotonic()
    during = local_phone.audio.speaker.window(now - 0.8, now)
    assert len(during) == 0 or level_dbfs(during) < -50
    local_phone.hangup(line).result(5)


def test_ringback_then_silence_when_answered(local_phone, phones):
    remote = phones("remote", ["answer", "--ring", "1", "--timeout", "20"], ready=True)
    line = local_phone.call(remote.keypad).result(5)
    wait_for(local_phone.events, is_state(line, LineState.TALKING))
    assert local_phone.audio.sounds[:2] == ["ringback", "stop_tone"]
    local_phone.hangup(line).result(5)


def test_a_muted_line_sends_silence_until_unmuted(local_phone, phones, tmp_path):
    remote = phones("remote", ["answer", "--record", str(tmp_path / "remote.wav"), "--duration", "3.5", "--json"],
                    ready=True)
    line = local_phone.call(remote.keypad).result(5)
    wait_for(local_phone.events, is_state(line, LineState.TALKING))
    local_phone.mute(line, True).result(5)
    time.sleep(1.6)
    local_phone.mute(line, False).result(5)
    remote.result()
    heard = read_wav(tmp_path / "remote.wav")
    assert len(heard) > 3.2 * 16000
    muted, unmuted = heard[int(0.4 * 16000):int(1.3 * 16000)], heard[int(2.3 * 16000):int(3.2 * 16000)]
    assert level_dbfs(muted) < -50
    assert band_energy_ratio(unmuted, 16000, 700, width_hz=40) > 0.5


def test_the_local_port_runs_in_c_unless_asked_otherwise(local_phone, phones):
    remote = phones("remote", ["answer", "--tone", "1000", "--duration", "1.5", "--json"], ready=True)
    line = local_phone.call(remote.keypad).result(5)
    wait_for(local_phone.events, is_state(line, LineState.TALKING))
    time.sleep(1.0)
    link = local_phone.audio._link
    if local_phone.port_kind == "c":
        assert link is not None and link.sent > 25 and link.received > 25
    else:
        assert link is None
    remote.result()
