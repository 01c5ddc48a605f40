"""G.711 PCMU (mu-law) and PCMA (A-law) in numpy: one table lookup per sample, bit-exact with
the ITU reference (the Sun g711.c that audioop and most RTP stacks use).

Encoders take int16 samples and return uint8 codes; decoders take codes (bytes or uint8) and
return int16. The per-sample reference functions build the tables and stay as the yardstick.
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = [
    "alaw_decode",
    "alaw_decode_sample",
    "alaw_encode",
    "alaw_encode_sample",
    "ulaw_decode",
    "ulaw_decode_sample",
    "ulaw_encode",
    "ulaw_encode_sample",
]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159                     # 14-bit magnitude limit before the bias
_SEG_UEND = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_AEND = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for seg, end in enumerate(ends):
        if value <= end:
            return seg
    return len(ends)


def ulaw_encode_sample(sample: int) -> int:
    """One int16 sample to its mu-law code (reference algorithm, one sample at a time)."""
    pcm = sample >> 2                  # mu-law works on 14 bits
    if pcm < 0:
        pcm, mask = -pcm, 0x7F
    else:
        mask = 0xFF
    pcm = min(pcm, _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = _segment(pcm, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask


def ulaw_decode_sample(code: int) -> int:
    """One mu-law code to its int16 sample (reference algorithm)."""
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return _ULAW_BIAS - t if u & 0x80 else t - _ULAW_BIAS


def alaw_encode_sample(sample: int) -> int:
    """One int16 sample to its A-law code (reference algorithm)."""
    pcm = sample >> 3                  # A-law works on 13 bits
    if pcm >= 0:
        mask = 0xD5
    else:
        mask, pcm = 0x55, -pcm - 1
    seg = _segment(pcm, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    code = seg << 4
    code |= (pcm >> 1) & 0xF if seg < 2 else (pcm >> seg) & 0xF
    return code ^ mask


def alaw_decode_sample(code: int) -> int:
    """One A-law code to its int16 sample (reference algorithm)."""
    a = code ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


@cache
def _encode_table(law: str) -> np.ndarray:
    """Code for every int16 value, indexed by the sample's bits read as uint16: the reference
    algorithm above, written for whole arrays (tests hold it to the per-sample one)."""
    samples = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)
    if law == "u":
        pcm = samples >> 2
        mask = np.where(pcm < 0, 0x7F, 0xFF)
        pcm = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
        seg = np.searchsorted(_SEG_UEND, pcm)
        code = np.where(seg >= 8, 0x7F, (seg << 4) | ((pcm >> np.minimum(seg + 1, 15)) & 0xF))
    else:
        pcm = samples >> 3
        mask = np.where(pcm < 0, 0x55, 0xD5)
        pcm = np.where(pcm < 0, -pcm - 1, pcm)
        seg = np.searchsorted(_SEG_AEND, pcm)
        low = np.where(seg < 2, pcm >> 1, pcm >> np.minimum(seg, 15)) & 0xF
        code = np.where(seg >= 8, 0x7F, (seg << 4) | low)
    return (code ^ mask).astype(np.uint8)


@cache
def _decode_table(law: str) -> np.ndarray:
    decode = ulaw_decode_sample if law == "u" else alaw_decode_sample
    return np.array([decode(c) for c in range(256)], dtype=np.int16)


def _samples(pcm: np.ndarray) -> np.ndarray:
    x = np.asarray(pcm)
    if x.dtype != np.int16:
        raise TypeError(f"G.711 encodes int16 samples, not {x.dtype}")
    return np.ascontiguousarray(x).view(np.uint16)


def _codes(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.astype(np.uint8, copy=False)
    return np.frombuffer(data, dtype=np.uint8)


def ulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """int16 samples to mu-law codes (uint8), one per sample."""
    codes: np.ndarray = _encode_table("u")[_samples(pcm)]
    return codes


def ulaw_decode(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """mu-law codes to int16 samples."""
    samples: np.ndarray = _decode_table("u")[_codes(data)]
    return samples


def alaw_encode(pcm: np.ndarray) -> np.ndarray:
    """int16 samples to A-law codes (uint8), one per sample."""
    codes: np.ndarray = _encode_table("a")[_samples(pcm)]
    return codes


def alaw_decode(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """A-law codes to int16 samples."""
    samples: np.ndarray = _decode_table("a")[_codes(data)]
    return samples
