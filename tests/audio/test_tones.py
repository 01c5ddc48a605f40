"""Call progress tones sound like the region's phone network: right frequencies, right cadence."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from tuiphone.audio.analysis import band_energy_ratio, level_dbfs
from tuiphone.audio.tones import DTMF_KEYS, TONE_NAMES, dtmf_freqs, make_tone, tone_spec

RATE = 16000

# What the networks play (ANSI T1.401, GB 3380, BT SIN 350): frequencies, then the on/off
# cadence in ms; "once" tones play their cadence one time. Written out here, not read from
# the module, so a wrong table in tones.py fails.
EXPECTED = {
    ("us", "dial"): ((350, 440), "steady"),
    ("us", "ringback"): ((440, 480), [2000, 4000]),
    ("us", "busy"): ((480, 620), [500, 500]),
    ("us", "congestion"): ((480, 620), [250, 250]),
    ("us", "call_waiting"): ((440,), [300, 10000]),
    ("us", "confirmation"): ((350, 440), ("once", [100, 100, 100, 100, 100])),
    ("cn", "dial"): ((450,), "steady"),
    ("cn", "ringback"): ((450,), [1000, 4000]),
    ("cn", "busy"): ((450,), [350, 350]),
    ("cn", "congestion"): ((450,), [700, 700]),
    ("cn", "call_waiting"): ((450,), [400, 4000]),
    ("cn", "confirmation"): ((450,), ("once", [100, 100, 100, 100, 100])),
    ("uk", "dial"): ((350, 440), "steady"),
    ("uk", "ringback"): ((400, 450), [400, 200, 400, 2000]),
    ("uk", "busy"): ((400,), [375, 375]),
    ("uk", "congestion"): ((400,), [400, 350, 225, 525]),
    ("uk", "call_waiting"): ((400,), [100, 4000]),
    ("uk", "confirmation"): ((350, 440), ("once", [100, 100, 100, 100, 100])),
}


def _play(name: str, region: str, seconds: float, loop: bool | None = None) -> np.ndarray:
    player = make_tone(name, region, loop=loop)
    return np.concatenate([player.read(320) for _ in range(round(seconds * RATE / 320))])


def _runs(samples: np.ndarray) -> list[tuple[bool, int]]:
    """(on, ms) runs of a signal: a millisecond is on when any sample in it is audible.

    Off stretches of a tone are digital silence, and two close tones never beat down to
    silence for a whole millisecond, so this finds the cadence to a millisecond.
    """
    ms = np.abs(samples[: len(samples) // 16 * 16].astype(np.int32)).reshape(-1, 16)
    on = ms.max(axis=1) > 50
    edges = np.flatnonzero(np.diff(on.astype(int))) + 1
    bounds = np.concatenate([[0], edges, [len(on)]])
    return [(bool(on[a]), int(b - a)) for a, b in pairwise(bounds)]


def _peaks(samples: np.ndarray, count: int) -> list[float]:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    found: list[float] = []
    for i in np.argsort(spectrum)[::-1]:            # strongest first, skipping a peak's own skirt
        if all(abs(freqs[i] - f) > 20 for f in found):
            found.append(float(freqs[i]))
        if len(found) == count:
            break
    return sorted(found)


def _check_frequencies(segment: np.ndarray, freqs: tuple[int, ...]) -> None:
    assert _peaks(segment, len(freqs)) == pytest.approx(list(freqs), abs=6)
    share = sum(band_energy_ratio(segment, RATE, f, 25) for f in freqs)
    assert share > 0.97, f"only {share:.0%} of the energy is in {freqs}"


@pytest.mark.parametrize(("region", "name"), sorted(EXPECTED))
def test_tone_has_the_networks_frequencies_and_cadence(region: str, name: str) -> None:
    freqs, cadence = EXPECTED[(region, name)]
    if cadence == "steady":
        out = _play(name, region, 3.0)
        assert _runs(out) == [(True, 3000)]
        _check_frequencies(out[: RATE * 2], freqs)
        # it runs on without a seam: no level dip where the table wraps
        blocks = out.reshape(-1, 160).astype(float)
        assert np.sqrt((blocks**2).mean(axis=1)).min() > 0.9 * np.sqrt((out.astype(float) ** 2).mean())
        return
    once = isinstance(cadence, tuple)
    pattern = cadence[1] if once else cadence
    cycle = sum(pattern)
    # a looping tone is heard for exactly two cycles; a once-only one for its cadence and 0.5 s
    heard_ms = cycle + 500 if once else cycle * 2
    out = _play(name, region, heard_ms / 1000 + 0.02)[: heard_ms * 16]
    runs = _runs(out)
    expected_runs = [(i % 2 == 0, ms) for i, ms in enumerate(pattern)]
    expected_runs = expected_runs + [(False, 500)] if once else expected_runs * 2
    assert [on for on, _ in runs] == [on for on, _ in expected_runs]
    for (_, got), (_, want) in zip(runs, expected_runs, strict=False):
        assert got == pytest.approx(want, abs=2)
    start = 0
    for on, ms in runs:
        if on:
            middle = out[(start + 10) * 16 : (start + ms - 10) * 16]
            _check_frequencies(middle, freqs)
        start += ms


@pytest.mark.parametrize("key", list(DTMF_KEYS))
def test_key_feedback_plays_the_keys_two_dtmf_frequencies_once(key: str) -> None:
    table = {"1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "*": (941, 1209),
             "0": (941, 1336), "#": (941, 1477), "A": (697, 1633), "D": (941, 1633)}
    low, high = dtmf_freqs(key)
    if key in table:
        assert (low, high) == table[key]
    out = _play(f"dtmf:{key}", "us", 0.4)
    runs = _runs(out)
    assert runs[0][0] and runs[0][1] == pytest.approx(100, abs=2)
    assert runs[1:] == [(False, 400 - runs[0][1])]
    _check_frequencies(out[160:1440], (low, high))


def test_tones_are_played_at_a_comfortable_level_with_no_clicks() -> None:
    busy = _play("busy", "us", 1.0)
    assert level_dbfs(busy[:7200]) == pytest.approx(-18 + 3.0, abs=0.5)   # two tones at -18 dBFS
    # each burst fades in and out over a few ms: no full-scale jump from silence
    assert np.abs(np.diff(busy.astype(int))).max() < 2 * 32767 * 10 ** (-18 / 20) * 0.3


def test_a_once_only_tone_finishes_and_a_looping_one_never_does() -> None:
    confirm = make_tone("confirmation", "us")
    dial = make_tone("dial", "us")
    for _ in range(50):
        confirm.read(320)
        dial.read(320)
    assert confirm.finished and not confirm.read(320).any()
    assert not dial.finished and dial.read(320).any()


def test_a_looping_tone_can_be_asked_to_play_once() -> None:
    busy = make_tone("busy", "uk", loop=False)
    out = np.concatenate([busy.read(320) for _ in range(100)])
    assert [on for on, _ in _runs(out)] == [True, False]
    assert busy.finished


def test_every_tone_exists_in_every_region() -> None:
    for region in ("us", "cn", "uk"):
        for name in TONE_NAMES:
            assert tone_spec(name, region).segments


@pytest.mark.parametrize(("name", "region"), [("dail", "us"), ("busy", "fr"), ("dtmf:X", "us")])
def test_unknown_tones_regions_and_keys_are_refused_with_a_sentence(name: str, region: str) -> None:
    with pytest.raises(ValueError, match="use"):
        make_tone(name, region)
