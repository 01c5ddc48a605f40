"""Call recording: both sides reach the file, on the right channels, and disk trouble stops it politely."""

from __future__ import annotations

import os
import subprocess
import time
import tracemalloc
import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tuiphone.audio.analysis import band_energy_ratio, has_tone
from tuiphone.audio.recorder import CallRecorder, recording_path
from tuiphone.audio.sources import ToneSource

RATE = 16000
FRAME = 320


def _read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        channels = w.getnchannels()
        assert w.getframerate() == RATE and w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return channels, data.reshape(-1, channels)


def _talk(recorder: CallRecorder, seconds: float, local: float | None, remote: float | None) -> None:
    """Feed both sides as pjmedia would: one frame each per 20 ms tick (here, as fast as it takes)."""
    tx = ToneSource(local) if local else None
    rx = ToneSource(remote) if remote else None
    for _ in range(round(seconds * RATE / FRAME)):
        if tx:
            recorder.tx(tx.read(FRAME))
        if rx:
            recorder.rx(rx.read(FRAME))


def test_stereo_puts_the_local_side_left_and_the_remote_side_right(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = CallRecorder(path, stereo=True)
    _talk(recorder, 2.0, local=440, remote=1000)
    assert recorder.stop() == path
    channels, data = _read_wav(path)
    assert channels == 2 and len(data) == 2 * RATE
    left, right = data[:, 0], data[:, 1]
    assert has_tone(left, RATE, 440, min_ratio=0.95) and band_energy_ratio(left, RATE, 1000) < 0.01
    assert has_tone(right, RATE, 1000, min_ratio=0.95) and band_energy_ratio(right, RATE, 440) < 0.01


def test_mono_mixes_both_sides_into_one_channel(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = CallRecorder(path, stereo=False)
    _talk(recorder, 2.0, local=440, remote=1000)
    recorder.stop()
    channels, data = _read_wav(path)
    mono = data[:, 0]
    assert channels == 1 and len(mono) == 2 * RATE
    assert band_energy_ratio(mono, RATE, 440) > 0.4 and band_energy_ratio(mono, RATE, 1000) > 0.4


def test_a_side_that_sends_nothing_is_recorded_as_silence_in_step(tmp_path: Path) -> None:
    path = tmp_path / "muted.wav"
    recorder = CallRecorder(path, stereo=True)
    _talk(recorder, 1.5, local=None, remote=700)       # we were muted the whole call
    recorder.stop()
    _, data = _read_wav(path)
    assert len(data) == int(1.5 * RATE)
    assert not data[:, 0].any() and has_tone(data[:, 1], RATE, 700)


def test_taps_record_what_the_call_sends_and_hears_and_pass_it_on(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "tap.wav", stereo=True)
    mic = recorder.tx_tap(ToneSource(500))
    sink = recorder.rx_sink
    sent = []
    for _ in range(50):
        sent.append(mic.read(FRAME))
        sink.write(np.full(FRAME, 1234, dtype=np.int16))
    recorder.stop()
    _, data = _read_wav(tmp_path / "tap.wav")
    assert np.array_equal(data[:, 0], np.concatenate(sent))
    assert (data[:, 1] == 1234).all()


def test_a_long_call_streams_to_disk_with_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    recorder = CallRecorder(path, stereo=True)
    tx, rx = ToneSource(300), ToneSource(600)
    tracemalloc.start()
    try:
        for _second in range(60):                       # a minute of call, paced by the disk
            for _ in range(RATE // FRAME):
                recorder.tx(tx.read(FRAME))
                recorder.rx(rx.read(FRAME))
            while recorder.backlog_s > 2:                # let the writer catch up, as real time would
                time.sleep(0.01)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    recorder.stop()
    assert recorder.dropped == 0
    assert os.path.getsize(path) == 44 + 60 * RATE * 4               # the whole minute is on disk
    assert peak < 2_000_000, f"recording held {peak} bytes; it should stream"


def test_a_full_disk_stops_the_recording_and_reports_it_once() -> None:
    errors: list[str] = []
    recorder = CallRecorder("/dev/full", stereo=True, on_error=errors.append)
    deadline = time.monotonic() + 5
    while recorder.active and time.monotonic() < deadline:
        _talk(recorder, 0.5, local=440, remote=880)       # the call goes on, never raising
        time.sleep(0.05)
    assert not recorder.active
    assert recorder.stop() is None
    assert len(errors) == 1 and "No space left on device" in errors[0] and "call goes on" in errors[0]
    recorder.tx(np.zeros(FRAME, dtype=np.int16))          # later frames are simply ignored


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write to — for root too (a read-only tmpfs), which ignores file modes."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], check=False,
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_folder_gives_the_error_callback_not_an_exception(read_only_dir: Path) -> None:
    errors: list[str] = []
    recorder = CallRecorder(read_only_dir / "rec" / "call.wav", on_error=errors.append)
    recorder.tx(np.zeros(FRAME, dtype=np.int16))
    recorder.rx(np.zeros(FRAME, dtype=np.int16))
    assert recorder.stop() is None
    assert len(errors) == 1 and errors[0] == recorder.error
    assert str(read_only_dir) in errors[0] and "record_dir" in errors[0]
    assert not recorder.active


def test_file_names_carry_date_time_line_and_remote_number(tmp_path: Path) -> None:
    when = datetime(2025, 1, 31, 14, 22, 33)
    first = recording_path(tmp_path, 2, "5551234", when)
    assert first == tmp_path / "20250131-142233_line2_5551234.wav"
    first.touch()
    assert recording_path(tmp_path, 2, "5551234", when).name == "20250131-142233_line2_5551234-2.wav"
    odd = recording_path(tmp_path, 1, "sip:Alice Smith/../x@example.com", when).name
    assert odd == "20250131-142233_line1_Alice_Smith_.._x@example.com.wav" and "/" not in odd
    assert recording_path(tmp_path, 3, "", when).name.endswith("_line3_unknown.wav")
