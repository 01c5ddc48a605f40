"""G.711 in numpy is bit-exact with the ITU reference and with audioop, for every sample and code."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tuiphone.audio import g711
from tuiphone.audio.analysis import dominant_frequency, level_dbfs
from tuiphone.audio.g722codec import G722Decoder, G722Encoder
from tuiphone.audio.sources import sine

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)

with warnings.catch_warnings():  # deprecated in 3.12, still there in every Python tuiphone supports (3.11-3.12)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def test_known_vectors():
    assert list(g711.ulaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16))) == [0xFF, 0x7E, 0x80, 0x00]
    assert list(g711.alaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16))) == [0xD5, 0x55, 0xAA, 0x2A]
    assert list(g711.ulaw_decode(bytes([0xFF, 0x80, 0x00]))) == [0, 32124, -32124]
    assert list(g711.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == [8, -8, 32256, -32256]


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_tables_match_the_reference_for_every_sample_and_code(law):
    encode, decode = getattr(g711, f"{law}_encode"), getattr(g711, f"{law}_decode")
    ref_encode, ref_decode = getattr(g711, f"{law}_encode_sample"), getattr(g711, f"{law}_decode_sample")
    assert encode(ALL_SAMPLES).tolist() == [ref_encode(int(s)) for s in ALL_SAMPLES]
    assert decode(ALL_CODES).tolist() == [ref_decode(int(c)) for c in ALL_CODES]


def test_bit_exact_with_audioop():
    raw = ALL_SAMPLES.tobytes()
    assert g711.ulaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2ulaw(raw, 2)
    assert g711.alaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2alaw(raw, 2)
    assert g711.ulaw_decode(ALL_CODES.tobytes()).tobytes() == audioop.ulaw2lin(ALL_CODES.tobytes(), 2)
    assert g711.alaw_decode(ALL_CODES.tobytes()).tobytes() == audioop.alaw2lin(ALL_CODES.tobytes(), 2)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_a_tone_comes_back_with_its_level_and_frequency(law):
    x = sine(1000, 0.5, rate=8000, level_dbfs=-20)
    y = getattr(g711, f"{law}_decode")(getattr(g711, f"{law}_encode")(x))
    noise = (y.astype(float) - x) ** 2
    snr = 10 * np.log10(np.sum(x.astype(float) ** 2) / np.sum(noise))
    assert snr > 35 and abs(level_dbfs(y) - (-20)) < 0.2


def test_float_samples_are_refused():
    with pytest.raises(TypeError, match="int16"):
        g711.ulaw_encode(np.zeros(4))


def test_g722_carries_a_wideband_tone():
    x = sine(6000, 0.5)               # above what G.711 can carry
    enc, dec = G722Encoder(), G722Decoder()
    payload = b"".join(enc.encode(x[i:i + 320]) for i in range(0, len(x), 320))
    assert len(payload) == len(x) // 2
    y = np.concatenate([dec.decode(payload[i:i + 160]) for i in range(0, len(payload), 160)])
    assert abs(dominant_frequency(y[800:], 16000) - 6000) < 5 and abs(level_dbfs(y[800:]) + 12) < 1
