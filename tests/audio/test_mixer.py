"""The mixer: local sounds add up, each at its own gain, and loud sums bend instead of clipping."""

from __future__ import annotations

import numpy as np
import pytest

from tuiphone.audio.analysis import has_tone, level_dbfs
from tuiphone.audio.mixer import KNEE, Mixer, soft_limit
from tuiphone.audio.sources import SilenceSource, ToneSource, WavSource


class _Constant:
    def __init__(self, value: int):
        self.value = value
        self.reads = 0

    def read(self, n: int) -> np.ndarray:
        self.reads += 1
        return np.full(n, self.value, dtype=np.int16)


class _Broken:
    def read(self, n: int) -> np.ndarray:
        raise RuntimeError("device gone")


def test_streams_are_summed_sample_by_sample() -> None:
    mixer = Mixer()
    mixer.add("call", _Constant(1000))
    mixer.add("tone", _Constant(-300))
    mixer.add("ring", _Constant(50))
    assert mixer.read(320).tolist() == [750] * 320
    assert mixer.limited == 0


def test_each_stream_has_its_own_gain_and_the_master_gain_scales_all() -> None:
    mixer = Mixer()
    mixer.add("call", _Constant(1000), gain=0.5)
    mixer.add("tone", _Constant(400), gain=2.0)
    assert mixer.read(4).tolist() == [1300] * 4
    mixer.set_gain("tone", 0.25)
    mixer.gain = 0.5
    assert mixer.read(4).tolist() == [300] * 4


def test_a_stream_at_gain_zero_is_still_read_so_it_does_not_fall_behind() -> None:
    mixer = Mixer()
    quiet = _Constant(1000)
    mixer.add("call", quiet, gain=0.0)
    assert not mixer.read(320).any()
    assert quiet.reads == 1


def test_two_tones_come_out_together_at_their_levels() -> None:
    mixer = Mixer()
    mixer.add("dial", ToneSource(440, level_dbfs=-12))
    mixer.add("key", ToneSource(1336, level_dbfs=-12))
    out = np.concatenate([mixer.read(320) for _ in range(50)])
    low = np.fft.rfft(out.astype(float))
    freqs = np.fft.rfftfreq(len(out), 1 / 16000)
    peaks = sorted(freqs[np.argsort(np.abs(low))[-2:]])
    assert peaks == pytest.approx([440, 1336], abs=1)
    assert level_dbfs(out) == pytest.approx(-12 + 3.01, abs=0.1)     # two equal sines: +3 dB


def test_a_sum_louder_than_full_scale_is_bent_not_wrapped() -> None:
    mixer = Mixer()
    mixer.add("a", ToneSource(500, level_dbfs=-1))
    mixer.add("b", ToneSource(500, level_dbfs=-1))
    out = np.concatenate([mixer.read(320) for _ in range(25)])
    # int16 wrap-around would flip signs; the limiter keeps the shape and stays below full scale
    assert np.abs(out.astype(int)).max() <= 32767
    assert has_tone(out, 16000, 500, min_ratio=0.9)
    assert mixer.limited > 0 and mixer.limited_reads == 25
    # the limiter's slope is at most 1: no step is steeper than in the unlimited sum (a clip would jump)
    summed_amplitude = 2 * 32767 * 10 ** (-1 / 20)
    steepest = summed_amplitude * 2 * np.sin(np.pi * 500 / 16000)
    assert np.abs(np.diff(out.astype(int))).max() <= steepest + 2


def test_soft_limit_leaves_quiet_samples_alone_and_keeps_loud_ones_in_range() -> None:
    x = np.array([0, 1000, -20000, KNEE, 30000, -60000, 1e9], dtype=np.float32)
    bent = soft_limit(x)
    assert bent == 3
    assert x[:4].tolist() == [0, 1000, -20000, pytest.approx(KNEE)]
    assert KNEE < x[4] < 32767 and -32767 < x[5] < -KNEE and x[6] <= 32767
    assert x[4] < x[6]                                   # still monotonic


def test_streams_are_replaced_and_removed_by_name() -> None:
    mixer = Mixer()
    mixer.add("tone", _Constant(10))
    mixer.add("tone", _Constant(20))
    mixer.add("call", SilenceSource())
    assert mixer.names == ("tone", "call")
    assert mixer.read(2).tolist() == [20, 20]
    assert isinstance(mixer.remove("tone"), _Constant)
    assert mixer.remove("tone") is None
    assert not mixer.read(2).any()


def test_a_finished_once_only_source_is_skipped() -> None:
    mixer = Mixer()
    mixer.add("beep", WavSource(np.full(100, 500, dtype=np.int16), loop=False))
    assert mixer.read(150).tolist() == [500] * 100 + [0] * 50
    assert not mixer.read(10).any()


def test_a_source_that_raises_is_dropped_and_the_rest_plays_on() -> None:
    mixer = Mixer()
    mixer.add("bad", _Broken())
    mixer.add("call", _Constant(123))
    assert mixer.read(3).tolist() == [123] * 3
    assert mixer.read(3).tolist() == [123] * 3
    assert mixer.failed == ["bad"]


def test_frames_of_any_length_can_be_mixed() -> None:
    mixer = Mixer()
    mixer.add("call", _Constant(7))
    for n in (1, 139, 320, 4096):
        assert mixer.read(n).tolist() == [7] * n
