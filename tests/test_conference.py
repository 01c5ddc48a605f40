"""A five-party local conference mixed in pjsua's bridge: every party hears the other parties' tones."""

from __future__ import annotations

import time

import pytest

from tests.test_call_control import is_state, phone, wait_for  # noqa: F401  (the `phone` fixture)
from tuiphone.audio.analysis import band_energy_ratio
from tuiphone.audio.wav import read_wav
from tuiphone.engine.events import LineState

pytestmark = pytest.mark.peers

TONES = [500, 800, 1100, 1400]


def test_five_party_conference_mixes_every_member(phone, phones, tmp_path):  # noqa: F811
    members = [phones(f"p{f}", ["answer", "--tone", str(f), "--record", str(tmp_path / f"p{f}.wav"),
                                "--timeout", "40", "--json"], ready=True) for f in TONES]
    lines = []
    for member in members:
        line = phone.call(member.keypad).result(5)
        wait_for(phone.events, is_state(line, LineState.TALKING))
        lines.append(line)
    assert sorted(phone.conference().result(5)) == sorted(lines)
    time.sleep(3.0)
    assert all(s.state == LineState.TALKING and s.conference for s in phone.lines())
    phone.end_conference().result(5)
    for member in members:
        member.result(timeout=15)
    shares = {}     # party -> what share of its last two seconds (all in conference) each tone has
    for f in TONES:
        heard = read_wav(tmp_path / f"p{f}.wav")[-16000 * 2:]
        shares[f] = {other: round(band_energy_ratio(heard, 16000, other, width_hz=40), 2) for other in TONES}
    for f in TONES:
        for other in TONES:
            if other == f:
                assert shares[f][other] < 0.05, f"party {f} Hz hears itself: {shares}"
            else:
                assert shares[f][other] > 0.1, f"party {f} Hz does not hear {other} Hz: {shares}"


def test_conference_needs_two_calls(phone, phones):  # noqa: F811
    from tuiphone.engine.phone import PhoneError
    member = phones("one", ["answer", "--timeout", "20"], ready=True)
    line = phone.call(member.keypad).result(5)
    wait_for(phone.events, is_state(line, LineState.TALKING))
    with pytest.raises(PhoneError, match="at least two calls"):
        phone.conference().result(5)
    phone.hangup(line).result(5)
