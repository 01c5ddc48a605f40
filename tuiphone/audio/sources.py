"""Test audio for calls: a sine tone, a WAV file's samples, silence — as frame sources.

Levels are dBFS as AES17 counts them: a full-scale sine is 0 dBFS, so a tone made at
-12 dBFS reads -12 dBFS on `analysis.level_dbfs`.
"""

from __future__ import annotations

import math
import os

import numpy as np

from tuiphone.audio.frames import FrameSource

__all__ = ["FrameSource", "SilenceSource", "ToneSource", "WavSource", "sine"]

FULL_SCALE = 32767


def _amplitude(level_dbfs: float) -> float:
    if not level_dbfs <= 0.0:
        raise ValueError(f"a tone level must be 0 dBFS or below (it would clip), not {level_dbfs}")
    return float(FULL_SCALE * 10.0 ** (level_dbfs / 20.0))


def _check_freq(freq_hz: float, rate: int) -> None:
    if not 0.0 < freq_hz < rate / 2:
        raise ValueError(f"a tone at {freq_hz} Hz cannot be played at {rate} Hz (0 < f < {rate / 2})")


def sine(freq_hz: float, seconds: float, rate: int = 16000, level_dbfs: float = -12.0) -> np.ndarray:
    """A sine tone of `seconds` length as int16 samples."""
    _check_freq(freq_hz, rate)
    n = max(0, round(seconds * rate))
    t = np.arange(n, dtype=np.float64)
    return np.rint(_amplitude(level_dbfs) * np.sin(2.0 * math.pi * freq_hz / rate * t)).astype(np.int16)


class ToneSource:
    """An endless sine tone whose phase runs on across reads (no click at frame edges)."""

    def __init__(self, freq_hz: float, rate: int = 16000, level_dbfs: float = -12.0):
        _check_freq(freq_hz, rate)
        self.freq_hz = freq_hz
        self.rate = rate
        self._amplitude = _amplitude(level_dbfs)
        self._step = 2.0 * math.pi * freq_hz / rate
        self._phase = 0.0

    def read(self, n_samples: int) -> np.ndarray:
        phases = self._phase + self._step * np.arange(n_samples, dtype=np.float64)
        self._phase = (self._phase + self._step * n_samples) % (2.0 * math.pi)
        return np.rint(self._amplitude * np.sin(phases)).astype(np.int16)


class WavSource:
    """Plays an array of int16 samples: looped forever, or once and then silence.

    `finished` turns true once a non-looping source has handed out its last sample.
    """

    def __init__(self, samples: np.ndarray, loop: bool = True):
        self._samples = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
        self.loop = loop
        self.position = 0

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], rate: int = 16000, loop: bool = True) -> WavSource:
        """A source over a WAV file, read as mono at `rate` (raises wav.WavError)."""
        from tuiphone.audio.wav import read_wav

        return cls(read_wav(path, rate), loop=loop)

    @property
    def finished(self) -> bool:
        return not self.loop and self.position >= len(self._samples)

    def read(self, n_samples: int) -> np.ndarray:
        out = np.zeros(n_samples, dtype=np.int16)
        total = len(self._samples)
        filled = 0
        while filled < n_samples and total and (self.loop or self.position < total):
            if self.position >= total:
                self.position = 0
            take = min(n_samples - filled, total - self.position)
            out[filled : filled + take] = self._samples[self.position : self.position + take]
            filled += take
            self.position += take
        if self.loop and self.position >= total:
            self.position = 0
        return out


class SilenceSource:
    """Digital silence, for a line that sends nothing (null audio)."""

    def read(self, n_samples: int) -> np.ndarray:
        return np.zeros(n_samples, dtype=np.int16)
