"""The real device path in real calls: a tuiphone Phone whose microphone, speaker and ringer are PulseAudio
null sinks (through PortAudio → ALSA → PulseAudio), talking to a second tuiphone process on 127.0.0.1.

- what is played into the phone's microphone sink arrives at the peer;
- what the peer sends comes out of the phone's speaker sink;
- an incoming call rings on the ringer sink, and the speaker stays silent.

The ringer is an ALSA device of its own ("tuiphone_ringer", an asoundrc PCM on the `ring` sink), chosen by
name in the config as a user would choose a USB ringer.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.audio.pulse import RATE, PulseServer
from tests.phoneproc import sip_port
from tests.test_call_control import is_state, wait_for
from tuiphone.audio.analysis import band_energy_ratio, has_tone, level_dbfs
from tuiphone.audio.local import LocalAudio
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import read_wav, write_wav
from tuiphone.config import Config
from tuiphone.engine.events import IncomingCall, LineState
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers

RINGER = "tuiphone_ringer"
ASOUNDRC = f"""pcm.{RINGER} {{
    type pulse
    device ring
    hint {{ show on description "tuiphone test ringer (PulseAudio sink ring)" }}
}}
"""


@pytest.fixture
def ringer_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An ALSA PCM named tuiphone_ringer that plays into the `ring` sink (alsa-lib reads
    $XDG_CONFIG_HOME/alsa/asoundrc when PortAudio lists the devices again at the phone's start)."""
    folder = tmp_path / "xdg" / "alsa"
    folder.mkdir(parents=True)
    (folder / "asoundrc").write_text(ASOUNDRC)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return RINGER


@pytest.fixture
def pulse_phone(pulse: PulseServer, ringer_device: str) -> Iterator[Phone]:
    config = Config.model_validate({"audio": {"input_device": "pulse", "output_device": "pulse",
                                              "ringer_device": ringer_device}})
    audio = LocalAudio.from_config(config.audio)
    phone = Phone(config, PjsuaBackend(), port=sip_port(), bind="127.0.0.1", local_audio=audio)
    phone.events = queue.Queue()
    phone.subscribe(phone.events.put)
    phone.start()
    try:
        assert audio.status == "ok", audio.reason
        assert audio.stats().ringer_device == ringer_device
        yield phone
    finally:
        phone.stop()


def loud_part(samples: np.ndarray, threshold: int = 1000) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0] : loud[-1]] if len(loud) else samples[:0]


def test_the_microphone_reaches_the_peer_and_the_peer_comes_out_of_the_speaker(
    pulse: PulseServer, pulse_phone: Phone, phones, tmp_path: Path,
) -> None:
    mic_wav = tmp_path / "700.wav"
    write_wav(mic_wav, sine(700, 8.0, level_dbfs=-6), RATE)
    remote = phones("remote", ["answer", "--tone", "1000", "--record", str(tmp_path / "remote.wav"),
                               "--duration", "3", "--json"], ready=True)
    player = pulse.play(mic_wav, "mic")
    speaker = pulse.recorder("spk.monitor", tmp_path / "spk.raw")
    try:
        line = pulse_phone.call(remote.keypad).result(5)
        wait_for(pulse_phone.events, is_state(line, LineState.TALKING))
        remote.result(15)        # its exit code is the CLI tests' business; here the sound is
        wait_for(pulse_phone.events, is_state(line, LineState.ENDED))
    finally:
        player.terminate()
        player.wait(5)
    heard = PulseServer.stop_recording(speaker, tmp_path / "spk.raw")
    call_part = loud_part(heard)
    assert len(call_part) > 2 * RATE, "the far end's tone did not come out of the speaker sink"
    assert has_tone(call_part[-int(1.5 * RATE) : -RATE // 10], RATE, 1000, min_ratio=0.9)
    sent = read_wav(tmp_path / "remote.wav")[RATE // 2 :]
    assert level_dbfs(sent) > -30, "the peer heard nothing of the microphone"
    assert band_energy_ratio(sent, RATE, 700, width_hz=40) > 0.8
    stats = pulse_phone.local_audio.stats()
    assert stats.device_failures == 0


def test_an_incoming_call_rings_on_the_ringer_device_and_not_on_the_speaker(
    pulse: PulseServer, pulse_phone: Phone, phones, tmp_path: Path,
) -> None:
    ringer = pulse.recorder("ring.monitor", tmp_path / "ring.raw")
    speaker = pulse.recorder("spk.monitor", tmp_path / "spk.raw")
    port = pulse_phone.backend.local_address().rsplit(":", 1)[1]
    caller = phones("caller", ["call", f"sip:100@127.0.0.1:{port}", "--timeout", "10", "--json"])
    incoming = wait_for(pulse_phone.events, lambda e: isinstance(e, IncomingCall), timeout=10)
    time.sleep(1.5)                                   # ring1: 0.4 s warble, 0.2 s pause, 0.4 s warble
    assert pulse_phone.local_audio.ringing
    pulse_phone.reject(incoming.line).result(5)
    wait_for(pulse_phone.events, is_state(incoming.line, LineState.ENDED))
    caller.result(15)
    rang = PulseServer.stop_recording(ringer, tmp_path / "ring.raw")
    spoke = PulseServer.stop_recording(speaker, tmp_path / "spk.raw")
    burst = loud_part(rang)
    assert len(burst) > RATE // 2, "no ringtone came out of the ringer sink"
    assert np.abs(rang).max() == pytest.approx(0.5 * 32767, rel=0.1)          # ring1 at -6 dBFS, volume 1
    assert band_energy_ratio(burst, RATE, 800, 60) + band_energy_ratio(burst, RATE, 1000, 60) > 0.8
    assert level_dbfs(spoke) < -60, "the ringtone rang on the speaker too"


def test_a_real_call_moves_between_two_sound_cards_through_the_c_port(
    pulse: PulseServer, phones, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The far end's tone leaves the first sink and comes out of the second at once; the new device's
    callback thread registers itself with pjlib on its first frame."""
    from tuiphone.audio.device import rescan

    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.sink_spk { type pulse device spk }\n"
                                    "pcm.sink_ring { type pulse device ring }\n")
    monkeypatch.setenv("HOME", str(home))
    rescan()
    config = Config.model_validate({"audio": {"input_device": "null", "output_device": "sink_spk"}})
    audio = LocalAudio.from_config(config.audio)
    phone = Phone(config, PjsuaBackend(), port=sip_port(), bind="127.0.0.1", local_audio=audio)
    phone.events = queue.Queue()
    phone.subscribe(phone.events.put)
    remote = phones("remote", ["answer", "--tone", "1000", "--timeout", "20"], ready=True)
    phone.start()
    try:
        assert audio.stats().bridge_port == "c" and audio.status == "ok", audio.reason
        line = phone.call(remote.keypad).result(5)
        wait_for(phone.events, is_state(line, LineState.TALKING))
        first = pulse.recorder("spk.monitor", tmp_path / "spk.raw")
        time.sleep(1.2)
        assert audio.use_devices(output="sink_ring") == {}
        second = pulse.recorder("ring.monitor", tmp_path / "ring.raw")
        time.sleep(1.5)
        stats = audio.stats()
        phone.hangup(line).result(5)
        on_first = PulseServer.stop_recording(first, tmp_path / "spk.raw")
        on_second = PulseServer.stop_recording(second, tmp_path / "ring.raw")
    finally:
        phone.stop()
        audio.stop()
    assert stats.output_device == "sink_ring" and stats.device_failures == 0 and stats.speaker_underruns < 3
    heard_first, heard_second = loud_part(on_first), loud_part(on_second)
    assert len(heard_first) > RATE // 2 and has_tone(heard_first[800:-800], RATE, 1000, min_ratio=0.9)
    assert len(heard_second) > RATE and has_tone(heard_second[800:-800], RATE, 1000, min_ratio=0.9)
