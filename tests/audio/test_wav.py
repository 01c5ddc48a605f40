"""WAV files: any PCM/float WAV read as 16 kHz mono, written in one go or streamed."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from tuiphone.audio.analysis import dominant_frequency, has_tone
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import WavError, WavWriter, read_wav, wav_info, write_wav


def _riff(path: Path, fmt_tag: int, channels: int, rate: int, bits: int, data: bytes,
          extensible: bool = False, declared_size: int | None = None) -> Path:
    """Write a WAV by hand, for the encodings the stdlib `wave` module cannot write."""
    align = channels * bits // 8
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * align, align, bits, 22, bits, 0)
        fmt += struct.pack("<H", fmt_tag) + guid_tail
    else:
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * align, align, bits)
    size = len(data) if declared_size is None else declared_size
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # an odd-sized chunk to skip
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", size) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_16bit_mono_at_the_phone_rate_round_trips_exactly(tmp_path: Path) -> None:
    tone = sine(440, 0.25)
    write_wav(tmp_path / "t.wav", tone, 16000)
    assert np.array_equal(read_wav(tmp_path / "t.wav"), tone)
    info = wav_info(tmp_path / "t.wav")
    assert (info.rate, info.channels, info.bits, info.encoding, info.frames) == (16000, 1, 16, "pcm", 4000)


def test_8khz_stereo_file_is_downmixed_and_resampled(tmp_path: Path) -> None:
    left, right = sine(500, 1.0, rate=8000), sine(500, 1.0, rate=8000)
    write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), 8000, channels=2)
    samples = read_wav(tmp_path / "s.wav", rate=16000)
    assert samples.dtype == np.int16 and samples.ndim == 1
    assert len(samples) == 16000
    assert has_tone(samples, 16000, 500)


def test_24bit_extensible_file_reads_its_values(tmp_path: Path) -> None:
    values = [0, 0x400000, -0x400000, 0x7FFFFF, -0x800000]  # 0, +half, -half, max, min
    data = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    _riff(tmp_path / "x.wav", 1, 1, 16000, 24, data, extensible=True)
    assert read_wav(tmp_path / "x.wav").tolist() == [0, 16384, -16384, 32767, -32768]


@pytest.mark.parametrize(
    ("tag", "bits", "data"),
    [
        (1, 8, bytes([128, 192, 64])),
        (1, 32, struct.pack("<3i", 0, 1 << 30, -(1 << 30))),
        (3, 32, struct.pack("<3f", 0.0, 0.5, -0.5)),
        (3, 64, struct.pack("<3d", 0.0, 0.5, -0.5)),
    ],
)
def test_8bit_32bit_and_float_files_read_at_full_scale(tmp_path: Path, tag: int, bits: int, data: bytes) -> None:
    _riff(tmp_path / "x.wav", tag, 1, 16000, bits, data)
    assert read_wav(tmp_path / "x.wav").tolist() == [0, 16384, -16384]


def test_recording_cut_short_reads_what_is_there(tmp_path: Path) -> None:
    data = np.arange(100, dtype="<i2").tobytes()
    _riff(tmp_path / "cut.wav", 1, 1, 16000, 16, data, declared_size=0xFFFFFFFF)
    assert read_wav(tmp_path / "cut.wav").tolist() == list(range(100))


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p / "missing.wav", "There is no WAV file at"),
        (lambda p: p, "is a folder, not a WAV file"),
        (lambda p: (p / "a.mp3").write_bytes(b"ID3\x03" + bytes(100)) and p / "a.mp3", "is not a WAV file"),
        (lambda p: _riff(p / "u.wav", 7, 1, 8000, 8, bytes(10)), "is µ-law encoded"),
        (lambda p: _riff(p / "f.wav", 3, 1, 8000, 16, bytes(10)), "16-bit float"),
        (lambda p: (p / "h.wav").write_bytes(b"RIFF\x04\x00\x00\x00WAVE") and p / "h.wav", "has no fmt chunk"),
    ],
)
def test_unreadable_files_are_refused_with_a_sentence(tmp_path: Path, make, says: str) -> None:
    with pytest.raises(WavError) as refused:
        read_wav(make(tmp_path))
    assert says in str(refused.value)


def test_writer_streams_frames_and_fixes_the_header_on_close(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    tone = sine(1000, 0.5)
    with WavWriter(path, 16000) as writer:
        for start in range(0, len(tone), 320):
            writer.write(tone[start : start + 320])
    assert writer.seconds == pytest.approx(0.5)
    with wave.open(str(path)) as check:  # any WAV reader agrees on the header
        assert (check.getnframes(), check.getframerate(), check.getnchannels()) == (8000, 16000, 1)
    assert np.array_equal(read_wav(path), tone)
    writer.close()  # closing twice is harmless
    with pytest.raises(ValueError):
        writer.write(tone[:320])


def test_recording_interrupted_mid_call_still_holds_its_audio(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    writer = WavWriter(path, 16000)
    tone = sine(800, 1.5)
    for start in range(0, len(tone), 320):
        writer.write(tone[start : start + 320])
    # Read while the writer is still open, as after a crash: the header was patched at 1 s.
    partial = read_wav(path)
    assert len(partial) >= 16000
    assert dominant_frequency(partial, 16000) == pytest.approx(800, abs=1)
    writer.close()
    assert len(read_wav(path)) == 24000


def test_stereo_writer_takes_local_and_remote_side_by_side(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    local, remote = sine(400, 0.2), sine(1200, 0.2)
    with WavWriter(path, 16000, channels=2) as writer:
        writer.write(np.stack([local, remote], axis=1))
        with pytest.raises(ValueError):
            writer.write(np.zeros((10, 3), dtype=np.int16))
    assert wav_info(path).channels == 2
    with wave.open(str(path)) as check:
        frames = np.frombuffer(check.readframes(check.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.array_equal(frames[:, 0], local) and np.array_equal(frames[:, 1], remote)


def test_writing_where_one_cannot_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(WavError, match="folder does not exist"):
        write_wav(tmp_path / "no" / "such" / "dir.wav", sine(440, 0.1), 16000)
