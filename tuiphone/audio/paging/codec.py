"""The codecs pages use (PCMU, PCMA, G.722): payload types, and encoders/decoders for 16 kHz frames.

PCMU and PCMA run at 8 kHz, so their encoders halve the rate and their decoders double it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tuiphone.audio import g711
from tuiphone.audio.g722codec import G722Decoder, G722Encoder
from tuiphone.audio.paging.groups import PagingError


def _halfband(taps: int = 63) -> np.ndarray:
    """Low-pass at a quarter of the rate (4 kHz at 16 kHz): Blackman-windowed sinc, unity DC gain."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(n / 2) * np.blackman(taps)
    out: np.ndarray = (h / h.sum()).astype(np.float32)
    return out


_HALFBAND = _halfband()


class _Downsample2x:
    """16 kHz to 8 kHz for even-length frames, filter state kept across frames."""

    def __init__(self) -> None:
        self._hist = np.zeros(len(_HALFBAND) - 1, dtype=np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate((self._hist, x.astype(np.float32)))
        self._hist = buf[len(buf) - len(self._hist) :]
        y = np.convolve(buf, _HALFBAND, "valid")[::2]
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


class _Upsample2x:
    """8 kHz to 16 kHz: zero-stuffed and filtered (gain 2 restores the level), state kept."""

    def __init__(self) -> None:
        self._hist = np.zeros(len(_HALFBAND) - 1, dtype=np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        up = np.zeros(2 * len(x), dtype=np.float32)
        up[::2] = x
        buf = np.concatenate((self._hist, up))
        self._hist = buf[len(buf) - len(self._hist) :]
        y = np.convolve(buf, 2.0 * _HALFBAND, "valid")
        out: np.ndarray = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
        return out


@dataclass(frozen=True)
class PagingCodec:
    """A codec pages can use: its RTP payload type and how to make an encoder/decoder for it.

    All three run an 8 kHz RTP clock (G.722 too, RFC 3551), and every payload byte is one tick.
    """

    name: str
    payload_type: int
    clock_rate: int = 8000

    def encoder(self) -> Callable[[np.ndarray], bytes]:
        """A function from 16 kHz int16 frames to payloads, with its own state."""
        if self.name == "G722":
            return G722Encoder().encode
        down = _Downsample2x()
        encode = g711.ulaw_encode if self.name == "PCMU" else g711.alaw_encode
        return lambda pcm: encode(down.process(pcm)).tobytes()

    def decoder(self) -> Callable[[bytes], np.ndarray]:
        """A function from payloads to 16 kHz int16 samples, with its own state."""
        if self.name == "G722":
            return G722Decoder().decode
        up = _Upsample2x()
        decode = g711.ulaw_decode if self.name == "PCMU" else g711.alaw_decode
        return lambda payload: up.process(decode(payload))


CODECS = {c.name: c for c in (PagingCodec("PCMU", 0), PagingCodec("PCMA", 8), PagingCodec("G722", 9))}
CODEC_BY_PT = {c.payload_type: c for c in CODECS.values()}


def paging_codec(name: str) -> PagingCodec:
    """The codec called `name` (any case: pcmu, PCMA, g722), or a PagingError."""
    codec = CODECS.get(name.upper())
    if codec is None:
        raise PagingError(f"{name!r} is not a paging codec; choose PCMU, PCMA or G722")
    return codec
