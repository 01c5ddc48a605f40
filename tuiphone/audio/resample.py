"""Sample-rate conversion at the edges (WAV files, devices that refuse 16 kHz), through soxr."""

from __future__ import annotations

import numpy as np
import soxr

__all__ = ["StreamResampler", "resample"]

_DTYPES = (np.int16, np.int32, np.float32, np.float64)


def _check_rate(name: str, rate: float) -> float:
    if not rate > 0:
        raise ValueError(f"{name} must be a positive sample rate, not {rate!r}")
    return float(rate)


def resample(x: np.ndarray, src_rate: float, dst_rate: float) -> np.ndarray:
    """Resample mono (n,) or multi-channel (n, channels) audio; the dtype is kept.

    int16, int32, float32 and float64 are supported. Equal rates return `x` itself (no copy).
    """
    src = _check_rate("src_rate", src_rate)
    dst = _check_rate("dst_rate", dst_rate)
    x = np.asarray(x)
    if x.dtype not in _DTYPES:
        raise TypeError(f"resample takes int16, int32, float32 or float64 samples, not {x.dtype}")
    if src == dst:
        return x
    if x.shape[0] == 0:
        return x.copy()
    out: np.ndarray = soxr.resample(np.ascontiguousarray(x), src, dst, quality="HQ")
    return out


class StreamResampler:
    """Resample a stream chunk by chunk with no clicks between chunks (soxr keeps the state).

    Chunks of n input samples give about n * dst/src output samples; `flush()` returns the
    tail held back by the filter at the end of the stream.
    """

    def __init__(self, src_rate: float, dst_rate: float, channels: int = 1, dtype: type = np.int16):
        self.src_rate = _check_rate("src_rate", src_rate)
        self.dst_rate = _check_rate("dst_rate", dst_rate)
        self._dtype = np.dtype(dtype)
        self._empty = np.zeros((0, channels) if channels > 1 else 0, dtype=self._dtype)
        self._stream = (
            None
            if self.src_rate == self.dst_rate
            else soxr.ResampleStream(self.src_rate, self.dst_rate, channels, dtype=self._dtype.name)
        )

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Resample the next chunk of the stream."""
        chunk = np.ascontiguousarray(chunk, dtype=self._dtype)
        if self._stream is None:
            return chunk
        out: np.ndarray = self._stream.resample_chunk(chunk)
        return out

    def flush(self) -> np.ndarray:
        """End the stream and return the last samples the filter held back."""
        if self._stream is None:
            return self._empty.copy()
        out: np.ndarray = self._stream.resample_chunk(self._empty, last=True)
        return out
