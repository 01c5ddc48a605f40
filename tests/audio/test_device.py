"""Sound devices: config values resolve to the right device, rates are converted at the edge,
null and file endpoints keep time, and a real PortAudio → PulseAudio path plays and records."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.audio.pulse import PulseServer
from tuiphone.audio import device, portaudio
from tuiphone.audio.analysis import dominant_frequency, has_tone
from tuiphone.audio.device import (
    DeviceChoice,
    DeviceInfo,
    DeviceProblem,
    InputAdapter,
    OutputAdapter,
    list_devices,
    negotiate,
    open_input,
    open_output,
    portaudio_problem,
    resolve,
)
from tuiphone.audio.sources import ToneSource, sine
from tuiphone.audio.wav import read_wav, write_wav

RATE = 16000


def test_config_values_name_a_kind_of_device() -> None:
    assert DeviceChoice.parse("default") == DeviceChoice("default")
    assert DeviceChoice.parse("") == DeviceChoice("default")
    assert DeviceChoice.parse("null") == DeviceChoice("null")
    assert DeviceChoice.parse("file:/tmp/in.wav") == DeviceChoice("file", "/tmp/in.wav")
    assert DeviceChoice.parse(3) == DeviceChoice("index", "3")
    assert DeviceChoice.parse("USB Headset") == DeviceChoice("name", "USB Headset")
    assert str(DeviceChoice.parse("file:/x.wav")) == "file:/x.wav"


_FAKE = [
    DeviceInfo(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", "ALSA", 2, 2, 48000.0),
    DeviceInfo(1, "HDA Intel PCH: HDMI 0 (hw:0,3)", "ALSA", 0, 8, 48000.0),
    DeviceInfo(2, "Jabra Evolve 40: USB Audio (hw:1,0)", "ALSA", 1, 2, 16000.0),
    DeviceInfo(3, "pulse", "ALSA", 32, 32, 44100.0),
]


@pytest.fixture
def fake_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "list_devices", lambda refresh=False: list(_FAKE))


@pytest.mark.usefixtures("fake_devices")
def test_a_device_is_found_by_full_name_unique_part_or_index() -> None:
    assert resolve(DeviceChoice.parse("pulse"), "output") == 3
    assert resolve(DeviceChoice.parse("jabra"), "input") == 2
    assert resolve(DeviceChoice.parse("HDMI"), "output") == 1
    assert resolve(DeviceChoice.parse("2"), "input") == 2
    assert resolve(DeviceChoice.parse("default"), "output") is None


@pytest.mark.usefixtures("fake_devices")
@pytest.mark.parametrize(("spec", "direction", "says"), [
    ("HDMI", "input", "there is no input device called 'HDMI'"),        # HDMI has no mic
    ("HDA Intel", "output", "matches several output devices"),
    ("7", "output", "there is no output device number 7"),
    ("1", "input", "there is no input device number 1"),
])
def test_a_device_that_is_not_there_is_explained(spec: str, direction: str, says: str) -> None:
    with pytest.raises(DeviceProblem, match=says):
        resolve(DeviceChoice.parse(spec), direction)  # type: ignore[arg-type]


def test_default_with_no_devices_says_there_is_no_sound_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "list_devices", lambda refresh=False: [])
    with pytest.raises(DeviceProblem, match="no sound device has a speaker"):
        resolve(DeviceChoice("default"), "output")


def test_without_portaudio_there_are_no_devices_and_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portaudio, "_sd_module", None)
    monkeypatch.setattr(portaudio, "_sd_problem", "PortAudio is not available (no libportaudio.so.2); "
                                                  "install libportaudio2 to use sound devices")
    assert list_devices() == []
    assert "install libportaudio2" in (portaudio_problem() or "")
    with pytest.raises(DeviceProblem, match="no sound device"):
        open_output("default", lambda buf: None)


def _stream_out(adapter: OutputAdapter, sizes: list[int], channels: int) -> np.ndarray:
    chunks = []
    for size in sizes:
        buf = np.zeros((size, channels), dtype=np.int16)
        adapter.fill(buf)
        chunks.append(buf)
    return np.concatenate(chunks)


def test_a_48k_device_gets_our_16k_audio_resampled_with_no_seams_in_any_buffer_size() -> None:
    tone = ToneSource(1000)
    adapter = OutputAdapter(lambda buf: buf.__setitem__(slice(None), tone.read(len(buf))), 48000)
    sizes = [441, 1024, 139, 960, 7, 2048] * 20
    out = _stream_out(adapter, sizes, channels=2)
    assert out.shape == (sum(sizes), 2) and np.array_equal(out[:, 0], out[:, 1])
    body = out[4800:, 0]
    assert has_tone(body, 48000, 1000, min_ratio=0.99)
    # a seam between buffers would be a step far steeper than the tone's own
    steepest = 32767 * 10 ** (-12 / 20) * 2 * np.pi * 1000 / 48000
    assert np.abs(np.diff(body.astype(int))).max() < steepest * 1.1


def test_a_16k_device_is_filled_straight_from_the_pull() -> None:
    adapter = OutputAdapter(lambda buf: buf.__setitem__(slice(None), 5), RATE)
    out = np.zeros(100, dtype=np.int16)
    adapter.fill(out)
    assert (out == 5).all()


def test_a_44k_stereo_mic_arrives_as_16k_mono() -> None:
    got: list[np.ndarray] = []
    adapter = InputAdapter(lambda frame: got.append(frame.copy()), 44100)
    tone = sine(700, 2.0, rate=44100)
    stereo = np.stack([tone, tone], axis=1)
    for start in range(0, len(stereo), 441):
        adapter.feed(stereo[start : start + 441])
    mono = np.concatenate(got)
    assert mono.dtype == np.int16 and len(mono) == pytest.approx(2 * RATE, abs=200)
    assert has_tone(mono[1600:], RATE, 700, min_ratio=0.99)


def test_null_endpoints_keep_a_20_ms_clock() -> None:
    pulls: list[int] = []
    pushes: list[np.ndarray] = []
    out = open_output("null", lambda buf: pulls.append(len(buf)))
    inp = open_input("null", pushes.append)
    time.sleep(0.5)
    out.close()
    inp.close()
    assert 15 <= len(pulls) <= 30 and set(pulls) == {320}         # 25 ticks, give or take a busy box
    assert 15 <= len(pushes) <= 30 and not any(p.any() for p in pushes)
    assert out.describe() == "null" and out.alive()


def test_a_file_mic_plays_the_wav_round_and_round_in_real_time(tmp_path: Path) -> None:
    path = tmp_path / "mic.wav"
    write_wav(path, sine(700, 0.1, rate=8000), 8000)        # 100 ms at 8 kHz: resampled and looped
    pushes: list[np.ndarray] = []
    mic = open_input(f"file:{path}", lambda frame: pushes.append(frame.copy()))
    time.sleep(0.45)
    mic.close()
    heard = np.concatenate(pushes)
    assert 18 <= len(pushes) <= 25
    assert has_tone(heard, RATE, 700, min_ratio=0.95)
    assert mic.describe() == f"file:{path}"


def test_a_file_speaker_records_what_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "spk.wav"
    tone = ToneSource(1000)
    spk = open_output(f"file:{path}", lambda buf: buf.__setitem__(slice(None), tone.read(len(buf))))
    time.sleep(0.4)
    spk.close()
    written = read_wav(path)
    assert len(written) == pytest.approx(0.4 * RATE, abs=1600)
    assert has_tone(written, RATE, 1000, min_ratio=0.99)


@pytest.mark.parametrize(("spec", "says"), [
    ("file:/nowhere/in.wav", "There is no WAV file at /nowhere/in.wav"),
])
def test_a_file_mic_that_cannot_be_read_is_a_device_problem(spec: str, says: str) -> None:
    with pytest.raises(DeviceProblem, match=says):
        open_input(spec, lambda frame: None)


def test_a_file_speaker_in_a_missing_folder_is_a_device_problem() -> None:
    with pytest.raises(DeviceProblem, match="does not exist"):
        open_output("file:/nowhere/out.wav", lambda buf: None)


# the real path: PortAudio → ALSA → PulseAudio null sinks


def test_devices_of_a_sound_server_started_after_import_are_found(pulse: PulseServer) -> None:
    names = [d.name for d in list_devices(refresh=True)]
    assert "pulse" in names and "default" in names
    assert negotiate(resolve(DeviceChoice("name", "pulse"), "output"), "output", 16000) == (16000, 1)


def test_a_device_opened_at_48k_plays_our_tone_at_its_pitch(pulse: PulseServer, tmp_path: Path) -> None:
    list_devices(refresh=True)
    tone = ToneSource(1000)
    recording = pulse.recorder("spk.monitor", tmp_path / "spk.raw")
    time.sleep(0.1)
    spk = open_output("pulse", lambda buf: buf.__setitem__(slice(None), tone.read(len(buf))), rate=48000)
    try:
        assert spk.describe() == "pulse at 48000 Hz" and spk.kind == "device"
        time.sleep(1.0)
        assert spk.alive() and spk.callbacks > 20
    finally:
        spk.close()
    heard = PulseServer.stop_recording(recording, tmp_path / "spk.raw")
    loud = heard[np.abs(heard) > 1000]
    assert len(loud) > RATE // 4, "the tone did not come out of the sink"
    start = np.flatnonzero(np.abs(heard) > 1000)[0]
    assert dominant_frequency(heard[start + 800 : start + 8800], RATE) == pytest.approx(1000, abs=3)


def test_the_device_list_is_not_refreshed_under_an_open_stream(pulse: PulseServer) -> None:
    list_devices(refresh=True)
    spk = open_output("pulse", lambda buf: buf.fill(0))
    try:
        assert not device.rescan()                 # it would cut the stream
        assert "pulse" in [d.name for d in list_devices(refresh=True)]
        time.sleep(0.3)
        assert spk.alive()
    finally:
        spk.close()
    assert device.rescan()


def test_a_device_mic_hears_what_is_played_into_its_source(pulse: PulseServer, tmp_path: Path) -> None:
    list_devices(refresh=True)
    wav = tmp_path / "700.wav"
    write_wav(wav, sine(700, 2.0, level_dbfs=-6), RATE)
    got: list[np.ndarray] = []
    lock = threading.Lock()

    def push(frame: np.ndarray) -> None:
        with lock:
            got.append(frame.copy())

    mic = open_input("pulse", push)
    player = pulse.play(wav, "mic")
    try:
        time.sleep(1.2)
        assert mic.alive()
    finally:
        mic.close()
        player.terminate()
        player.wait(5)
    heard = np.concatenate(got)
    loud = heard[np.abs(heard) > 1000]
    assert len(loud) > RATE // 4, "nothing played into the mic sink reached the input stream"
    start = np.flatnonzero(np.abs(heard) > 1000)[0]
    assert has_tone(heard[start + 800 : start + 8800], RATE, 700, min_ratio=0.9)
