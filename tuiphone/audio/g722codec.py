"""G.722 (64 kbit/s, 16 kHz audio) through the `g722` package (libg722, bit-exact with the ITU).

The codec is ADPCM and keeps state, so each stream needs its own encoder or decoder, fed in order.
RTP quirk (RFC 3551): G.722's RTP clock is 8000 Hz although it carries 16 kHz audio.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["G722Decoder", "G722Encoder", "G722Missing", "g722_available"]

SAMPLE_RATE = 16000
BIT_RATE = 64000


class G722Missing(RuntimeError):
    """The `g722` package is not installed."""

    def __init__(self) -> None:
        super().__init__("G.722 needs the Python package g722: install it with 'pip install g722', "
                         "or choose PCMU or PCMA")


def _new_state() -> Any:
    try:
        import G722  # the `g722` distribution installs the module as G722
    except ImportError:
        raise G722Missing() from None
    return G722.G722(SAMPLE_RATE, BIT_RATE)


def g722_available() -> bool:
    """True when G.722 can be used here."""
    try:
        _new_state()
    except G722Missing:
        return False
    return True


class G722Encoder:
    """16 kHz int16 samples in, G.722 bytes out (one byte per two samples)."""

    def __init__(self) -> None:
        self._state = _new_state()

    def encode(self, pcm: np.ndarray) -> bytes:
        x = np.ascontiguousarray(pcm, dtype=np.int16)
        out: bytes = self._state.encode(x)
        return out


class G722Decoder:
    """G.722 bytes in, 16 kHz int16 samples out (two per byte)."""

    def __init__(self) -> None:
        self._state = _new_state()

    def decode(self, payload: bytes | bytearray | memoryview) -> np.ndarray:
        out = self._state.decode(bytes(payload))
        if isinstance(out, np.ndarray):
            return out.astype(np.int16, copy=False)
        return np.frombuffer(out, dtype=np.int16).copy()
