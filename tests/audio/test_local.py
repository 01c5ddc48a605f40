"""LocalAudio, the phone's side of the sound: what a call says comes out of the speaker, what
the mic hears goes to the call, tones and ringing mix in, and a lost device is survived."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.audio.pulse import PulseServer
from tuiphone.audio import device, local, portaudio
from tuiphone.audio.analysis import band_energy_ratio, has_tone
from tuiphone.audio.local import LocalAudio
from tuiphone.audio.sources import ToneSource, sine
from tuiphone.audio.wav import read_wav, write_wav

RATE = 16000
FRAME = 320


class FakeCall:
    """Stands in for pjmedia's clock thread: every 20 ms it takes a frame from `mic` (what the
    call sends) and gives one to `speaker` (what the call says)."""

    def __init__(self, audio: LocalAudio, says: float | None = None):
        self.audio = audio
        self.says = ToneSource(says, level_dbfs=-6) if says else None
        self.sent: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakeCall:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            due += FRAME / RATE
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.sent.append(self.audio.mic.read(FRAME))
            if self.says is not None:
                self.audio.speaker.write(self.says.read(FRAME))

    def heard(self) -> np.ndarray:
        return np.concatenate(self.sent) if self.sent else np.zeros(0, dtype=np.int16)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A mic WAV (a 700 Hz tone) and the path the speaker will be written to."""
    mic = tmp_path / "mic.wav"
    write_wav(mic, sine(700, 1.0, level_dbfs=-6), RATE)
    return mic, tmp_path / "speaker.wav"


@pytest.fixture
def file_audio(files: tuple[Path, Path]) -> Iterator[LocalAudio]:
    mic, speaker = files
    audio = LocalAudio(input_device=f"file:{mic}", output_device=f"file:{speaker}")
    audio.start()
    yield audio
    audio.stop()


def _speaker_file(audio: LocalAudio, path: Path) -> np.ndarray:
    audio.stop()
    return read_wav(path)


def test_file_devices_carry_a_call_both_ways(file_audio: LocalAudio, files: tuple[Path, Path]) -> None:
    assert file_audio.status == "ok" and "file:" in file_audio.reason
    with FakeCall(file_audio, says=1000) as call:
        time.sleep(1.0)
    sent = call.heard()
    assert has_tone(sent[RATE // 5 :], RATE, 700, min_ratio=0.95)          # the mic reached the call
    played = _speaker_file(file_audio, files[1])
    assert has_tone(played[RATE // 5 :], RATE, 1000, min_ratio=0.95)        # the call reached the speaker
    stats = file_audio.stats()
    assert stats.mic_underruns == 0 and stats.speaker_underruns == 0
    assert stats.mic_overruns == 0 and stats.speaker_overruns == 0


def test_the_call_sends_silence_until_the_mic_ring_has_filled(file_audio: LocalAudio) -> None:
    with FakeCall(file_audio) as call:
        time.sleep(0.5)
    first = call.sent[0]
    assert not first.any()                       # priming: 60 ms of silence, never stale audio
    assert call.heard().any()


def test_mute_sends_silence_but_the_mic_meter_still_moves(file_audio: LocalAudio) -> None:
    file_audio.mute(True)
    with FakeCall(file_audio) as call:
        time.sleep(0.5)
        levels = file_audio.levels()
    assert file_audio.muted and not call.heard().any()
    assert levels.mic_dbfs == pytest.approx(-6, abs=1)
    file_audio.mute(False)
    with FakeCall(file_audio) as call:
        time.sleep(0.4)
    assert call.heard().any()


def test_a_tone_plays_over_the_call_audio(file_audio: LocalAudio, files: tuple[Path, Path]) -> None:
    file_audio.play_tone("call_waiting")
    assert file_audio.tone_playing
    with FakeCall(file_audio, says=1000):
        time.sleep(0.5)
    played = _speaker_file(file_audio, files[1])
    burst = played[: int(0.3 * RATE)]
    assert band_energy_ratio(burst, RATE, 440, 30) > 0.02                 # the 440 Hz beep of call waiting
    assert band_energy_ratio(played[RATE // 2 :], RATE, 440, 30) < 0.01   # only 300 ms of it


def test_the_tone_follows_the_region(files: tuple[Path, Path]) -> None:
    audio = LocalAudio(input_device="null", output_device=f"file:{files[1]}", tone_region="cn")
    audio.start()
    audio.play_tone("dial")
    time.sleep(0.5)
    audio.stop_tone()
    assert not audio.tone_playing
    played = _speaker_file(audio, files[1])
    assert has_tone(played[: RATE // 4], RATE, 450, min_ratio=0.95)


def test_key_feedback_plays_its_dtmf_pair_once(files: tuple[Path, Path]) -> None:
    audio = LocalAudio(input_device="null", output_device=f"file:{files[1]}")
    audio.start()
    audio.play_key("5")
    time.sleep(0.4)
    played = _speaker_file(audio, files[1])
    loud = np.flatnonzero(np.abs(played) > 100)
    assert (loud[-1] - loud[0]) / RATE == pytest.approx(0.1, abs=0.01)
    burst = played[loud[0] : loud[-1]]
    assert band_energy_ratio(burst, RATE, 770, 30) + band_energy_ratio(burst, RATE, 1336, 30) > 0.95


def test_volume_scales_the_speaker(files: tuple[Path, Path]) -> None:
    audio = LocalAudio(input_device="null", output_device=f"file:{files[1]}")
    audio.start()
    audio.play_tone("dial")
    time.sleep(0.3)
    full = audio.levels().speaker_dbfs
    audio.set_volume(0.5)
    time.sleep(0.3)
    half = audio.levels().speaker_dbfs
    audio.stop()
    assert audio.volume == 0.5
    assert half - full == pytest.approx(-6.02, abs=0.3)


def test_the_ringtone_rings_on_the_ringer_device_not_the_speaker(tmp_path: Path) -> None:
    speaker, ringer = tmp_path / "speaker.wav", tmp_path / "ringer.wav"
    audio = LocalAudio(input_device="null", output_device=f"file:{speaker}", ringer_device=f"file:{ringer}")
    audio.start()
    assert audio.start_ring("ring3", volume=0.5) is None and audio.ringing
    time.sleep(0.5)
    audio.stop_ring()
    assert not audio.ringing
    assert audio.stats().ringer_device == f"file:{ringer}"
    audio.stop()
    rang, spoke = read_wav(ringer), read_wav(speaker)
    assert has_tone(rang[100:1200], RATE, 1400)
    assert np.abs(rang).max() == pytest.approx(0.5 * 0.5 * 32767, rel=0.05)   # -6 dBFS ringtone at half volume
    assert not spoke.any()


def test_without_a_ringer_device_the_ringtone_uses_the_speaker(files: tuple[Path, Path]) -> None:
    audio = LocalAudio(input_device="null", output_device=f"file:{files[1]}")
    audio.start()
    problem = audio.start_ring(str(files[1].parent / "missing.wav"))
    time.sleep(0.3)
    played = _speaker_file(audio, files[1])
    assert problem is not None and "ring1" in problem
    assert band_energy_ratio(played[: RATE // 4], RATE, 800, 60) > 0.2     # ring1 rang instead


def test_no_sound_device_means_null_audio_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "list_devices", lambda refresh=False: [])
    monkeypatch.setattr(local, "rescan", lambda: None)
    changes: list[tuple[str, str]] = []
    audio = LocalAudio(on_change=lambda status, reason: changes.append((status, reason)))
    audio.start()
    try:
        assert audio.status == "null"
        assert audio.reason == "No sound device: running on null audio."
        assert changes[-1] == ("null", audio.reason)
        with FakeCall(audio, says=1000) as call:               # a call still works, in silence
            time.sleep(0.3)
        assert len(call.sent) >= 10 and not call.heard().any()
        stats = audio.stats()
        assert stats.input_device == "null (wanted default)" and stats.status == "null"
    finally:
        audio.stop()
    assert audio.status == "stopped" and changes[-1][0] == "stopped"


def test_without_portaudio_the_reason_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portaudio, "_sd_module", None)
    monkeypatch.setattr(portaudio, "_sd_problem", "PortAudio is not available (libportaudio.so.2 not found); "
                                                  "install libportaudio2 to use sound devices")
    with LocalAudio() as audio:
        assert audio.status == "null"
        assert audio.reason.startswith("PortAudio is not available") and "install libportaudio2" in audio.reason
        assert audio.reason.endswith(": running on null audio.")


def test_a_missing_named_device_runs_that_side_on_null_and_says_which(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(device, "list_devices", lambda refresh=False: [])
    monkeypatch.setattr(local, "rescan", lambda: None)
    with LocalAudio(input_device="Jabra", output_device=f"file:{files[1]}") as audio:
        assert audio.status == "degraded"
        assert audio.reason == ("There is no input device called 'Jabra': running on null audio for "
                                "the microphone, and trying it again until it is back.")


def test_loopback_plays_the_mic_back_after_the_delay(files: tuple[Path, Path]) -> None:
    mic, speaker = files
    write_wav(mic, np.concatenate([sine(700, 0.2, level_dbfs=-6), np.zeros(RATE, dtype=np.int16)]), RATE)
    audio = LocalAudio(input_device=f"file:{mic}", output_device=f"file:{speaker}")
    audio.start()
    audio.start_loopback(delay_s=0.3)
    time.sleep(0.8)
    audio.stop_loopback()
    played = _speaker_file(audio, speaker)
    loud = np.flatnonzero(np.abs(played) > 1000)
    assert loud[0] / RATE == pytest.approx(0.3, abs=0.06)            # the mic's first burst, 0.3 s late
    assert has_tone(played[loud[0] + 160 : loud[0] + 3000], RATE, 700)


def test_paging_streams_mix_in_under_their_own_names(files: tuple[Path, Path]) -> None:
    audio = LocalAudio(input_device="null", output_device=f"file:{files[1]}")
    audio.start()
    audio.add_stream("paging:224.1.1.1:4009", ToneSource(1200), gain=0.5)
    with pytest.raises(ValueError, match="reserved"):
        audio.add_stream("tone", ToneSource(1200))
    time.sleep(0.3)
    audio.remove_stream("paging:224.1.1.1:4009")
    played = _speaker_file(audio, files[1])
    assert has_tone(played[: RATE // 5], RATE, 1200)


# the real path: PortAudio → ALSA → PulseAudio null sinks


@pytest.fixture
def pulse_audio(pulse: PulseServer) -> Iterator[LocalAudio]:
    audio = LocalAudio(input_device="pulse", output_device="pulse", retry_s=0.5)
    audio.start()
    yield audio
    audio.stop()


def _recorded_tone(pulse: PulseServer, path: Path, proc) -> np.ndarray:
    heard = PulseServer.stop_recording(proc, path)
    loud = np.flatnonzero(np.abs(heard) > 1000)
    assert len(loud) > RATE // 4, "nothing came out of the speaker sink"
    return heard[loud[0] + 1600 : loud[-1] - 1600]


def test_what_the_call_says_comes_out_of_the_speaker_device(
    pulse: PulseServer, pulse_audio: LocalAudio, tmp_path: Path,
) -> None:
    assert pulse_audio.status == "ok", pulse_audio.reason
    recording = pulse.recorder("spk.monitor", tmp_path / "spk.raw")
    with FakeCall(pulse_audio, says=1000):
        time.sleep(1.5)
        stats = pulse_audio.stats()
    played = _recorded_tone(pulse, tmp_path / "spk.raw", recording)
    assert has_tone(played, RATE, 1000, min_ratio=0.98)
    assert stats.output_device == "pulse" and stats.speaker_underruns == 0
    assert 0 < stats.speaker_fill_ms < 200


def test_what_is_played_into_the_mic_reaches_the_call(
    pulse: PulseServer, pulse_audio: LocalAudio, tmp_path: Path,
) -> None:
    wav = tmp_path / "700.wav"
    write_wav(wav, sine(700, 3.0, level_dbfs=-6), RATE)
    player = pulse.play(wav, "mic")
    try:
        with FakeCall(pulse_audio) as call:
            time.sleep(1.5)
            levels = pulse_audio.levels()
    finally:
        player.terminate()
        player.wait(5)
    sent = call.heard()
    loud = np.flatnonzero(np.abs(sent) > 1000)
    assert len(loud) > RATE // 2, "the mic's tone did not reach the call"
    assert has_tone(sent[loud[0] + 800 : loud[-1]], RATE, 700, min_ratio=0.98)
    assert levels.mic_dbfs == pytest.approx(-6, abs=2)
    assert pulse_audio.stats().mic_underruns == 0


def test_a_sound_server_that_dies_mid_call_falls_back_to_null_and_is_used_again(
    pulse: PulseServer, pulse_audio: LocalAudio, tmp_path: Path,
) -> None:
    with FakeCall(pulse_audio, says=1000) as call:
        time.sleep(0.3)
        pulse.stop()                                      # the sound server goes away mid-call
        deadline = time.monotonic() + 5
        while pulse_audio.status != "degraded" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pulse_audio.status == "degraded"
        assert "the speaker device 'pulse' stopped working" in pulse_audio.reason.lower()
        frames_before = len(call.sent)
        time.sleep(0.3)
        assert len(call.sent) >= frames_before + 10       # the call kept its audio clock
        pulse.start()                                     # it comes back
        deadline = time.monotonic() + 6
        while pulse_audio.status != "ok" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pulse_audio.status == "ok", pulse_audio.reason
        recording = pulse.recorder("spk.monitor", tmp_path / "back.raw")
        time.sleep(1.0)
    played = _recorded_tone(pulse, tmp_path / "back.raw", recording)
    assert has_tone(played, RATE, 1000, min_ratio=0.8)    # the call is heard again (a reopen may click)
    assert pulse_audio.stats().device_failures == 2       # microphone and speaker, once each


class FakeBridge:
    """Stands in for the engine's C local port: keeps what is sent, answers receives with a tone."""

    frame_samples = FRAME

    def __init__(self, says: float = 1000):
        self.active = False
        self.says = ToneSource(says, level_dbfs=-6)
        self.sent: list[np.ndarray] = []
        self.tx = np.zeros(FRAME, dtype=np.int16)
        self.rx = np.zeros(FRAME, dtype=np.int16)

    def send(self) -> None:
        if self.active:
            self.sent.append(self.tx.copy())

    def receive(self) -> bool:
        if not self.active:
            return False
        self.rx[:] = self.says.read(FRAME)
        return True


def test_with_the_c_port_the_devices_drive_whole_frames_both_ways(files: tuple[Path, Path]) -> None:
    mic, speaker = files
    audio = LocalAudio(input_device=f"file:{mic}", output_device=f"file:{speaker}")
    bridge, taps = FakeBridge(), {"tx": 0, "rx": 0}
    audio.attach_bridge(bridge, tx_tap=lambda f: taps.__setitem__("tx", taps["tx"] + 1),
                        rx_tap=lambda f: taps.__setitem__("rx", taps["rx"] + 1))
    audio.start()
    time.sleep(0.3)
    assert bridge.sent == []                     # no call joined: the mic is not sent
    bridge.active = True
    time.sleep(1.0)
    played = _speaker_file(audio, speaker)
    sent = np.concatenate(bridge.sent)
    assert 40 <= len(bridge.sent) <= 60 and taps["tx"] == len(bridge.sent) and taps["rx"] >= 40
    assert has_tone(sent[RATE // 10 :], RATE, 700, min_ratio=0.95)
    loud = np.flatnonzero(np.abs(played) > 1000)
    assert has_tone(played[loud[0] :], RATE, 1000, min_ratio=0.95)
    assert audio.stats().bridge_port == "c" and audio.stats().speaker_underruns == 0


def test_with_the_c_port_mute_sends_silence(files: tuple[Path, Path]) -> None:
    mic, speaker = files
    audio = LocalAudio(input_device=f"file:{mic}", output_device=f"file:{speaker}")
    bridge = FakeBridge()
    audio.attach_bridge(bridge)
    bridge.active = True
    audio.mute(True)
    with audio:
        time.sleep(0.5)
    assert len(bridge.sent) > 15 and not np.concatenate(bridge.sent).any()
