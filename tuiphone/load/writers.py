"""JUnit XML (one testcase per call, failures with the reason) and CSV (one row per call) for a load run."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

CSV_FIELDS = ("n", "result", "sip_status", "reason", "pdd_ms", "setup_ms", "talk_s", "codec", "mos", "loss_pct",
              "jitter_ms", "rtt_ms", "rx_packets", "tx_packets", "dominant_hz", "dominant_share", "rx_level_dbfs",
              "silent_s", "heard_s", "dtmf_received", "passed", "failure", "worker")


def write_junit(path: Path, target: str, records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    suite = ET.Element("testsuite", name=f"tuiphone load {target}", tests=str(len(records)),
                       failures=str(sum(not r["passed"] for r in records)), errors="0",
                       time=f"{summary['wall_s']:.3f}")
    props = ET.SubElement(suite, "properties")
    for key in ("asr_pct", "answered", "attempts", "achieved_rate_cps", "peak_concurrency"):
        ET.SubElement(props, "property", name=key, value=str(summary[key]))
    for r in sorted(records, key=lambda r: r["n"]):
        case = ET.SubElement(suite, "testcase", classname="tuiphone.load", name=f"call {r['n']}",
                             time=f"{r['talk_s'] or 0:.3f}")
        if not r["passed"]:
            fail = ET.SubElement(case, "failure", message=r["failure"] or r["result"], type=r["result"])
            fail.text = (f"result {r['result']}, SIP {r['sip_status']} {r['reason']}, codec {r['codec']}, "
                         f"MOS {r['mos']}, heard {r['dominant_hz']} Hz ({r['dominant_share']}), "
                         f"DTMF '{r['dtmf_received']}'")
        out = ET.SubElement(case, "system-out")
        out.text = " ".join(f"{k}={r.get(k)}" for k in CSV_FIELDS)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in sorted(records, key=lambda r: r["n"]):
            w.writerow(r)
