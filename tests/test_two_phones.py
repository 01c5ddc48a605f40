"""Two (or three) real tuiphone processes calling each other on loopback; audio checked by its spectrum."""

from __future__ import annotations

import pytest

from tuiphone.audio.analysis import dominant_frequency
from tuiphone.audio.wav import read_wav

pytestmark = pytest.mark.peers




def _tone_of(path, skip_s: float = 0.3) -> float:
    samples = read_wav(path)
    assert len(samples) > 16000 * (skip_s + 0.5), f"{path} holds only {len(samples) / 16000:.2f} s"
    return dominant_frequency(samples[int(16000 * skip_s):], 16000)


def test_tone_each_way_arrives_by_spectrum(phones, tmp_path):
    callee = phones("callee", ["answer", "--tone", "1000", "--record", str(tmp_path / "callee.wav"),
                               "--timeout", "20", "--json"], ready=True)
    caller = phones("caller", ["call", callee.keypad, "--tone", "440", "--record", str(tmp_path / "caller.wav"),
                               "--duration", "2", "--json"])
    rc, report = caller.result()
    assert rc == 0, caller.stderr()
    assert report["result"] == "answered"
    assert report["sip_status"] == 200
    assert report["rx"]["packets"] > 50
    assert report["mos"] >= 4.0
    assert report["setup_ms"] is not None and report["setup_ms"] < 2000
    rc, answered = callee.result()
    assert rc == 0
    assert answered["answered"] == 1
    assert abs(_tone_of(tmp_path / "callee.wav") - 440) < 20
    assert abs(_tone_of(tmp_path / "caller.wav") - 1000) < 20


def test_dtmf_rfc2833_reaches_the_far_end(phones):
    callee = phones("callee", ["answer", "--timeout", "20", "--json"], ready=True)
    caller = phones("caller", ["call", callee.keypad, "--dtmf", "159#", "--duration", "2.5", "--json"])
    assert caller.result()[0] == 0
    rc, report = callee.result()
    assert rc == 0
    assert report["calls"][0]["dtmf_received"] == "159#"


def test_dtmf_sip_info_reaches_the_far_end(phones):
    callee = phones("callee", ["answer", "--timeout", "20", "--json"], ready=True)
    config = {"accounts": [{"sip_server": callee.address, "user_id": "2001", "register": False, "dtmf": "info"}]}
    caller = phones("caller", ["call", f"sip:100@{callee.address}", "--account", "1", "--dtmf", "42",
                               "--duration", "2.5", "--json"], config=config)
    assert caller.result()[0] == 0, caller.stderr()
    rc, report = callee.result()
    assert report["calls"][0]["dtmf_received"] == "42"
    assert "INFO sip:" in caller.trace()
    assert "application/dtmf-relay" in caller.trace()


def test_expect_dtmf_passes_and_fails(phones):
    callee = phones("callee", ["answer", "--dtmf", "77", "--count", "2", "--timeout", "30"], ready=True)
    good = phones("good", ["call", callee.keypad, "--expect-dtmf", "77", "--duration", "2", "--json"])
    rc, report = good.result()
    assert rc == 0, report
    assert report["checks"]["expect_dtmf"] is True
    bad = phones("bad", ["call", callee.keypad, "--expect-dtmf", "99", "--duration", "2", "--json"])
    rc, report = bad.result()
    assert rc == 1
    assert report["result"] == "answered"
    assert report["dtmf_received"] == "77"
    assert report["checks"]["expect_dtmf"] is False


def test_min_mos_check_fails_when_too_high_for_the_call(phones):
    callee = phones("callee", ["answer", "--timeout", "20"], ready=True)
    caller = phones("caller", ["call", callee.keypad, "--min-mos", "4.5", "--duration", "1.5", "--json"])
    rc, report = caller.result()
    assert report["result"] == "answered"
    assert report["mos"] < 4.5
    assert rc == 1 and report["checks"]["min_mos"] is False


def test_do_not_disturb_phone_answers_busy(phones):
    callee = phones("callee", ["answer", "--timeout", "4", "--json"], config={"features": {"dnd": True}},
                    ready=True)
    caller = phones("caller", ["call", callee.keypad, "--json"])
    rc, report = caller.result()
    assert rc == 1
    assert report["result"] == "busy"
    assert report["sip_status"] == 486
    rc, _ = callee.result()
    assert rc == 1      # nothing was answered


def test_cancel_before_answer_stops_the_ringing(phones):
    callee = phones("callee", ["answer", "--ring", "20", "--timeout", "20", "--json"], ready=True)
    caller = phones("caller", ["call", callee.keypad, "--timeout", "1", "--json"])
    rc, report = caller.result()
    assert rc == 1
    assert report["result"] == "no_answer"
    assert report["sip_status"] == 487
    rc, answered = callee.result()
    assert rc == 1
    assert answered["calls"][0]["result"] == "no_answer"
    assert "CANCEL sip:" in callee.trace()


def test_call_waiting_takes_a_second_call_on_line_two(phones):
    callee = phones("callee", ["answer", "--count", "2", "--timeout", "20", "--json"], ready=True)
    first = phones("first", ["call", callee.keypad, "--duration", "4", "--json"])
    import time
    time.sleep(1.0)
    second = phones("second", ["call", callee.keypad, "--duration", "1", "--json"])
    assert second.result()[1]["result"] == "answered"
    assert first.result()[1]["result"] == "answered"
    rc, report = callee.result()
    assert rc == 0
    assert sorted(c["line"] for c in report["calls"]) == [1, 2]


def test_no_call_waiting_gives_the_second_caller_busy(phones):
    callee = phones("callee", ["answer", "--count", "1", "--timeout", "20", "--json"],
                    config={"features": {"call_waiting": False}}, ready=True)
    first = phones("first", ["call", callee.keypad, "--duration", "4", "--json"])
    import time
    time.sleep(1.0)
    second = phones("second", ["call", callee.keypad, "--json"])
    rc, report = second.result()
    assert report["result"] == "busy" and report["sip_status"] == 486
    assert first.result()[1]["result"] == "answered"


def test_echo_service_plays_back_what_it_hears(phones, tmp_path):
    from tests.services.helpers import daemon_proc

    callee, _ = daemon_proc(tmp_path, "callee", cti=False)      # a running phone offers the echo test
    try:
        callee.start().wait_ready()
        caller = phones("caller", ["call", f"sip:echo@{callee.address}", "--tone", "700", "--record",
                                   str(tmp_path / "echo.wav"), "--duration", "3", "--json"])
        rc, report = caller.result()
    finally:
        callee.stop()
    assert rc == 0, report
    samples = read_wav(tmp_path / "echo.wav")
    assert abs(dominant_frequency(samples[16000 * 3 // 2:], 16000) - 700) < 20
    # the first ~second is silence: it is an echo, not a loop
    assert abs(samples[: 16000 * 8 // 10]).max() < 1000


def test_answer_takes_calls_to_echo_too_and_reports_them(phones, tmp_path):
    """In `tuiphone answer` every call that arrives is the command's, sip:echo@ included: it answers it with its
    own --echo, counts it and reports its DTMF (the built-in echo test is for running phones)."""
    callee = phones("callee", ["answer", "--echo", "--count", "1", "--timeout", "20", "--json"], ready=True)
    caller = phones("caller", ["call", f"sip:echo@{callee.address}", "--tone", "700", "--record",
                               str(tmp_path / "echo.wav"), "--dtmf", "42#", "--duration", "3", "--json"])
    rc, report = caller.result()
    assert rc == 0 and report["result"] == "answered", report
    rc, answered = callee.result(timeout=15)
    assert rc == 0, (answered, callee.stderr())
    assert answered["answered"] == 1 and answered["calls"][0]["dtmf_received"] == "42#", answered
    assert abs(_tone_of(tmp_path / "echo.wav", skip_s=1.5) - 700) < 20      # its --echo played it back


def test_star43_calls_the_phones_own_echo_test(phones, tmp_path):
    caller = phones("caller", ["call", "*43", "--tone", "900", "--record", str(tmp_path / "echo.wav"),
                               "--duration", "3", "--json"])
    rc, report = caller.result()
    assert rc == 0, caller.stderr()
    assert abs(_tone_of(tmp_path / "echo.wav", skip_s=1.5) - 900) < 20


def test_bad_direct_ip_is_refused_before_any_sip(phones):
    caller = phones("caller", ["call", "999*1*1*1", "--json"])
    rc, report = caller.result()
    assert rc == 1
    assert report["result"] == "failed"
    assert "999" in report["reason"]
    assert "INVITE" not in caller.trace()
