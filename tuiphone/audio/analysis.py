"""Audio checks by spectrum and level: is the tone we sent the tone that arrived?

Samples may be int16 (full scale 32768) or float (full scale 1.0). Levels are dBFS as AES17
counts them (a full-scale sine reads 0 dBFS), matching `tone.sine`'s `level_dbfs`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["band_energy_ratio", "dominant_frequency", "has_tone", "level_dbfs"]

SILENCE_DBFS = -120.0


def _as_float(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"analysis takes mono samples (a 1-D array), not shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64) / 32768.0
    return x.astype(np.float64)


def _power_spectrum(samples: np.ndarray) -> np.ndarray:
    """Power per FFT bin of the Hann-windowed, DC-free signal (bin 0 zeroed)."""
    x = _as_float(samples)
    x = (x - x.mean()) * np.hanning(len(x))
    power = np.abs(np.fft.rfft(x)) ** 2
    power[0] = 0.0
    return power


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS (AES17: a full-scale sine is 0 dBFS); silence floors at -120."""
    x = _as_float(samples)
    if x.size == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(x * x)))
    if rms == 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms * math.sqrt(2.0)))


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency in Hz, to a fraction of a bin (parabolic fit on log power).

    Silence, or fewer than 4 samples, gives 0.0.
    """
    if len(samples) < 4:
        return 0.0
    power = _power_spectrum(samples)
    peak = int(np.argmax(power))
    if power[peak] <= 0.0:
        return 0.0
    offset = 0.0
    if 0 < peak < len(power) - 1:
        # The log of a Hann main lobe is close to a parabola, so its vertex finds the true peak.
        a, b, c = np.log(power[peak - 1 : peak + 2] + 1e-30)
        denom = a - 2.0 * b + c
        if denom < 0.0:
            offset = 0.5 * (a - c) / denom
    return (peak + offset) * rate / len(samples)


def band_energy_ratio(samples: np.ndarray, rate: int, freq: float, width_hz: float = 50.0) -> float:
    """Share (0..1) of the signal's energy within ±width_hz of freq (DC excluded).

    The Hann window spreads a pure tone over ±2 FFT bins (bin = rate/len Hz), so give short
    blocks a width of at least two bins.
    """
    if len(samples) < 4:
        return 0.0
    power = _power_spectrum(samples)
    total = float(power.sum())
    if total <= 0.0:
        return 0.0
    freqs = np.arange(len(power)) * (rate / len(samples))
    band = np.abs(freqs - freq) <= width_hz
    return float(power[band].sum()) / total


def has_tone(
    samples: np.ndarray, rate: int, freq: float, tol_hz: float = 20.0, min_ratio: float = 0.5
) -> bool:
    """True when a tone near freq dominates: the strongest frequency is within tol_hz of it and
    at least min_ratio of the energy lies near it (within tol_hz plus the window's two bins)."""
    peak = dominant_frequency(samples, rate)
    if peak == 0.0 or abs(peak - freq) > tol_hz:
        return False
    width = tol_hz + 2.0 * rate / len(samples)
    return band_energy_ratio(samples, rate, freq, width) >= min_ratio
