"""What a call under load sends and how what it hears is checked, at a cost per second, not per frame.

What a call sends is one loop of samples (a second of tone, the --play file, or silence) written once to a
WAV file that pjmedia's player sends over and over; what it hears pjmedia writes to a WAV file of its own
(engine/sip/load_media.py), so pjmedia's clock runs no Python for the call. Once a second the worker reads
what that file has grown by (`WavTail`) into the analyser, which copies it into a preallocated one-second
block and runs one FFT per full block (numpy), adding the block's power spectrum to the call's total. At the
end of the call the total gives the dominant frequency and its share of the energy, and the blocks' levels
say whether the far end was silent.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuiphone.audio.wav import write_wav

RATE = 16000
NARROWBAND = ("PCMU", "PCMA", "G729", "GSM", "ILBC")      # 8 kHz codecs


def bridge_rate(codecs: list[str] | tuple[str, ...]) -> int:
    """The conference bridge's rate for a worker whose first codec is `codecs[0]`: 8000 for G.711 and the other
    8 kHz codecs, so pjmedia resamples none of those calls (resampling costs more CPU than the rest of the
    call's audio together), else 16000."""
    return 8000 if codecs and codecs[0].upper() in NARROWBAND else 16000
SILENCE_DBFS = -50.0             # a block quieter than this is silence
TONE_TOLERANCE_HZ = 15.0         # what the far end sends must be this close to the expected tone
MIN_SHARE = 0.5                  # and hold at least this share of the energy heard
SKIP_BLOCKS = 0                  # blocks before the check counts (the first second includes the answer)


class LoopedTone:
    """An endless tone from one preallocated buffer: `read(n)` returns a view, never computes a sine.

    The buffer holds a whole number of periods (one second for whole-Hz tones), so the loop joins cleanly."""

    def __init__(self, freq_hz: float, level_dbfs: float = -12.0, rate: int = RATE):
        amplitude = 32767 * 10 ** (level_dbfs / 20)
        periods = max(1, round(freq_hz))                  # ~1 s of whole periods
        n = round(periods * rate / freq_hz)
        t = np.arange(n + 4 * 320, dtype=np.float64)      # + spare frames so a read never wraps
        self._buf = np.rint(amplitude * np.sin(2 * math.pi * freq_hz * t / rate)).astype(np.int16)
        self._period = n
        self._pos = 0

    def loop(self) -> np.ndarray:
        """The samples of one whole loop (what a player repeats)."""
        return self._buf[: self._period]

    def read(self, n_samples: int) -> np.ndarray:
        if n_samples > len(self._buf) - self._period:
            out = np.resize(np.roll(self._buf[: self._period], -self._pos), n_samples)
        else:
            out = self._buf[self._pos: self._pos + n_samples]
        self._pos = (self._pos + n_samples) % self._period
        return out


class Silence:
    def __init__(self) -> None:
        self._zeros = np.zeros(320, dtype=np.int16)

    def read(self, n_samples: int) -> np.ndarray:
        return self._zeros if n_samples == len(self._zeros) else np.zeros(n_samples, dtype=np.int16)


@dataclass
class Heard:
    """What a call heard, summed over its full blocks."""
    seconds: int
    silent_seconds: int
    level_dbfs: float
    dominant_hz: float | None
    share: float

    def to_json(self) -> dict:
        return {"heard_s": self.seconds, "silent_s": self.silent_seconds, "rx_level_dbfs": round(self.level_dbfs, 1),
                "dominant_hz": None if self.dominant_hz is None else round(self.dominant_hz, 1),
                "dominant_share": round(self.share, 3)}


class BlockAnalyser:
    """A frame sink: keeps one second of received audio, analyses it when full (pjmedia's clock thread)."""

    def __init__(self, skip_blocks: int = SKIP_BLOCKS, rate: int = RATE) -> None:
        self.rate = rate
        self._block = np.zeros(rate, dtype=np.int16)        # 1 s: 1 Hz bins
        self._fill = 0
        self._spectrum = np.zeros(rate // 2 + 1, dtype=np.float64)
        self._window = np.hanning(rate)
        self._skip = skip_blocks
        self.blocks = 0
        self.silent = 0
        self._energy = 0.0

    def write(self, frame: np.ndarray) -> None:
        """Samples heard, any number at once (a 20 ms frame, or what a WavTail read)."""
        while len(frame):
            room = len(self._block) - self._fill
            n = min(room, len(frame))
            self._block[self._fill: self._fill + n] = frame[:n]
            self._fill += n
            frame = frame[n:]
            if self._fill == len(self._block):
                self._analyse()
                self._fill = 0

    def _analyse(self) -> None:
        if self._skip > 0:
            self._skip -= 1
            return
        x = self._block.astype(np.float64)
        ms = float(np.mean(x * x))
        self.blocks += 1
        self._energy += ms
        if 10 * math.log10(ms / 32768.0 ** 2 + 1e-12) < SILENCE_DBFS:
            self.silent += 1
            return
        spec = np.abs(np.fft.rfft(x * self._window)) ** 2
        self._spectrum += spec

    def result(self) -> Heard:
        ms = self._energy / self.blocks if self.blocks else 0.0
        level = 10 * math.log10(ms / 32768.0 ** 2 + 1e-12) if self.blocks else -120.0
        spec = self._spectrum.copy()
        spec[:20] = 0.0                                  # DC and rumble
        total = float(spec.sum())
        if total <= 0.0:
            return Heard(self.blocks, self.silent, level, None, 0.0)
        peak = int(np.argmax(spec))
        band = spec[max(0, peak - 5): peak + 6].sum()    # the peak with the window's spread
        return Heard(self.blocks, self.silent, level, float(peak), float(band / total))   # 1 Hz bins


def tone_verdict(heard: Heard, expect_hz: float, what: str = "tone") -> str | None:
    """Why the call fails the tone check (a short reason), or None when it passes."""
    if heard.seconds == 0:
        return "no audio heard (call too short for a 1 s block)"
    if heard.silent_seconds == heard.seconds:
        return "silence: nothing audible from the far end (one-way audio)"
    if heard.dominant_hz is None or abs(heard.dominant_hz - expect_hz) > TONE_TOLERANCE_HZ:
        got = "none" if heard.dominant_hz is None else f"{heard.dominant_hz:.0f} Hz"
        return f"wrong {what}: heard {got}, expected {expect_hz:g} Hz"
    if heard.share < MIN_SHARE:
        return f"{what} too weak: {expect_hz:g} Hz is {heard.share:.0%} of what was heard"
    return None


def write_loop(path: str | os.PathLike[str], samples: np.ndarray, rate: int = RATE) -> str:
    """One loop of what calls send, as the mono WAV file a pjmedia player repeats (at the bridge's rate, so
    the bridge does not resample it); returns the path."""
    if len(samples) < rate // 50:
        samples = np.resize(samples if len(samples) else np.zeros(1, dtype=np.int16), rate // 50)
    write_wav(path, np.asarray(samples, dtype=np.int16), rate)
    return str(path)


WAV_HEADER = 44                  # pjmedia's WAV writer: RIFF, fmt and data headers, 16-bit PCM


class WavTail:
    """Reads a WAV file that pjmedia is still writing, from where the last read stopped (16-bit mono samples).

    `switch(path)` follows a new file (the recorder was replaced by one writing there); the old one is read
    to its end on the next read, then closed. Files the worker made only to hear the call (`temporary`) are
    unlinked as soon as they are open, so nothing is left behind however the worker ends."""

    def __init__(self, path: str, temporary: bool):
        self.temporary = temporary
        self._files: list[tuple[str, int | None, int]] = [(path, None, WAV_HEADER)]   # (path, fd, offset)
        self._carry = b""

    def switch(self, path: str) -> None:
        self._files.append((path, None, WAV_HEADER))

    def read(self) -> np.ndarray:
        """What the files have grown by since the last read (an empty array when nothing)."""
        chunks: list[bytes] = []
        kept: list[tuple[str, int | None, int]] = []
        last = len(self._files) - 1
        for i, (path, fd, offset) in enumerate(self._files):
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    if i < last:
                        continue             # a file the recorder never made: nothing to read in it
                    kept.append((path, None, offset))
                    continue
                if self.temporary:
                    _unlink(path)
            size = os.fstat(fd).st_size
            if size > offset:
                data = os.pread(fd, size - offset, offset)
                offset += len(data)
                chunks.append(data)
            if i < last:
                os.close(fd)                 # replaced: its recorder is gone, its file complete
            else:
                kept.append((path, fd, offset))
        self._files = kept
        raw = self._carry + b"".join(chunks)
        whole = len(raw) - len(raw) % 2
        self._carry = raw[whole:]
        return np.frombuffer(raw[:whole], dtype="<i2").astype(np.int16, copy=False)

    def close(self) -> None:
        for path, fd, _ in self._files:
            if fd is not None:
                os.close(fd)
            elif self.temporary:
                _unlink(path)
        self._files = []


def _unlink(path: str) -> None:
    try:
        Path(path).unlink()
    except OSError:
        pass
