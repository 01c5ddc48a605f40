"""The load run's media check and report, without SIP: tones from the preallocated buffer, the 1 s block
analysis, the verdicts, the aggregate's percentiles and thresholds, JUnit and CSV."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tuiphone.load.media import BlockAnalyser, LoopedTone, Silence, WavTail, tone_verdict
from tuiphone.load.record import aggregate, percentile
from tuiphone.load.writers import write_csv, write_junit


def feed(analyser: BlockAnalyser, source, seconds: float) -> None:
    for _ in range(int(seconds * 50)):
        analyser.write(np.array(source.read(320)))


@pytest.mark.parametrize("hz", [440.0, 1000.0, 697.0, 3150.0])
def test_a_looped_tone_is_heard_as_its_frequency_and_passes(hz) -> None:
    a = BlockAnalyser()
    feed(a, LoopedTone(hz), 3.1)
    heard = a.result()
    assert heard.seconds == 3 and heard.silent_seconds == 0
    assert abs(heard.dominant_hz - hz) <= 1 and heard.share > 0.9
    assert tone_verdict(heard, hz) is None
    assert tone_verdict(heard, hz + 100).startswith("wrong tone")


def test_the_looped_tone_joins_its_loop_without_a_jump() -> None:
    tone = LoopedTone(440.0)
    x = np.concatenate([tone.read(320).copy() for _ in range(200)]).astype(float)   # 4 s: three loop joins
    ref = np.rint(32767 * 10 ** (-12 / 20) * np.sin(2 * np.pi * 440 * np.arange(len(x)) / 16000))
    assert np.max(np.abs(x - ref)) <= 1


def test_silence_fails_as_one_way_audio_and_too_short_a_call_as_no_audio() -> None:
    a = BlockAnalyser()
    feed(a, Silence(), 2.0)
    assert tone_verdict(a.result(), 1000).startswith("silence")
    b = BlockAnalyser()
    feed(b, LoopedTone(1000), 0.5)
    assert tone_verdict(b.result(), 1000).startswith("no audio heard")


def test_the_analyser_takes_what_a_file_grew_by_in_any_size_and_the_tail_reads_a_growing_wav(tmp_path) -> None:
    """What pjmedia's recorder writes is read once a second in chunks of any size (more than a block, too)."""
    from tuiphone.audio.wav import WavWriter

    tone = LoopedTone(1000)
    path = tmp_path / "heard.wav"
    w = WavWriter(path, 16000)
    tail = WavTail(str(path), temporary=True)
    a = BlockAnalyser()
    for seconds in (0.7, 1.9, 0.45):
        w.write(tone.read(int(seconds * 16000)).copy())
        w._file.flush()
        a.write(tail.read())
    w.close()
    assert not path.exists()             # a temporary file is unlinked once open; its data is still read
    tail.close()
    heard = a.result()
    assert heard.seconds == 3 and abs(heard.dominant_hz - 1000) <= 1 and tone_verdict(heard, 1000) is None


def rec(n: int, **kw) -> dict:
    base = {"n": n, "result": "answered", "sip_status": 200, "reason": "OK", "pdd_ms": 10.0 * n,
            "setup_ms": 20.0 * n, "talk_s": 2.0, "codec": "PCMU", "mos": 4.4, "loss_pct": 0.0, "jitter_ms": 1.0,
            "rtt_ms": 1.0, "rx_packets": 100, "tx_packets": 100, "dominant_hz": 1000.0, "dominant_share": 0.99,
            "rx_level_dbfs": -15.0, "silent_s": 0, "heard_s": 2, "dtmf_received": "", "passed": True,
            "failure": "", "worker": 0}
    return {**base, **kw}


def test_the_aggregate_counts_asr_percentiles_and_media_failures(tmp_path) -> None:
    records = [rec(i) for i in range(1, 9)]
    records.append(rec(9, passed=False, failure="silence: nothing audible from the far end (one-way audio)"))
    records.append(rec(10, result="busy", sip_status=486, reason="Busy Here", pdd_ms=5.0, setup_ms=None,
                       mos=None, passed=False, failure="not answered: 486 Busy Here"))
    s = aggregate(records, attempts=10, wall_s=5.0, peak=4, cpu_s=1.0, placing_s=3.0, min_asr=90)
    assert (s["answered"], s["asr_pct"], s["failed"]) == (9, 90.0, 2)
    assert s["failures_by_sip_status"] == {"486": 1} and s["media_failures"] == {"silence": 1}
    assert s["pdd_ms"] == {"p50": 40.0, "p95": 90.0, "max": 90.0} and s["achieved_rate_cps"] == 3.0
    # with --min-asr, an unanswered call fails only the ASR threshold; the silent call still fails the run
    assert s["thresholds"] == {"every_call_passed": False, "min_asr": True} and not s["ok"]
    assert percentile([], 50) is None
    junit, csv_path = tmp_path / "j.xml", tmp_path / "c.csv"
    write_junit(junit, "1002", records, s)
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "10" and suite.get("failures") == "2"
    failures = [c.find("failure") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [f.get("message") for f in failures] == [records[8]["failure"], "not answered: 486 Busy Here"]
    write_csv(csv_path, records)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and rows[9]["sip_status"] == "486"
