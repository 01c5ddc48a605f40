"""The user's own audio (microphone and speaker) joins the talking line: through hold, and in a conference."""

from __future__ import annotations

import queue
import time

import pytest

from tests.phoneproc import sip_port
from tests.test_call_control import TimedFrames, is_state, wait_for
from tuiphone.audio.analysis import band_energy_ratio, has_tone, level_dbfs
from tuiphone.audio.tone import ToneSource
from tuiphone.audio.wav import read_wav
from tuiphone.config import Config
from tuiphone.engine.events import LineState
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers


class MemoryAudio:
    """Stands in for LocalAudio: a tone for a microphone, a frame recorder for a speaker, a log of sounds."""

    def __init__(self, mic_hz: float):
        self.mic = ToneSource(mic_hz)
        self.speaker = TimedFrames()
        self.sounds: list[str] = []

    def start(self):
        pass

    def stop(self):
        pass

    def play_tone(self, name, loop=None):
        self.sounds.append(name)

    def stop_tone(self):
        self.sounds.append("stop_tone")

    def start_ring(self, ringtone="ring1", volume=1.0):
        self.sounds.append(f"ring:{ringtone}")

    def stop_ring(self):
        self.sounds.append("stop_ring")


@pytest.fixture
def local_phone():
    audio = MemoryAudio(700)
    phone = Phone(Config(), PjsuaBackend(), port=sip_port(), bind="127.0.0.1", local_audio=audio)
    phone.events = queue.Queue()
    phone.subscribe(phone.events.put)
    phone.start()
    phone.audio = audio
    yield phone
    phone.stop()


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
