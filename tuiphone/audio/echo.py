"""The echo test: what the far end says comes back about a second later."""

from __future__ import annotations

import numpy as np


class EchoDelay:
    """A frame sink and source in one: `write` stores heard audio, `read` returns it `delay_s` later.

    Both ends run on pjmedia's clock thread, so a plain preallocated ring with two counters is enough.
    """

    def __init__(self, delay_s: float = 1.0, rate: int = 16000):
        self._delay = int(delay_s * rate)
        self._buf = np.zeros(self._delay + rate, dtype=np.int16)   # one spare second of headroom
        self._written = 0
        self._read = -self._delay          # negative: still inside the initial silence

    def write(self, frame: np.ndarray) -> None:
        n, size = len(frame), len(self._buf)
        start = self._written % size
        end = start + n
        if end <= size:
            self._buf[start:end] = frame
        else:
            self._buf[start:] = frame[: size - start]
            self._buf[: end - size] = frame[size - start:]
        self._written += n

    def read(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int16)
        size = len(self._buf)
        for i in range(n):                 # cheap at 320 samples; keeps the wrap logic obvious
            pos = self._read + i
            if 0 <= pos < self._written and self._written - pos <= size:
                out[i] = self._buf[pos % size]
        self._read += n
        if self._written - self._read > size - n:   # the reader fell too far behind: skip ahead
            self._read = self._written - self._delay
        return out
