"""A level meter sink: remembers how loud what passes through it is, for the UI and for checks."""

from __future__ import annotations

import math

import numpy as np

FLOOR_DBFS = -120.0


class LevelMeter:
    """Tracks the latest frame level and a running RMS of everything written (read from any thread)."""

    def __init__(self) -> None:
        self.frames = 0
        self.level_dbfs = FLOOR_DBFS
        self._sum_squares = 0.0
        self._samples = 0

    def write(self, frame: np.ndarray) -> None:
        x = frame.astype(np.float64)
        sq = float(np.dot(x, x))
        self._sum_squares += sq
        self._samples += len(x)
        self.frames += 1
        self.level_dbfs = _dbfs(sq, len(x))

    @property
    def average_dbfs(self) -> float:
        return _dbfs(self._sum_squares, self._samples)


def _dbfs(sum_squares: float, n: int) -> float:
    if n == 0 or sum_squares <= 0:
        return FLOOR_DBFS
    rms = math.sqrt(sum_squares / n) / 32768.0
    return max(FLOOR_DBFS, 20 * math.log10(rms))
