"""Choosing other sound devices while the phone runs: the call goes on, its sound moves at once; a device
that will not open leaves that side on null audio with a reason; the volumes come from the config."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.audio.pulse import PulseServer
from tests.audio.test_local import FakeCall
from tuiphone.audio.analysis import has_tone
from tuiphone.audio.device import rescan
from tuiphone.audio.local import LocalAudio
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import read_wav, write_wav
from tuiphone.config import Config

RATE = 16000


def _loud(samples: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > 1000)
    return samples[loud[0] : loud[-1]] if len(loud) else samples[:0]


def test_switching_the_speaker_mid_call_moves_the_call_to_the_new_device(tmp_path: Path) -> None:
    first, second = tmp_path / "first.wav", tmp_path / "second.wav"
    audio = LocalAudio(input_device="null", output_device=f"file:{first}")
    audio.start()
    try:
        with FakeCall(audio, says=1000) as call:
            time.sleep(0.5)
            sent_before = len(call.sent)
            assert audio.use_devices(output=f"file:{second}") == {}
            time.sleep(0.5)
            assert len(call.sent) >= sent_before + 20             # the call's clock never stopped
        assert audio.status == "ok" and audio.stats().output_device == f"file:{second}"
    finally:
        audio.stop()
    before, after = _loud(read_wav(first)), _loud(read_wav(second))
    assert len(before) > RATE // 4 and has_tone(before, RATE, 1000, min_ratio=0.95)
    assert len(after) > RATE // 4 and has_tone(after, RATE, 1000, min_ratio=0.95)


def test_a_device_that_will_not_open_leaves_that_side_on_null_audio_and_says_why(tmp_path: Path) -> None:
    audio = LocalAudio(input_device="null", output_device=f"file:{tmp_path / 'speaker.wav'}")
    audio.start()
    try:
        with FakeCall(audio, says=1000) as call:
            problems = audio.use_devices(output=f"file:{tmp_path / 'gone' / 'speaker.wav'}")
            sent = len(call.sent)
            time.sleep(0.3)
            assert len(call.sent) >= sent + 10                    # the call goes on, in silence
        assert list(problems) == ["output"] and "does not exist" in problems["output"]
        assert audio.status == "degraded"
        assert audio.reason.startswith("The folder of ") and "running on null audio for the speaker" in audio.reason
        assert audio.stats().output_device.startswith("null (wanted file:")
    finally:
        audio.stop()


def test_a_ringer_of_its_own_takes_the_ringing_over_and_gives_it_back(tmp_path: Path) -> None:
    speaker, ringer, later = tmp_path / "speaker.wav", tmp_path / "ringer.wav", tmp_path / "later.wav"
    tone = tmp_path / "ringtone.wav"
    write_wav(tone, sine(1400, 1.0, level_dbfs=-6), RATE)
    audio = LocalAudio(input_device="null", output_device=f"file:{speaker}")
    audio.start()
    try:
        audio.start_ring(str(tone))                  # a steady ringtone: every device's share of it is heard
        time.sleep(0.3)
        assert audio.use_devices(ringer=f"file:{ringer}") == {}      # it moves while it rings
        time.sleep(0.4)
        assert audio.ringing and audio.stats().ringer_device == f"file:{ringer}"
        assert audio.use_devices(output=f"file:{later}", ringer="") == {}   # back to the speaker, a new one
        time.sleep(0.3)
        assert audio.ringing and audio.stats().ringer_device == f"file:{later}"
    finally:
        audio.stop()
    for path in (speaker, ringer, later):
        assert has_tone(_loud(read_wav(path))[:1200], RATE, 1400), path.name


def test_the_config_sets_speaker_and_ring_volume() -> None:
    config = Config.model_validate({"audio": {"input_device": "null", "output_device": "null",
                                              "speaker_volume": 40, "ring_volume": 25}})
    audio = LocalAudio.from_config(config.audio)
    assert audio.volume == pytest.approx(0.4) and audio.ring_volume == pytest.approx(0.25)
    audio.start_ring("ring1")
    assert audio.mixer.source("ring").volume == pytest.approx(0.25)
    with pytest.raises(ValueError, match="less than or equal to 100"):
        Config.model_validate({"audio": {"ring_volume": 101}})


def test_switching_the_speaker_between_two_sound_cards_moves_the_call_at_once(
    pulse: PulseServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # two ALSA devices, one per null sink of the private PulseAudio (PortAudio lists them after a rescan)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.sink_spk { type pulse device spk }\n"
                                    "pcm.sink_ring { type pulse device ring }\n")
    monkeypatch.setenv("HOME", str(home))
    rescan()
    audio = LocalAudio(input_device="null", output_device="sink_spk")
    audio.start()
    try:
        assert audio.status == "ok", audio.reason
        with FakeCall(audio, says=1000) as call:
            first = pulse.recorder("spk.monitor", tmp_path / "spk.raw")
            time.sleep(1.0)
            assert audio.use_devices(output="sink_ring") == {}
            second = pulse.recorder("ring.monitor", tmp_path / "ring.raw")
            sent = len(call.sent)
            time.sleep(1.2)
            assert len(call.sent) >= sent + 40
            stats = audio.stats()
        on_first = PulseServer.stop_recording(first, tmp_path / "spk.raw")
        on_second = PulseServer.stop_recording(second, tmp_path / "ring.raw")
    finally:
        audio.stop()
    assert stats.output_device == "sink_ring" and stats.device_failures == 0
    heard_first, heard_second = _loud(on_first), _loud(on_second)
    assert len(heard_first) > RATE // 2 and has_tone(heard_first[800:-800], RATE, 1000, min_ratio=0.95)
    assert len(heard_second) > RATE // 2 and has_tone(heard_second[800:-800], RATE, 1000, min_ratio=0.95)
    assert not np.abs(on_first[-RATE // 2 :]).max() > 1000           # the first sink went quiet
