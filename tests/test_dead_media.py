"""Dead media ends calls, and headless runs report when they are stopped: real tuiphone processes and SIPp.

A caller that dies mid-call (SIGKILL: no BYE) or never sends RTP is hung up by `tuiphone answer` after
`--rtp-timeout` seconds, and its JSON says why; a call the far end holds (sendonly or inactive, no RTP by
agreement) is not. SIGTERM (or SIGHUP) to `tuiphone answer` hangs up and still prints the JSON.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.peers.procs import wait_until

pytestmark = pytest.mark.peers


def in_call(proc, timeout: float = 10.0) -> None:
    """Wait until `proc` (the answering side) has the caller's ACK: the call is up."""
    assert wait_until(lambda: "\nACK sip:" in proc.trace(), timeout), proc.stderr()


def test_a_caller_killed_mid_call_is_hung_up_after_the_rtp_timeout(phones):
    callee = phones("callee", ["answer", "--rtp-timeout", "3", "--timeout", "30", "--json"], ready=True)
    caller = phones("caller", ["call", callee.keypad, "--tone", "440", "--duration", "60", "--json"])
    in_call(callee)
    time.sleep(1.0)                                   # audio flows both ways for a while
    os.kill(caller.pid, signal.SIGKILL)               # no BYE, no more RTP or RTCP
    killed = time.monotonic()
    rc, report = callee.result(timeout=20)
    took = time.monotonic() - killed
    (call,) = report["calls"]
    assert call["result"] == "answered" and call["reason"] == "no RTP for 3 s", report
    assert call["rx"]["packets"] > 20                 # it did hear the caller before
    assert 2.5 <= took <= 7.0, f"ended {took:.1f} s after the caller died"
    assert rc == 1 and "Traceback" not in callee.stderr()    # a call that lost its media failed


def test_sipp_sending_no_rtp_is_hung_up_and_tuiphone_call_obeys_it_too(sipp, phones):
    uas = sipp("uas_answer.xml", timeout=15)          # answers and sends no RTP
    start = time.monotonic()
    caller = phones("caller", ["call", uas.uri, "--rtp-timeout", "2", "--duration", "20", "--json"])
    rc, report = caller.result(timeout=20)
    assert time.monotonic() - start < 10
    assert report["result"] == "answered" and report["reason"] == "no RTP for 2 s", report
    assert 1.9 <= report["duration_s"] <= 4.5, report
    result = uas.wait(5)
    assert result.passed, result.explain()            # SIPp got a BYE and answered it
    assert result.received[-1].startswith("BYE ")
    assert rc == 1                                    # a call that lost its media failed


@pytest.mark.parametrize("direction", ["sendonly", "inactive", "recvonly"])
def test_a_call_the_far_end_holds_is_not_ended_for_its_silence(sipp, phones, direction):
    """Held (sendonly, inactive) or one-way by agreement (recvonly: it only listens): silence is expected."""
    callee = phones("callee", ["answer", "--rtp-timeout", "2", "--timeout", "20", "--json"], ready=True)
    uac = sipp("uac_hold_silent.xml", remote=callee.address, service="2000", pause_ms=3500,
               keys={"direction": direction}, timeout=15)
    result = uac.wait()
    rc, report = callee.result(timeout=15)
    assert result.passed, result.explain()            # the hold was answered, and SIPp's BYE ended the call
    (call,) = report["calls"]
    assert call["result"] == "answered" and "no RTP" not in call["reason"], report
    assert call["duration_s"] >= 3.2, report              # well past the 2 s timeout
    assert rc == 0


def test_sigterm_in_a_call_hangs_up_and_prints_the_report(phones):
    sig = signal.SIGTERM
    callee = phones("callee", ["answer", "--tone", "1000", "--timeout", "30", "--json"], ready=True)
    caller = phones("caller", ["call", callee.keypad, "--tone", "440", "--duration", "30", "--json"])
    in_call(callee)
    time.sleep(1.0)
    os.kill(callee.pid, sig)
    rc, report = callee.result(timeout=10)
    assert rc == 1, callee.stderr()
    assert report["interrupted"] == sig.name
    (call,) = report["calls"]
    assert call["result"] == "answered" and call["reason"] == f"interrupted by {sig.name}", report
    assert call["duration_s"] >= 0.8 and call["rx"]["packets"] > 20
    crc, creport = caller.result(timeout=10)          # the caller was sent a BYE, not left talking
    assert creport["result"] == "answered" and creport["duration_s"] < 10, creport


def test_sighup_while_waiting_for_calls_prints_an_empty_report(phones):
    callee = phones("callee", ["answer", "--timeout", "30", "--json"], ready=True)
    os.kill(callee.pid, signal.SIGHUP)
    rc, report = callee.result(timeout=10)
    assert (rc, report) == (1, {"answered": 0, "calls": [], "interrupted": "SIGHUP"})
