"""An echo for calls under load: what is heard comes back `delay_s` later, with numpy slices only."""

from __future__ import annotations

import numpy as np


class BlockEcho:
    """Frame sink and source in one (both on pjmedia's clock thread): a preallocated ring, two counters."""

    def __init__(self, delay_s: float = 0.2, rate: int = 16000):
        self._delay = int(delay_s * rate)
        self._size = self._delay + rate
        self._buf = np.zeros(self._size, dtype=np.int16)
        self._written = 0
        self._read = -self._delay
        self._out = np.zeros(320, dtype=np.int16)

    def write(self, frame: np.ndarray) -> None:
        n = len(frame)
        start = self._written % self._size
        first = min(n, self._size - start)
        self._buf[start:start + first] = frame[:first]
        self._buf[: n - first] = frame[first:]
        self._written += n

    def read(self, n: int) -> np.ndarray:
        out = self._out if n == len(self._out) else np.zeros(n, dtype=np.int16)
        if self._written - self._read > self._size - n or self._read + n > self._written:
            self._read = max(self._written - self._delay, self._read)    # too far behind, or nothing yet
        if self._read < 0 or self._read + n > self._written:
            out[:] = 0
            self._read += n
            return out
        start = self._read % self._size
        first = min(n, self._size - start)
        out[:first] = self._buf[start:start + first]
        out[first:] = self._buf[: n - first]
        self._read += n
        return out
