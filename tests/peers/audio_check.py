"""Make test tones and check what arrived, independently of tuiphone's own audio code."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def write_tone_wav(
    path: Path, frequency: float = 1000.0, seconds: float = 10.0, rate: int = 8000, level: float = 0.5
) -> Path:
    """Write a mono 16-bit sine tone WAV and return its path."""
    t = np.arange(int(rate * seconds)) / rate
    samples = (level * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples of a 16-bit WAV as float in [-1, 1] (first channel) and its sample rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16-bit PCM")
        rate = wav.getframerate()
        channels = wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.reshape(-1, channels)[:, 0].astype(np.float64) / 32768.0, rate


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The frequency (Hz) with the most energy, from a Hann-windowed FFT."""
    if samples.size < rate // 10:
        raise ValueError(f"only {samples.size} samples: too short to find a tone")
    windowed = samples * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[0] = 0.0  # ignore DC
    freqs = np.fft.rfftfreq(samples.size, d=1.0 / rate)
    return float(freqs[int(np.argmax(spectrum))])


def rms(samples: np.ndarray) -> float:
    """Root-mean-square level in [0, 1]."""
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def wav_tone(path: Path, skip_seconds: float = 0.2) -> tuple[float, float]:
    """(dominant frequency in Hz, RMS level) of a WAV, skipping its first ``skip_seconds``."""
    samples, rate = read_wav(path)
    samples = samples[int(skip_seconds * rate):]
    return dominant_frequency(samples, rate), rms(samples)
