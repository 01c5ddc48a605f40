"""Checking audio by spectrum: the tone sent is the tone that arrived."""

from __future__ import annotations

import numpy as np
import pytest

from tuiphone.audio.analysis import band_energy_ratio, dominant_frequency, has_tone, level_dbfs
from tuiphone.audio.sources import sine


@pytest.mark.parametrize("freq", [300.0, 1004.7, 3399.0])
def test_dominant_frequency_finds_a_tone_between_fft_bins(freq: float) -> None:
    # 0.1 s gives 10 Hz bins; interpolation has to land well inside one.
    assert dominant_frequency(sine(freq, 0.1), 16000) == pytest.approx(freq, abs=1.0)


def test_level_is_rms_dbfs_with_a_floor_for_silence() -> None:
    assert level_dbfs(sine(440, 0.5, level_dbfs=-20.0)) == pytest.approx(-20.0, abs=0.05)
    assert level_dbfs(np.full(100, 0.5)) == pytest.approx(20 * np.log10(0.5 * np.sqrt(2)), abs=1e-6)
    assert level_dbfs(np.zeros(320, dtype=np.int16)) == -120.0
    assert level_dbfs(np.zeros(0, dtype=np.int16)) == -120.0
    assert dominant_frequency(np.zeros(320, dtype=np.int16), 16000) == 0.0


def test_band_energy_ratio_splits_two_equal_tones_in_half() -> None:
    mix = (sine(500, 0.5).astype(np.int32) + sine(2000, 0.5)).astype(np.int16)
    assert band_energy_ratio(mix, 16000, 500) == pytest.approx(0.5, abs=0.01)
    assert band_energy_ratio(mix, 16000, 2000) == pytest.approx(0.5, abs=0.01)
    assert band_energy_ratio(mix, 16000, 1000) < 0.001


def test_has_tone_hears_the_tone_through_noise() -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 0.03, 8000)  # about 20 dB below the tone
    noisy = np.clip(sine(1000, 0.5) / 32768.0 + noise, -1, 1)
    assert has_tone(noisy, 16000, 1000)
    assert not has_tone(noisy, 16000, 1100)


def test_has_tone_is_false_for_silence_noise_and_another_tone() -> None:
    rng = np.random.default_rng(3)
    assert not has_tone(np.zeros(8000, dtype=np.int16), 16000, 1000)
    assert not has_tone((rng.normal(0, 3000, 8000)).astype(np.int16), 16000, 1000)
    assert not has_tone(sine(1500, 0.5), 16000, 1000)
    # A tone that is there but drowned out by a louder one does not count.
    mix = (sine(1000, 0.5, level_dbfs=-30).astype(np.int32) + sine(2500, 0.5, level_dbfs=-6)).astype(np.int16)
    assert not has_tone(mix, 16000, 1000)


def test_has_tone_works_on_a_single_20ms_frame() -> None:
    assert has_tone(sine(1000, 0.02), 16000, 1000)
    assert not has_tone(sine(1000, 0.02), 16000, 2000)
