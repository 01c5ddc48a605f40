"""The per-call record of a load run, and the run's aggregate: ASR, PDD and setup percentiles, MOS, media
failures by kind, achieved rate and peak concurrency, CPU."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any


def classify(status: int, answered: bool, timed_out: bool) -> str:
    """answered / busy / rejected / no_answer / timeout / failed; `tuiphone call` reports timeout as no_answer."""
    if answered:
        return "answered"
    if timed_out:
        return "timeout"
    if status in (408, 480, 487):
        return "no_answer"
    if status in (486, 600):
        return "busy"
    if status in (403, 603):
        return "rejected"
    return "failed"


def lost_call(n: int, worker: int, why: str) -> dict[str, Any]:
    """The record of a call whose worker went away before reporting it."""
    return {"n": n, "worker": worker, "result": "failed", "sip_status": 0, "reason": why, "pdd_ms": None,
            "setup_ms": None, "talk_s": 0.0, "codec": "", "mos": None, "loss_pct": None, "jitter_ms": None,
            "rtt_ms": None, "rx_packets": 0, "tx_packets": 0, "heard_s": 0, "silent_s": 0, "rx_level_dbfs": -120.0,
            "dominant_hz": None, "dominant_share": 0.0, "dtmf_received": "", "passed": False, "failure": why}


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _spread(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values) if values else None}


def media_kind(failure: str) -> str | None:
    """What kind of media failure a record's reason names (silence, wrong tone, DTMF, MOS), else None."""
    for key, kind in (("silence", "silence"), ("no audio", "silence"), ("wrong", "wrong_tone"),
                      ("too weak", "wrong_tone"), ("DTMF", "dtmf_lost"), ("MOS", "low_mos")):
        if key in failure:
            return kind
    return None


def aggregate(records: list[dict[str, Any]], *, attempts: int, wall_s: float, peak: int, cpu_s: float,
              placing_s: float = 0.0, min_asr: float | None = None, max_pdd_ms: float | None = None) -> dict[str, Any]:
    answered = [r for r in records if r["result"] == "answered"]
    asr = 100.0 * len(answered) / attempts if attempts else 0.0
    by_status = Counter(str(r["sip_status"] or r["result"]) for r in records if r["result"] != "answered")
    media = Counter(k for r in answered if (k := media_kind(r["failure"])))
    mos = [r["mos"] for r in answered if r.get("mos") is not None]
    pdd = [r["pdd_ms"] for r in records if r.get("pdd_ms") is not None]
    out: dict[str, Any] = {
        "attempts": attempts, "completed": len(records), "answered": len(answered), "asr_pct": round(asr, 1),
        "passed": sum(r["passed"] for r in records), "failed": sum(not r["passed"] for r in records),
        "failures_by_sip_status": dict(by_status),
        "pdd_ms": _spread(pdd),
        "setup_ms": _spread([r["setup_ms"] for r in answered if r.get("setup_ms") is not None]),
        "mos": {"min": min(mos) if mos else None, "p5": percentile(mos, 5),
                "median": percentile(mos, 50)},
        "media_failed": sum(media.values()), "media_failures": dict(media),
        # calls placed per second while placing (the first call starts the clock)
        "achieved_rate_cps": round((attempts - 1) / placing_s, 2) if attempts > 1 and placing_s >= 0.1 else None,
        "peak_concurrency": peak, "wall_s": round(wall_s, 2), "cpu_s": round(cpu_s, 2),
        "cpu_pct": round(100 * cpu_s / wall_s, 1) if wall_s > 0 else 0.0,
    }
    thresholds: dict[str, bool] = {"every_call_passed": out["failed"] == 0 and len(records) == attempts}
    if min_asr is not None:
        thresholds["min_asr"] = asr >= min_asr
        thresholds["every_call_passed"] = all(r["passed"] or r["result"] != "answered" for r in records)
    if max_pdd_ms is not None:
        thresholds["max_pdd_ms"] = bool(pdd) and max(pdd) <= max_pdd_ms
    out["thresholds"] = thresholds
    out["ok"] = all(thresholds.values())
    return out


def human(summary: dict[str, Any], target: str) -> str:
    """The report as a few lines for a terminal."""
    s = summary

    def ms(d: dict[str, float | None]) -> str:
        return " / ".join("-" if v is None else f"{v:.0f}" for v in (d["p50"], d["p95"], d["max"])) + " ms"

    mos = s["mos"]
    lines = [
        f"load {target}: {s['attempts']} calls, {s['answered']} answered, ASR {s['asr_pct']:g} %, "
        f"{s['passed']} passed, {s['failed']} failed",
        f"  PDD p50/p95/max {ms(s['pdd_ms'])}; setup {ms(s['setup_ms'])}",
        "  MOS min/p5/median " + " / ".join("-" if v is None else f"{v:.2f}"
                                           for v in (mos["min"], mos["p5"], mos["median"])),
        f"  rate {s['achieved_rate_cps'] or 0:g} calls/s, peak {s['peak_concurrency']} concurrent, "
        f"{s['wall_s']:g} s, CPU {s['cpu_s']:g} s with the workers' start ({s['cpu_pct']:g} % of one core)",
    ]
    if s["failures_by_sip_status"]:
        by_status = sorted(s["failures_by_sip_status"].items())
        lines.append("  not answered: " + ", ".join(f"{k} x{v}" for k, v in by_status))
    if s["media_failures"]:
        lines.append("  media failed: " + ", ".join(f"{k} x{v}" for k, v in sorted(s["media_failures"].items())))
    bad = [t for t, ok in s["thresholds"].items() if not ok]
    lines.append("  result: " + ("PASS" if not bad else "FAIL (" + ", ".join(bad) + ")"))
    if s.get("interrupted"):
        lines.append(f"  interrupted by {s['interrupted']}: partial report")
    return "\n".join(lines)
