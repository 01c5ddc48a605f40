"""The one place local sounds meet: call audio, tones, ringtone and paging streams summed into
what the speaker plays, each with its own gain, under one soft limiter.

`read` runs on the sound card's thread; `add`/`remove`/`set_gain` run on any other thread. The
stream list is an immutable tuple swapped whole (one attribute store), and gains are single
float stores, so the audio thread never waits for a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from tuiphone.audio.sources import FrameSource

__all__ = ["FULL_SCALE", "Mixer", "MixerStream", "soft_limit"]

FULL_SCALE = 32767.0
KNEE = 0.75 * FULL_SCALE          # below this the limiter leaves samples untouched


def soft_limit(x: np.ndarray, knee: float = KNEE) -> int:
    """Bend samples above `knee` smoothly towards full scale, in place; returns how many it bent.

    Below the knee nothing changes; above it, tanh keeps the curve (and its slope) continuous
    and the result strictly inside int16 range, so a sum never wraps or hard-clips.
    """
    over = np.abs(x) > knee
    count = int(np.count_nonzero(over))
    if count:
        room = FULL_SCALE - knee
        v = x[over]
        x[over] = np.sign(v) * (knee + room * np.tanh((np.abs(v) - knee) / room))
    return count


@dataclass
class MixerStream:
    """One input of the mixer: a frame source and its gain (linear, 1.0 = as it comes)."""

    name: str
    source: FrameSource
    gain: float = 1.0
    broken: bool = False           # its source raised; skipped until replaced


class Mixer:
    """Sums named frame sources into int16 frames; itself a frame source (`read(n)`)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain               # master gain: the speaker volume
        self.limited = 0               # samples the limiter bent (clipping avoided)
        self.limited_reads = 0         # reads in which it had to
        self.failed: list[str] = []    # streams dropped because their source raised
        self._streams: tuple[MixerStream, ...] = ()
        self._edit = threading.Lock()  # serialises editors only; the audio thread never takes it
        self._acc = np.zeros(1024, dtype=np.float32)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self._streams)

    def add(self, name: str, source: FrameSource, gain: float = 1.0) -> MixerStream:
        """Mix `source` in under `name`, replacing a stream of that name."""
        stream = MixerStream(name, source, gain)
        with self._edit:
            self._streams = tuple(s for s in self._streams if s.name != name) + (stream,)
        return stream

    def remove(self, name: str) -> FrameSource | None:
        """Stop mixing `name`; returns its source, or None if there was none."""
        with self._edit:
            found = next((s for s in self._streams if s.name == name), None)
            self._streams = tuple(s for s in self._streams if s.name != name)
        return found.source if found else None

    def source(self, name: str) -> FrameSource | None:
        return next((s.source for s in self._streams if s.name == name), None)

    def set_gain(self, name: str, gain: float) -> None:
        """Change one stream's gain (linear); unknown names are ignored."""
        for s in self._streams:
            if s.name == name:
                s.gain = gain

    def read(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int16)
        self.read_into(out)
        return out

    def read_into(self, out: np.ndarray) -> None:
        """Mix one frame into `out` (int16). Every source is read, even at gain 0, so none falls behind."""
        n = len(out)
        if len(self._acc) < n:
            self._acc = np.zeros(n, dtype=np.float32)
        acc = self._acc[:n]
        acc.fill(0.0)
        master = self.gain
        for stream in self._streams:
            if stream.broken or getattr(stream.source, "finished", False):
                continue
            try:
                frame = stream.source.read(n)
            except Exception:
                stream.broken = True   # a broken source must not silence the others
                self.failed.append(stream.name)
                continue
            g = stream.gain * master
            if g:
                acc += frame * np.float32(g)
        bent = soft_limit(acc)
        if bent:
            self.limited += bent
            self.limited_reads += 1
        np.rint(acc, out=acc)
        out[:] = acc
