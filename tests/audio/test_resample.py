"""Resampling at the edges: rates change, the tone and the sample type stay."""

from __future__ import annotations

import numpy as np
import pytest

from tuiphone.audio.analysis import dominant_frequency, has_tone
from tuiphone.audio.resample import StreamResampler, resample
from tuiphone.audio.sources import sine


def test_equal_rates_hand_back_the_same_samples() -> None:
    tone = sine(440, 0.1)
    assert resample(tone, 16000, 16000) is tone


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (44100, 16000), (16000, 48000)])
def test_tone_keeps_its_pitch_at_a_new_rate(src: int, dst: int) -> None:
    out = resample(sine(700, 1.0, rate=src), src, dst)
    assert out.dtype == np.int16
    assert len(out) == pytest.approx(dst, abs=2)
    assert dominant_frequency(out, dst) == pytest.approx(700, abs=1)


def test_float_and_stereo_audio_keep_their_type_and_shape() -> None:
    stereo = np.zeros((800, 2), dtype=np.float32)
    out = resample(stereo, 8000, 16000)
    assert out.dtype == np.float32 and out.shape == (1600, 2)
    assert resample(np.zeros(0, dtype=np.float64), 8000, 16000).size == 0


def test_bad_rates_and_sample_types_are_refused() -> None:
    with pytest.raises(ValueError):
        resample(sine(440, 0.1), 0, 16000)
    with pytest.raises(TypeError):
        resample(np.zeros(10, dtype=np.uint8), 8000, 16000)


def test_stream_resampler_joins_chunks_without_a_seam() -> None:
    tone = sine(1000, 1.0, rate=48000)
    stream = StreamResampler(48000, 16000)
    parts = [stream.process(tone[i : i + 960]) for i in range(0, len(tone), 960)]
    out = np.concatenate([*parts, stream.flush()])
    assert len(out) == pytest.approx(16000, abs=2)
    # A seam would smear energy away from 1 kHz; the joined stream is as clean as one pass.
    assert has_tone(out[1000:-1000], 16000, 1000, tol_hz=2, min_ratio=0.999)
