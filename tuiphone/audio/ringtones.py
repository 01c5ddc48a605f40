"""Ringtones: ring1–ring3 synthesised here (no third-party audio), or any WAV file.

A ringtone is rendered (or read and resampled) once into a table; `Ringtone` plays it round
and round as a frame source, scaled by its volume.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from tuiphone.audio.frames import RATE
from tuiphone.audio.wav import WavError, read_wav

__all__ = ["BUILTIN_RINGTONES", "Ringtone", "builtin_ringtone", "load_ringtone", "make_ringtone"]

BUILTIN_RINGTONES = ("ring1", "ring2", "ring3")
_PEAK = 0.5 * 32767               # -6 dBFS: loud enough to hear across a room at volume 1.0


def _silence(ms: float, rate: int) -> np.ndarray:
    return np.zeros(round(ms * rate / 1000))


def _fade(x: np.ndarray, rate: int, ms: float = 5.0) -> np.ndarray:
    n = min(len(x) // 2, round(ms * rate / 1000))
    ramp = np.linspace(0.0, 1.0, n)
    x[:n] *= ramp
    x[len(x) - n :] *= ramp[::-1]
    return x


def _trill(ms: float, rate: int) -> np.ndarray:
    """ring1's burst: a bell-like warble, 800 and 1000 Hz swapping every 25 ms."""
    n = round(ms * rate / 1000)
    t = np.arange(n) / rate
    high = (np.floor(t / 0.025) % 2).astype(bool)
    # integrate the frequency so the swaps are phase-continuous (no clicks)
    phase = 2 * math.pi * np.cumsum(np.where(high, 1000.0, 800.0)) / rate
    return _fade(np.sin(phase), rate)


def _chime(freq: float, ms: float, rate: int) -> np.ndarray:
    """ring2's note: a struck bell — the note plus a fainter octave, dying away."""
    t = np.arange(round(ms * rate / 1000)) / rate
    tone = np.sin(2 * math.pi * freq * t) + 0.3 * np.sin(4 * math.pi * freq * t)
    return _fade(tone * np.exp(-t / 0.12) / 1.3, rate, 2.0)


def _beep(freq: float, ms: float, rate: int) -> np.ndarray:
    t = np.arange(round(ms * rate / 1000)) / rate
    return _fade(np.sin(2 * math.pi * freq * t), rate)


def _render(name: str, rate: int) -> np.ndarray:
    if name == "ring1":            # double warble, then a pause
        parts = [_trill(400, rate), _silence(200, rate), _trill(400, rate), _silence(2000, rate)]
    elif name == "ring2":          # rising three-note chime (C6, E6, G6)
        parts = [_chime(f, 250, rate) for f in (1046.5, 1318.5, 1568.0)] + [_silence(1500, rate)]
    elif name == "ring3":          # four quick beeps
        parts = [p for _ in range(4) for p in (_beep(1400, 80, rate), _silence(70, rate))]
        parts.append(_silence(1400, rate))
    else:
        raise ValueError(f"there is no built-in ringtone {name!r}: use ring1, ring2 or ring3")
    return np.rint(np.concatenate(parts) * _PEAK).astype(np.int16)


@lru_cache(maxsize=8)
def builtin_ringtone(name: str, rate: int = RATE) -> np.ndarray:
    """One cycle of a built-in ringtone (ring1, ring2, ring3) as int16 samples."""
    table = _render(name, rate)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=8)
def _wav_table(path: str, rate: int, _mtime: float, _size: int) -> np.ndarray:
    table = read_wav(path, rate)
    table.setflags(write=False)
    return table


def load_ringtone(ringtone: str, rate: int = RATE) -> tuple[np.ndarray, str | None]:
    """The samples of a ringtone: a built-in name or the path of a WAV file (any rate, any channels).

    A WAV that cannot be played falls back to ring1 — a call must still ring — and the second
    value is then a sentence saying why; otherwise it is None.
    """
    if ringtone in BUILTIN_RINGTONES:
        return builtin_ringtone(ringtone, rate), None
    path = Path(os.path.expanduser(ringtone))
    try:
        st = path.stat()
        table = _wav_table(str(path), rate, st.st_mtime, st.st_size)
    except OSError:
        return builtin_ringtone("ring1", rate), f"Ringtone {path} was not found; ringing with ring1."
    except WavError as err:
        return builtin_ringtone("ring1", rate), f"{err} Ringing with ring1 instead."
    if not len(table) or not np.any(table):
        return builtin_ringtone("ring1", rate), f"Ringtone {path} is silent; ringing with ring1."
    return table, None


class Ringtone:
    """A ringtone as an endless frame source; `volume` (0.0–1.0, linear) may change while it plays."""

    def __init__(self, samples: np.ndarray, volume: float = 1.0, name: str = ""):
        self.name = name
        self.volume = volume
        self._table = samples
        self.position = 0

    def read(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int16)
        size, filled = len(self._table), 0
        while filled < n:
            if self.position >= size:
                self.position = 0
            take = min(n - filled, size - self.position)
            out[filled : filled + take] = self._table[self.position : self.position + take]
            filled += take
            self.position += take
        volume = min(max(self.volume, 0.0), 1.0)
        if volume != 1.0:
            out[:] = np.rint(out * volume)
        return out


def make_ringtone(ringtone: str = "ring1", volume: float = 1.0, rate: int = RATE) -> tuple[Ringtone, str | None]:
    """A playing ringtone and, when a WAV had to be replaced by ring1, the sentence saying why."""
    samples, problem = load_ringtone(ringtone, rate)
    return Ringtone(samples, volume, ringtone if problem is None else "ring1"), problem
