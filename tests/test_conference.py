"""A five-party local conference mixed in pjsua's bridge: every party hears the other parties' tones.

`TUIPHONE_CONFERENCE_RUNS=30 ./scripts/test tests/test_conference.py` runs the five-party test 30 times in a
row (it once failed one run in 25: see PjsuaBackend._reinvite)."""

from __future__ import annotations

import os
import time

import pytest

from tests.test_call_control import is_state, phone, wait_for  # noqa: F401  (the `phone` fixture)
from tuiphone.audio.analysis import band_energy_ratio
from tuiphone.audio.wav import read_wav
from tuiphone.engine.events import LineState

pytestmark = pytest.mark.peers

TONES = [500, 800, 1100, 1400]


@pytest.mark.parametrize("run", range(int(os.environ.get("TUIPHONE_CONFERENCE_RUNS", "1"))))
def test_five_party_conference_mixes_every_member(phone, phones, tmp_path, run):  # noqa: F811
    members = [phones(f"p{f}", ["answer", "--tone", str(f), "--record", str(tmp_path / f"p{f}.wav"),
                                "--timeout", "40", "--json"], ready=True) for f in TONES]
    lines = []
    for member in members:
        line = phone.call(member.keypad).result(5)
        wait_for(phone.events, is_state(line, LineState.TALKING))
        lines.append(line)
    assert sorted(phone.conference().result(5)) == sorted(lines)
    time.sleep(3.0)
    bridge = phone.backend.submit(phone.backend.bridge_report).result(5)     # for the failure message
    assert all(s.state == LineState.TALKING and s.conference for s in phone.lines())
    phone.end_conference().result(5)
    received = {}   # party -> the RTP its own stream counted (the report of `tuiphone answer`)
    for f, member in zip(TONES, members, strict=False):
        received[f] = member.result(timeout=15)[1].get("calls", [{}])[0].get("rx")
    shares = {}     # party -> what share of its last two seconds (all in conference) each tone has
    for f in TONES:
        heard = read_wav(tmp_path / f"p{f}.wav")[-16000 * 2:]
        shares[f] = {other: round(band_energy_ratio(heard, 16000, other, width_hz=40), 2) for other in TONES}
    for f in TONES:
        for other in TONES:
            if other == f:
                assert shares[f][other] < 0.05, f"party {f} Hz hears itself: {shares}"
            else:
                assert shares[f][other] > 0.1, \
                    f"party {f} Hz does not hear {other} Hz: {shares}; bridge {bridge}; received {received}"


def test_conference_needs_two_calls(phone, phones):  # noqa: F811
    from tuiphone.engine.phone import PhoneError
    member = phones("one", ["answer", "--timeout", "20"], ready=True)
    line = phone.call(member.keypad).result(5)
    wait_for(phone.events, is_state(line, LineState.TALKING))
    with pytest.raises(PhoneError, match="at least two calls"):
        phone.conference().result(5)
    phone.hangup(line).result(5)


def test_a_resume_asked_while_the_hold_still_waits_wins(phone, phones):  # noqa: F811
    # a hold right after the call is up waits for the new stream's first packets; the resume asked meanwhile
    # must not be overtaken by it (the line would show talking while the call sits on hold)
    member = phones("far", ["answer", "--timeout", "20"], ready=True)
    line = phone.call(member.keypad).result(5)
    wait_for(phone.events, is_state(line, LineState.TALKING))
    phone.hold(line).result(5)
    phone.resume(line).result(5)
    time.sleep(1.5)
    # the resume's re-INVITE makes a new stream, whose counters start at 0: on a loaded machine its first
    # packets may take longer than 1.5 s; a call left on hold never gets any
    deadline = time.monotonic() + 10
    (call,) = phone.backend.submit(phone.backend.bridge_report).result(5)
    while time.monotonic() < deadline and not (call["packets"]["tx"] > 0 and call["packets"]["rx"] > 0):
        time.sleep(0.2)
        (call,) = phone.backend.submit(phone.backend.bridge_report).result(5)
    assert call["media"][0][0] == 1, f"the call is not active (1) after hold and resume: {call}"
    assert call["packets"]["tx"] > 0 and call["packets"]["rx"] > 0, (call["packets"], call)
    phone.hangup(line).result(5)


def test_a_call_with_no_sound_of_its_own_still_has_the_sound_device_sending_to_it(phone, phones):  # noqa: F811
    # pjmedia 2.15 stopped a call's RTP for good when nothing sent to its bridge slot and the call's info was
    # read while its stream started on a loaded machine (1 call in 3 with two CPU hogs): the sound device's
    # slot (silence, the null device) sends to every call, so the slot always has a source
    member = phones("far", ["answer", "--timeout", "20"], ready=True)
    line = phone.call(member.keypad).result(5)
    wait_for(phone.events, is_state(line, LineState.TALKING))
    backend = phone.backend

    def sources() -> tuple[int, list[int]]:
        (call,) = backend.bridge_report()
        devices = backend._ep.audDevManager()
        device = devices.getCaptureDevMedia()
        info = device.getPortInfo()
        return call["slot"], [int(n) for n in info.listeners]

    deadline = time.monotonic() + 5                 # the bridge applies a connection on its next tick
    slot, device_sends_to = backend.submit(sources).result(5)
    while not (slot >= 0 and slot in device_sends_to) and time.monotonic() < deadline:
        time.sleep(0.1)
        slot, device_sends_to = backend.submit(sources).result(5)
    assert slot >= 0 and slot in device_sends_to, (slot, device_sends_to)
    phone.hangup(line).result(5)
