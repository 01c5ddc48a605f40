"""Ringtones: three built in, any WAV file, a volume, and a ring even when the WAV is bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuiphone.audio.analysis import (
    band_energy_ratio,
    dominant_frequency,
    has_tone,
    level_dbfs,
)
from tuiphone.audio.ringtones import BUILTIN_RINGTONES, builtin_ringtone, make_ringtone
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import write_wav

RATE = 16000


def _play(ringtone, seconds: float) -> np.ndarray:
    return np.concatenate([ringtone.read(320) for _ in range(round(seconds * RATE / 320))])


def _bursts(samples: np.ndarray) -> list[tuple[int, int]]:
    """(start ms, length ms) of each audible stretch."""
    on = np.abs(samples[: len(samples) // 16 * 16].astype(int)).reshape(-1, 16).max(axis=1) > 50
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(int), [0]])))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=False)]


def test_the_three_built_in_ringtones_sound_different() -> None:
    cycles = {name: builtin_ringtone(name) for name in BUILTIN_RINGTONES}
    patterns = {name: [n for _, n in _bursts(c)] for name, c in cycles.items()}
    assert patterns["ring1"] == [pytest.approx(400, abs=2)] * 2          # a double warble
    assert len(patterns["ring2"]) == 1                                   # one three-note chime
    assert patterns["ring3"] == [pytest.approx(80, abs=2)] * 4          # four quick beeps
    assert len({len(c) for c in cycles.values()}) == 3


def test_ring1_warbles_between_800_and_1000_hz() -> None:
    burst = builtin_ringtone("ring1")[: RATE * 400 // 1000]
    low, high = band_energy_ratio(burst, RATE, 800, 60), band_energy_ratio(burst, RATE, 1000, 60)
    assert low > 0.3 and high > 0.3 and low + high > 0.9


def test_ring2_chimes_c_e_g_rising() -> None:
    cycle = builtin_ringtone("ring2")
    notes = [dominant_frequency(cycle[i * 4000 + 400 : i * 4000 + 3200], RATE) for i in range(3)]
    assert notes == pytest.approx([1046.5, 1318.5, 1568.0], abs=8)


def test_ring3_beeps_at_1400_hz() -> None:
    beep = builtin_ringtone("ring3")[100:1200]
    assert has_tone(beep, RATE, 1400)


def test_a_ringtone_repeats_for_as_long_as_the_phone_rings() -> None:
    ring, problem = make_ringtone("ring3")
    assert problem is None
    cycle = len(builtin_ringtone("ring3"))
    out = _play(ring, 3 * cycle / RATE)[: 3 * cycle]
    starts = [start for start, _ in _bursts(out)]
    assert len(starts) == 12
    assert starts[4] - starts[0] == starts[8] - starts[4] == pytest.approx(cycle / 16, abs=1)


def test_volume_scales_the_ringtone_and_can_change_while_ringing() -> None:
    loud, _ = make_ringtone("ring1", volume=1.0)
    quiet, _ = make_ringtone("ring1", volume=0.25)
    a, b = _play(loud, 0.4), _play(quiet, 0.4)
    assert level_dbfs(b) - level_dbfs(a) == pytest.approx(20 * np.log10(0.25), abs=0.1)
    quiet.volume = 0.0
    assert not _play(quiet, 0.2).any()


def test_a_wav_ringtone_at_any_rate_and_channel_count_is_played_at_16k(tmp_path: Path) -> None:
    tone = sine(660, 1.0, rate=44100, level_dbfs=-6)
    stereo = np.stack([tone, tone], axis=1)
    path = tmp_path / "mine.wav"
    write_wav(path, stereo, 44100, channels=2)
    ring, problem = make_ringtone(str(path))
    assert problem is None and ring.name == str(path)
    out = _play(ring, 2.5)
    assert has_tone(out[:RATE], RATE, 660)
    assert has_tone(out[RATE + 2000 : RATE * 2], RATE, 660)              # looped


@pytest.mark.parametrize("case", ["missing", "not_a_wav", "silent"])
def test_a_ringtone_file_that_cannot_ring_falls_back_to_ring1_and_says_why(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.wav"
    if case == "not_a_wav":
        path.write_text("hello")
    elif case == "silent":
        write_wav(path, np.zeros(8000, dtype=np.int16), RATE)
    ring, problem = make_ringtone(str(path))
    assert problem is not None and "ring1" in problem and str(path) in problem
    assert ring.name == "ring1"
    assert np.array_equal(_play(ring, 1.0)[: RATE // 2], builtin_ringtone("ring1")[: RATE // 2])


def test_an_unknown_built_in_name_is_refused() -> None:
    with pytest.raises(ValueError, match="ring1, ring2 or ring3"):
        builtin_ringtone("ring4")
