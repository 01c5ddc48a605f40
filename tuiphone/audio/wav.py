"""WAV files in and out: any PCM or float WAV read as 16-bit mono at the phone's rate;
16-bit PCM written, in one go or streamed frame by frame.

The reader parses the RIFF chunks itself (the stdlib `wave` module refuses float and
WAVE_FORMAT_EXTENSIBLE files, which is how most 24-bit and float WAVs are written).
"""

from __future__ import annotations

import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tuiphone.audio.resample import resample

__all__ = ["WavError", "WavFormat", "WavWriter", "read_wav", "wav_info", "write_wav"]

_PCM, _FLOAT, _ALAW, _ULAW, _EXTENSIBLE = 0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE
_CONVERT_HINT = "convert it to 16-bit PCM, e.g. `sox IN -b 16 -e signed-integer OUT.wav`"


class WavError(ValueError):
    """A WAV file that cannot be read or written; str() is a sentence for the user."""


@dataclass(frozen=True)
class WavFormat:
    """What a WAV file holds: rate (Hz), channels, bits per sample, "pcm" or "float", frames."""

    rate: int
    channels: int
    bits: int
    encoding: str
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def _os_error(path: Path, err: OSError, verb: str = "read") -> WavError:
    if isinstance(err, FileNotFoundError) and verb == "write":
        return WavError(f"Cannot write {path}: its folder does not exist; create it or choose another path.")
    if isinstance(err, FileNotFoundError):
        return WavError(f"There is no WAV file at {path}: check the path.")
    if isinstance(err, IsADirectoryError):
        return WavError(f"{path} is a folder, not a WAV file: give the path of a .wav file.")
    if isinstance(err, PermissionError):
        return WavError(f"Cannot {verb} {path}: permission denied; check the file's permissions.")
    return WavError(f"Cannot {verb} {path}: {err.strerror or err}.")


def _fmt_chunk(path: Path, body: bytes) -> tuple[int, int, int, int]:
    """(encoding tag, channels, rate, bits) from a fmt chunk; extensible resolved to its subformat."""
    if len(body) < 16:
        raise WavError(f"{path} is damaged: its fmt chunk is too short.")
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 26:
            raise WavError(f"{path} is damaged: its extensible fmt chunk is too short.")
        tag = struct.unpack_from("<H", body, 24)[0]  # first two bytes of the SubFormat GUID
    return tag, channels, rate, bits


def _check_format(path: Path, tag: int, channels: int, rate: int, bits: int) -> str:
    if tag in (_ALAW, _ULAW):
        law = "A-law" if tag == _ALAW else "µ-law"
        raise WavError(f"{path} is {law} encoded, which tuiphone does not read: {_CONVERT_HINT}.")
    if tag == _PCM and bits in (8, 16, 24, 32):
        encoding = "pcm"
    elif tag == _FLOAT and bits in (32, 64):
        encoding = "float"
    else:
        kind = "float" if tag == _FLOAT else "PCM" if tag == _PCM else f"format {tag:#06x}"
        raise WavError(f"{path} is {bits}-bit {kind}, which tuiphone does not read: {_CONVERT_HINT}.")
    if channels < 1 or rate < 1:
        raise WavError(f"{path} is damaged: it says {channels} channels at {rate} Hz.")
    return encoding


def _locate(path: Path, f: BinaryIO) -> tuple[WavFormat, int, int]:
    """Find the format and the data chunk: (format, data offset, data bytes)."""
    size = os.fstat(f.fileno()).st_size
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavError(f"{path} is not a WAV file (no RIFF/WAVE header): {_CONVERT_HINT}.")
    fmt: tuple[int, int, int, int] | None = None
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:
            raise WavError(f"{path} is damaged: it has no {'data' if fmt else 'fmt'} chunk.")
        chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if chunk_id == b"fmt ":
            fmt = _fmt_chunk(path, f.read(chunk_size))
            f.seek(chunk_size & 1, os.SEEK_CUR)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavError(f"{path} is damaged: its data comes before its fmt chunk.")
            break
        else:
            f.seek(chunk_size + (chunk_size & 1), os.SEEK_CUR)
    tag, channels, rate, bits = fmt
    encoding = _check_format(path, tag, channels, rate, bits)
    offset = f.tell()
    # A recording cut short (or streamed with a placeholder size) holds less than it says.
    available = min(chunk_size, size - offset)
    block = channels * bits // 8
    frames = available // block
    return WavFormat(rate, channels, bits, encoding, frames), offset, frames * block


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as err:
        raise _os_error(path, err) from None


def wav_info(path: str | os.PathLike[str]) -> WavFormat:
    """The format of a WAV file, without reading its samples."""
    path = Path(path)
    with _open(path) as f:
        return _locate(path, f)[0]


def _decode(raw: bytes, fmt: WavFormat) -> np.ndarray:
    """Raw little-endian sample bytes → float32 in [-1, 1], shape (frames, channels)."""
    if fmt.encoding == "float":
        x = np.frombuffer(raw, dtype="<f4" if fmt.bits == 32 else "<f8").astype(np.float32)
        np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        x = np.clip(x, -1.0, 1.0)
    elif fmt.bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif fmt.bits == 16:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif fmt.bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        # Put the three bytes in the top of an int32 so the sign comes along, then shift down.
        ints = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)) >> 8
        x = ints.astype(np.float32) / 8388608.0
    else:
        x = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    return x.reshape(-1, fmt.channels)


def _to_int16(x: np.ndarray) -> np.ndarray:
    """int16 kept as is; floats (full scale ±1.0) rounded and clipped; other ints refused."""
    x = np.asarray(x)
    if x.dtype == np.int16:
        return x
    if np.issubdtype(x.dtype, np.floating):
        return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)
    raise TypeError(f"audio samples must be int16 or float, not {x.dtype}")


def read_wav(path: str | os.PathLike[str], rate: int = 16000) -> np.ndarray:
    """Read a WAV file as int16 mono at `rate`: channels averaged, resampled when needed.

    Reads 8/16/24/32-bit PCM and 32/64-bit float, plain or WAVE_FORMAT_EXTENSIBLE.
    Raises WavError with a sentence for a missing, unreadable or unsupported file.
    """
    path = Path(path)
    with _open(path) as f:
        fmt, offset, nbytes = _locate(path, f)
        f.seek(offset)
        raw = f.read(nbytes)
    if fmt.encoding == "pcm" and fmt.bits == 16 and fmt.channels == 1 and fmt.rate == rate:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    x = _decode(raw[: len(raw) - len(raw) % (fmt.channels * fmt.bits // 8)], fmt)
    mono = x[:, 0] if fmt.channels == 1 else x.mean(axis=1, dtype=np.float32)
    return _to_int16(resample(mono, fmt.rate, rate))


class WavWriter:
    """Streams int16 frames to a 16-bit PCM WAV file with flat memory.

    The header is fixed up on close, and about once a second of audio on the way, so a
    recording cut short by a crash still opens with nearly all of its sound.
    Stereo frames are (n, 2) arrays or interleaved 1-D arrays.
    """

    def __init__(self, path: str | os.PathLike[str], rate: int, channels: int = 1):
        if rate < 1 or channels < 1:
            raise ValueError(f"a WAV file needs a positive rate and channel count, not {rate}/{channels}")
        self.path = Path(path)
        self.rate = rate
        self.channels = channels
        self.frames_written = 0
        self._unpatched = 0
        try:
            self._file = open(self.path, "wb")  # ours to close: wave leaves passed-in files open
        except OSError as err:
            raise _os_error(self.path, err, "write") from None
        self._wave: wave.Wave_write | None = wave.open(self._file, "wb")
        self._wave.setnchannels(channels)
        self._wave.setsampwidth(2)
        self._wave.setframerate(rate)

    @property
    def seconds(self) -> float:
        return self.frames_written / self.rate

    def write(self, frame: np.ndarray) -> None:
        """Append samples (int16, or float at full scale ±1.0)."""
        if self._wave is None:
            raise ValueError(f"the WAV writer for {self.path} is closed")
        samples = _to_int16(frame)
        if samples.size % self.channels or (samples.ndim == 2 and samples.shape[1] != self.channels):
            raise ValueError(f"a {self.channels}-channel WAV needs frames of {self.channels} samples")
        try:
            self._wave.writeframesraw(np.ascontiguousarray(samples, dtype="<i2").tobytes())
            frames = samples.size // self.channels
            self.frames_written += frames
            self._unpatched += frames
            if self._unpatched >= self.rate:
                self._wave.writeframes(b"")  # the stdlib patches the header when counts differ
                self._unpatched = 0
        except OSError as err:
            raise _os_error(self.path, err, "write") from None

    def close(self) -> None:
        """Fix up the header and close the file; closing twice is fine."""
        if self._wave is not None:
            wave_file, self._wave = self._wave, None
            try:
                try:
                    wave_file.close()
                finally:
                    self._file.close()
            except OSError as err:
                raise _os_error(self.path, err, "write") from None

    def __del__(self) -> None:
        # A writer dropped without close() still leaves a whole file, with a right header.
        if getattr(self, "_wave", None) is not None:
            try:
                self.close()
            except WavError:
                pass

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, rate: int, channels: int = 1) -> None:
    """Write samples (int16, or float at full scale ±1.0) to a 16-bit PCM WAV file."""
    with WavWriter(path, rate, channels) as writer:
        writer.write(samples)
