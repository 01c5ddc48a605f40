"""Frame sources a call plays from: tone, WAV samples, silence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuiphone.audio.analysis import dominant_frequency, level_dbfs
from tuiphone.audio.sources import FrameSource, SilenceSource, ToneSource, WavSource, sine
from tuiphone.audio.wav import WavError, write_wav


def test_sine_has_the_asked_length_pitch_and_level() -> None:
    tone = sine(1000, 0.5, rate=16000, level_dbfs=-6.0)
    assert tone.dtype == np.int16 and len(tone) == 8000
    assert dominant_frequency(tone, 16000) == pytest.approx(1000, abs=0.5)
    assert level_dbfs(tone) == pytest.approx(-6.0, abs=0.05)
    assert np.abs(tone).max() == pytest.approx(32767 * 10 ** (-6 / 20), abs=1)


@pytest.mark.parametrize(("freq", "level"), [(0.0, -12.0), (8000.0, -12.0), (440.0, 3.0)])
def test_unplayable_tones_are_refused(freq: float, level: float) -> None:
    with pytest.raises(ValueError):
        sine(freq, 1.0, rate=16000, level_dbfs=level)


def test_tone_source_runs_on_without_clicks_between_frames() -> None:
    source = ToneSource(440, rate=16000)
    frames = [source.read(320) for _ in range(500)]  # 10 s in 20 ms frames
    assert all(len(f) == 320 and f.dtype == np.int16 for f in frames)
    joined = np.concatenate(frames)
    # Same samples as one long sine, give or take rounding: the phase carries across reads.
    assert np.abs(joined.astype(int) - sine(440, 10.0)).max() <= 1


def test_wav_source_loops_back_to_the_start() -> None:
    source = WavSource(np.arange(1, 6, dtype=np.int16), loop=True)
    assert source.read(7).tolist() == [1, 2, 3, 4, 5, 1, 2]
    assert source.read(4).tolist() == [3, 4, 5, 1]
    assert not source.finished


def test_wav_source_played_once_pads_with_silence_and_says_finished() -> None:
    source = WavSource(np.arange(1, 6, dtype=np.int16), loop=False)
    assert source.read(3).tolist() == [1, 2, 3]
    assert not source.finished
    assert source.read(4).tolist() == [4, 5, 0, 0]
    assert source.finished
    assert source.read(2).tolist() == [0, 0]


def test_wav_source_reads_a_file_at_the_phone_rate(tmp_path: Path) -> None:
    write_wav(tmp_path / "greeting.wav", sine(600, 0.5, rate=8000), 8000)
    source = WavSource.from_file(tmp_path / "greeting.wav", rate=16000, loop=False)
    audio = source.read(8000)
    assert dominant_frequency(audio, 16000) == pytest.approx(600, abs=1)
    assert not source.read(320).any()  # the file is over: silence
    with pytest.raises(WavError):
        WavSource.from_file(tmp_path / "missing.wav")


def test_silence_and_every_source_give_exactly_n_samples() -> None:
    sources = [SilenceSource(), ToneSource(300), WavSource(np.zeros(0, dtype=np.int16)), WavSource(sine(300, 0.01))]
    for source in sources:
        assert isinstance(source, FrameSource)
        for n in (0, 1, 160, 321):
            frame = source.read(n)
            assert frame.shape == (n,) and frame.dtype == np.int16
    assert not SilenceSource().read(160).any()
