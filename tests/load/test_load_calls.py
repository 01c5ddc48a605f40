"""`tuiphone load` and `tuiphone answer --max-concurrent` as real processes on 127.0.0.1: many calls at once,
a media check on every call, the aggregate report, JUnit, and every call ended (and every worker gone) at the
end, a Ctrl-C included."""

from __future__ import annotations

import os
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.phoneproc import PhoneProc

pytestmark = pytest.mark.peers


def children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def proc(tmp_path):
    started: list[PhoneProc] = []

    def make(name: str, args: list[str], config: dict | None = None, ready: bool = False) -> PhoneProc:
        p = PhoneProc(tmp_path, name, args, config).start()
        started.append(p)
        if ready:
            p.wait_ready()
        return p

    yield make
    for p in started:
        p.stop()


def test_load_40_calls_20_at_once_against_a_concurrent_answer_all_pass_with_junit(proc, tmp_path) -> None:
    rec = tmp_path / "rec" / "call.wav"
    rec.parent.mkdir()
    answer = proc("answer", ["answer", "--tone", "1000", "--max-concurrent", "20", "--count", "40",
                             "--record", str(rec), "--timeout", "30", "--json"], ready=True)
    junit, csv = tmp_path / "load.xml", tmp_path / "load.csv"
    load = proc("load", ["load", f"sip:test@{answer.address}", "--calls", "40", "--concurrency", "20",
                         "--rate", "20", "--duration", "2", "--tone", "440", "--expect-tone", "1000",
                         "--dtmf", "12#", "--min-asr", "100", "--junit", str(junit), "--csv", str(csv), "--json"])
    rc, report = load.result(60)
    s = report["summary"]
    assert rc == 0, (s, [c["failure"] for c in report["calls"] if not c["passed"]], load.stderr())
    assert (s["attempts"], s["answered"], s["asr_pct"], s["failed"]) == (40, 40, 100.0, 0)
    assert s["peak_concurrency"] == 20 and s["workers"] == 5
    assert s["python_frame_ports"] == 0         # every call's audio is pjmedia's: no Python per frame
    assert all(abs(c["dominant_hz"] - 1000) <= 2 and c["codec"] == "PCMU" and c["mos"] >= 4.0 for c in report["calls"])
    assert s["pdd_ms"]["max"] is not None and s["setup_ms"]["p95"] is not None
    suite = ET.parse(junit).getroot()
    cases = suite.findall("testcase")
    assert len(cases) == 40 and not suite.findall(".//failure")
    assert len(csv.read_text().splitlines()) == 41
    rc, answered = answer.result(30)
    assert rc == 0, answer.stderr()
    assert answered["answered"] == 40 and answered["python_frame_ports"] == 0
    # each call its own: what it heard (our 440 Hz), its DTMF, its quality, its recording NAME-N.wav
    assert all(abs(c["dominant_hz"] - 440) <= 2 and c["dtmf_received"] == "12#" and c["mos"] >= 4.0
               for c in answered["calls"])
    assert sorted(p.name for p in rec.parent.iterdir()) == sorted(f"call-{i}.wav" for i in range(1, 41))


def test_sipp_uac_at_10_calls_per_second_20_at_once_gets_every_call_answered_and_ended(proc, sipp) -> None:
    answer = proc("answer", ["answer", "--tone", "1000", "--max-concurrent", "20", "--count", "40",
                             "--timeout", "30", "--json"], ready=True)
    run = sipp("uac", remote=answer.address, calls=40, timeout=30, pause_ms=1500,
               extra_args=["-r", "10", "-l", "20"])
    result = run.wait(40)
    assert result.passed, result.explain()
    rc, report = answer.result(30)
    assert rc == 0, answer.stderr()
    assert report["answered"] == 40 and all(c["passed"] and c["reason"] for c in report["calls"])


def test_load_against_sipp_rtp_echo_hears_its_own_tone_back(proc, sipp) -> None:
    uas = sipp("uas", calls=4, timeout=30, rtp_echo=True)
    load = proc("load", ["load", f"sip:echo@{uas.address}", "--calls", "4", "--concurrency", "4", "--rate", "10",
                         "--duration", "2", "--tone", "700", "--expect-echo", "--json"])
    rc, report = load.result(40)
    assert rc == 0, ([c["failure"] for c in report.get("calls", [])], load.stderr())
    assert all(abs(c["dominant_hz"] - 700) <= 2 for c in report["calls"])
    assert uas.wait(10).passed


def test_load_against_answer_echo_hears_its_own_tone_back(proc) -> None:
    """answer --echo sends each call's own audio back (the call's slot joined to itself in the bridge)."""
    answer = proc("answer", ["answer", "--echo", "--max-concurrent", "4", "--count", "4", "--timeout", "30",
                             "--json"], ready=True)
    load = proc("load", ["load", f"sip:echo@{answer.address}", "--calls", "4", "--concurrency", "4", "--rate", "0",
                         "--duration", "2", "--tone", "700", "--expect-echo", "--json"])
    rc, report = load.result(40)
    assert rc == 0, ([c["failure"] for c in report.get("calls", [])], load.stderr())
    assert all(abs(c["dominant_hz"] - 700) <= 2 for c in report["calls"])
    rc, answered = answer.result(30)
    assert rc == 0 and all(abs(c["dominant_hz"] - 700) <= 2 for c in answered["calls"])


def test_load_through_kamailio_with_digest_auth(proc, kamailio) -> None:
    """Kamailio challenges every INVITE from 1001 with 407 (tests/peers/kamailio): a call without the account's
    digest credentials is refused, so 6 answered calls mean each INVITE was authenticated."""
    server = f"{kamailio.host}:{kamailio.port}"

    def account(user: str) -> dict:
        return {"accounts": [{"sip_server": server, "user_id": user, "password": kamailio.users[user],
                              "mwi": False, "codecs": ["PCMU"]}]}
    answer = proc("answer", ["answer", "--account", "1", "--tone", "1000", "--max-concurrent", "4", "--count",
                             "6", "--timeout", "30", "--json"], config=account("1002"), ready=True)
    load = proc("load", ["load", "1002", "--account", "1", "--calls", "6", "--concurrency", "3", "--rate", "10",
                         "--duration", "2", "--expect-tone", "1000", "--json"], config=account("1001"))
    rc, report = load.result(40)
    assert rc == 0, ([c["failure"] for c in report.get("calls", [])], load.stderr())
    assert report["uri"].startswith("sip:1002@") and report["summary"]["answered"] == 6
    assert answer.result(30)[0] == 0


def test_a_far_end_sending_silence_fails_the_tone_check_and_the_run(proc) -> None:
    answer = proc("answer", ["answer", "--max-concurrent", "4", "--count", "4", "--timeout", "30", "--json"],
                  ready=True)
    load = proc("load", ["load", f"sip:x@{answer.address}", "--calls", "4", "--concurrency", "4", "--rate", "0",
                         "--duration", "2", "--tone", "440", "--expect-tone", "1000", "--json"])
    rc, report = load.result(40)
    s = report["summary"]
    assert rc == 1 and s["answered"] == 4 and s["failed"] == 4
    assert s["media_failures"] == {"silence": 4}
    assert all(c["failure"].startswith("silence") for c in report["calls"])


def test_a_far_end_rejecting_half_the_calls_gives_asr_50_and_fails_min_asr(proc) -> None:
    answer = proc("answer", ["answer", "--tone", "1000", "--max-concurrent", "8", "--reject-percent", "50",
                             "--count", "8", "--timeout", "30", "--json"], ready=True)
    load = proc("load", ["load", f"sip:x@{answer.address}", "--calls", "8", "--concurrency", "8", "--rate", "20",
                         "--duration", "2", "--expect-tone", "1000", "--min-asr", "90", "--json"])
    rc, report = load.result(40)
    s = report["summary"]
    assert rc == 1 and s["asr_pct"] == 50.0
    assert s["thresholds"] == {"every_call_passed": True, "min_asr": False}
    assert s["failures_by_sip_status"] == {"486": 4}
    assert answer.result(30)[0] == 0


def recordings(rec: Path) -> int:
    """Calls the answering side has up or had (each answered call's recording is made when it is answered)."""
    return len(list(rec.parent.glob(f"{rec.stem}-*.wav")))


def test_ctrl_c_mid_run_prints_the_partial_report_and_ends_every_call(proc, tmp_path) -> None:
    rec = tmp_path / "rec" / "call.wav"
    rec.parent.mkdir()
    answer = proc("answer", ["answer", "--tone", "1000", "--max-concurrent", "8", "--count", "1000",
                             "--record", str(rec), "--timeout", "60", "--json"], ready=True)
    load = proc("load", ["load", f"sip:x@{answer.address}", "--calls", "1000", "--concurrency", "8",
                         "--rate", "10", "--duration", "30", "--json"])
    deadline = time.monotonic() + 60
    while recordings(rec) < 8 and time.monotonic() < deadline:    # 8 calls up: the run is in full swing
        time.sleep(0.1)
    workers = children(load.pid)
    assert len(workers) == 2 and recordings(rec) >= 8, load.stderr()
    os.kill(load.pid, signal.SIGINT)
    rc, report = load.result(20)
    assert "summary" in report, (rc, load.stderr())
    s = report["summary"]
    assert rc == 1 and s["interrupted"] == "SIGINT"
    assert 8 <= s["attempts"] < 1000 and s["completed"] == s["attempts"]
    assert all(c["failure"].startswith("interrupted") for c in report["calls"])
    assert not any(alive(pid) for pid in workers)
    # the answering side saw every call end (a BYE or CANCEL from each): none left up
    os.kill(answer.pid, signal.SIGINT)
    rc, answered = answer.result(20)
    assert len(answered["calls"]) == s["attempts"]
    assert not any(c["failure"].startswith("interrupted") for c in answered["calls"])


def test_a_load_worker_that_dies_mid_run_fails_its_calls_and_the_run_still_ends(proc, tmp_path) -> None:
    rec = tmp_path / "rec" / "call.wav"
    rec.parent.mkdir()
    answer = proc("answer", ["answer", "--tone", "1000", "--max-concurrent", "8", "--count", "8", "--timeout", "20",
                             "--record", str(rec), "--json"], ready=True)
    load = proc("load", ["load", f"sip:x@{answer.address}", "--calls", "8", "--concurrency", "8", "--rate", "0",
                         "--duration", "3", "--json"])
    deadline = time.monotonic() + 60
    while recordings(rec) < 8 and time.monotonic() < deadline:    # every call up: each worker has its 4
        time.sleep(0.05)
    assert len(children(load.pid)) == 2 and recordings(rec) == 8, load.stderr()
    victim = sorted(children(load.pid))[0]
    os.kill(victim, signal.SIGKILL)
    rc, report = load.result(30)
    s = report["summary"]
    assert rc == 1 and s["completed"] == 8
    lost = [c for c in report["calls"] if c["failure"].startswith("the load worker ended")]
    assert len(lost) == 4 and s["passed"] == 4
