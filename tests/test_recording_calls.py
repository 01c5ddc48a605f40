"""Call recording on real calls: automatic and manual, mono mix and stereo (ours left, theirs right)."""

from __future__ import annotations

import queue
import time
import wave

import numpy as np
import pytest

from tests.phoneproc import sip_port
from tests.test_call_control import is_state, wait_for
from tests.test_local_audio_calls import MemoryAudio
from tuiphone.audio.analysis import band_energy_ratio, dominant_frequency
from tuiphone.audio.sources import ToneSource
from tuiphone.config import Config
from tuiphone.engine.backend import CallMedia
from tuiphone.engine.events import CallState, LineState
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers


def read_channels(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return data.reshape(-1, w.getnchannels())


def make_phone(tmp_path, features, local_audio=None) -> Phone:
    config = Config.model_validate({"features": features})
    phone = Phone(config, PjsuaBackend(), port=sip_port(), bind="127.0.0.1", local_audio=local_audio,
                  data_dir=str(tmp_path / "data"))
    phone.events = queue.Queue()
    phone.subscribe(phone.events.put)
    phone.start()
    return phone


def test_automatic_stereo_recording_keeps_each_side_on_its_channel(tmp_path, phones):
    remote = phones("remote", ["answer", "--tone", "1000", "--duration", "2.5", "--json"], ready=True)
    phone = make_phone(tmp_path, {"record": "auto", "record_stereo": True}, MemoryAudio(700))
    try:
        line = phone.call(remote.keypad).result(5)
        recording = wait_for(phone.events, lambda e: isinstance(e, CallState) and e.recording)
        assert recording.line == line
        wait_for(phone.events, is_state(line, LineState.ENDED), timeout=15)
    finally:
        phone.stop()
    files = list((tmp_path / "data" / "recordings").glob("*.wav"))
    assert len(files) == 1 and f"line{line}" in files[0].name
    stereo = read_channels(files[0])[16000:]
    assert stereo.shape[1] == 2
    assert abs(dominant_frequency(stereo[:, 0], 16000) - 700) < 20      # ours on the left
    assert abs(dominant_frequency(stereo[:, 1], 16000) - 1000) < 20     # theirs on the right


def test_manual_recording_mixes_both_sides_until_stopped(tmp_path, phones):
    remote = phones("remote", ["answer", "--tone", "1000", "--timeout", "20"], ready=True)
    phone = make_phone(tmp_path, {"record": "manual", "record_dir": str(tmp_path / "rec")})
    try:
        line = phone.call(remote.keypad, media=CallMedia(ToneSource(500), [])).result(5)
        wait_for(phone.events, is_state(line, LineState.TALKING))
        path = phone.record(line, True).result(5)
        time.sleep(2.0)
        assert phone.record(line, False).result(10) == path
        phone.hangup(line).result(5)
    finally:
        phone.stop()
    whole = read_channels(path)[:, 0]
    assert 1.5 < len(whole) / 16000 < 3.0
    mono = whole[8000:]
    assert band_energy_ratio(mono, 16000, 500, width_hz=40) > 0.2
    assert band_energy_ratio(mono, 16000, 1000, width_hz=40) > 0.2


def test_recording_off_is_refused_with_a_sentence(tmp_path, phones):
    from tuiphone.engine.phone import PhoneError
    remote = phones("remote", ["answer", "--timeout", "20"], ready=True)
    phone = make_phone(tmp_path, {"record": "off"})
    try:
        line = phone.call(remote.keypad).result(5)
        wait_for(phone.events, is_state(line, LineState.TALKING))
        with pytest.raises(PhoneError, match="Recording is turned off"):
            phone.record(line, True).result(5)
        phone.hangup(line).result(5)
    finally:
        phone.stop()


def test_cli_stereo_recording(tmp_path, phones):
    remote = phones("remote", ["answer", "--tone", "1000", "--timeout", "20"], ready=True)
    caller = phones("caller", ["call", remote.keypad, "--tone", "440", "--record", str(tmp_path / "both.wav"),
                               "--stereo", "--duration", "2", "--json"])
    assert caller.result()[0] == 0
    stereo = read_channels(tmp_path / "both.wav")[16000:]
    assert abs(dominant_frequency(stereo[:, 0], 16000) - 440) < 20
    assert abs(dominant_frequency(stereo[:, 1], 16000) - 1000) < 20


def test_a_held_line_records_nothing_of_the_line_talking_now(tmp_path, phones):
    first = phones("first", ["answer", "--tone", "1000", "--timeout", "20"], ready=True)
    second = phones("second", ["answer", "--tone", "1400", "--timeout", "20"], ready=True)
    audio = MemoryAudio(700)
    phone = make_phone(tmp_path, {"record": "manual", "record_dir": str(tmp_path / "rec"), "record_stereo": True},
                       audio)
    try:
        line1 = phone.call(first.keypad).result(5)
        wait_for(phone.events, is_state(line1, LineState.TALKING))
        path = phone.record(line1, True).result(5)
        time.sleep(1.0)
        phone.hold(line1).result(5)
        wait_for(phone.events, is_state(line1, LineState.HELD))
        line2 = phone.call(second.keypad).result(5)
        wait_for(phone.events, is_state(line2, LineState.TALKING))
        time.sleep(2.0)
        assert phone.record(line1, False).result(10) == path
        phone.hangup(line2).result(5)
        phone.hangup(line1).result(5)
    finally:
        phone.stop()
        audio.stop()
    stereo = read_channels(path)
    assert 0.7 < len(stereo) / 16000 < 1.8          # only the second line 1 talked, not line 2's two
    assert band_energy_ratio(stereo[:, 1], 16000, 1400, width_hz=40) < 0.05
    assert abs(dominant_frequency(stereo[4000:, 1], 16000) - 1000) < 20
