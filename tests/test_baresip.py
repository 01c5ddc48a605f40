"""tuiphone and baresip (a real softphone) call each other on loopback; each side's recording is checked
by its spectrum, tuiphone's by the test's own WAV reader and baresip's by what its sndfile module wrote."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.peers.audio_check import wav_tone

pytestmark = pytest.mark.peers

TONE_TOLERANCE_HZ = 20


def assert_tone(path: Path, hz: float, skip_s: float = 0.3) -> None:
    frequency, level = wav_tone(path, skip_seconds=skip_s)
    assert abs(frequency - hz) <= TONE_TOLERANCE_HZ, f"{path.name}: dominant {frequency:.0f} Hz, wanted {hz}"
    assert level > 0.02, f"{path.name}: level {level:.3f} is near silence"


def test_tuiphone_calls_baresip_and_each_hears_the_others_tone(baresip, phones, tmp_path):
    softphone = baresip(user="baresip", tone_hz=1000)
    ours = tmp_path / "heard-from-baresip.wav"
    caller = phones("caller", ["call", softphone.uri, "--tone", "440", "--record", str(ours),
                               "--duration", "1.5", "--json"])
    rc, report = caller.result()
    assert softphone.wait_event("CALL_CLOSED", 5), softphone.events()

    assert rc == 0, caller.stderr()
    assert report["result"] == "answered" and report["sip_status"] == 200
    assert report["codec"] == "PCMU"
    assert report["rx"]["packets"] > 40
    assert report["rx_level_dbfs"] > -20
    assert_tone(ours, 1000)
    (theirs,) = _received(softphone)
    assert_tone(theirs, 440)
    assert "CALL_ESTABLISHED" in softphone.events()


def test_baresip_calls_tuiphone_and_each_hears_the_others_tone(baresip, phones, tmp_path):
    softphone = baresip(user="baresip", tone_hz=1000)
    ours = tmp_path / "heard-from-baresip.wav"
    callee = phones("callee", ["answer", "--tone", "600", "--record", str(ours), "--duration", "1.5",
                               "--timeout", "15", "--json"], ready=True)
    softphone.dial(f"sip:tuiphone@{callee.address}")
    assert softphone.wait_event("CALL_ESTABLISHED", 5), softphone.events()
    rc, report = callee.result()
    assert softphone.wait_event("CALL_CLOSED", 5), softphone.events()

    assert rc == 0, callee.stderr()
    (call,) = report["calls"]
    assert call["result"] == "answered" and call["codec"] == "PCMU"
    assert call["remote_number"] == "baresip"
    assert 1.4 <= call["duration_s"] <= 2.2
    assert_tone(ours, 1000)
    (theirs,) = _received(softphone)
    assert_tone(theirs, 600)


def _received(softphone, timeout: float = 5.0):
    """baresip's capture of what it heard; sndfile finishes the file as the call closes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not softphone.received_wavs():
        time.sleep(0.05)
    return softphone.received_wavs()
