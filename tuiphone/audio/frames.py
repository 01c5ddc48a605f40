"""The phone's audio frames: one internal rate from the sound card to the bridge, and the two shapes
everything that makes or takes audio has (a source hands out samples, a sink takes them)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["RATE", "FrameSink", "FrameSource"]

RATE = 16000                 # the phone's internal rate (Hz), mono int16; resampled only at the edges


@runtime_checkable
class FrameSource(Protocol):
    """Anything that hands out audio: `read(n)` returns exactly n int16 samples."""

    def read(self, n_samples: int) -> np.ndarray: ...


@runtime_checkable
class FrameSink(Protocol):
    """Anything that takes audio: `write(frame)` gets int16 samples."""

    def write(self, frame: np.ndarray) -> None: ...
