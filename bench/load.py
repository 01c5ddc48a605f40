"""Trunk tests at load, side by side on 127.0.0.1: verified calls (`tuiphone load` against `tuiphone answer`),
the same calls between bare pjsua2 processes with no checks, and SIPp for calls per second.

    python bench/load.py [--levels 40,80,120,160,200] [--duration 10] [--bare-calls 40]
                         [--bare-levels 40,80,120,160,200] [--rate-calls 400] [--rate-concurrency 120]
                         [--sipp-calls 3000] [--json]

1. verified: per level C, `answer --tone 1000 --max-concurrent C` and `load --calls C --concurrency C
   --rate 50 --duration D --tone 440 --expect-tone 1000`; a level passes when every call passed. CPU is taken
   while all C calls are up: the load side measures its own tree (SteadyCpu in tuiphone/load/run.py), this
   script samples the answer tree (/proc) over the same seconds. Stops at the first level that fails.
2. bare: C/4 pairs of `bare_pjsua.py caller|callee` (4 calls each, the wheel's limit), G.711 first, one
   AudioMediaPort per call in Python on the caller (tone out, every frame read), a C tone generator in the
   callee; the callers' busy CPU window with every call up, the callees sampled in the middle of it. At
   --bare-calls for the CPU ratio, then at each of --bare-levels for bare pjsua2's own ceiling on this box
   (a level holds when every call was established and stayed up; the worst loss and jitter are shown);
   with --bare-c-media those calls have no Python per frame either (C tones both ways, an 8 kHz bridge).
3. rate: `load --calls N --concurrency C --rate 0 --duration 1.5 --expect-tone 1000` (one 1 s block checked
   per call) for new verified calls per second; SIPp `-sn uac` against `-sn uas` (signalling only, no pause).
Every process is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
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


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])
    return total / TICK


def tuiphone(tmp: Path, name: str, args: list[str], port: int = 0) -> subprocess.Popen:
    """A tuiphone process; its stdout goes to NAME.out (a report of 100+ calls fills a pipe: read_out)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tuiphone", "--config", str(tmp / f"{name}.toml"), "--data-dir",
                             str(tmp / f"{name}-data"), "--port", str(port), "--bind", "127.0.0.1", *args],
                            stdout=open(tmp / f"{name}.out", "wb"), stderr=open(tmp / f"{name}.err", "wb"),
                            start_new_session=True, env=env, cwd=tmp)


def read_out(tmp: Path, name: str) -> dict[str, Any]:
    out = (tmp / f"{name}.out").read_text()
    return json.loads(out) if out.strip() else {}


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.kill(p.pid, signal.SIGINT)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)


def wait_answering(port: int, timeout: float = 60.0) -> None:
    from tuiphone.engine.options import OptionsPinger, OptionsTarget

    deadline = time.monotonic() + timeout
    with OptionsPinger(OptionsTarget.parse(f"127.0.0.1:{port}"), bind="127.0.0.1", timeout=0.3) as pinger:
        while time.monotonic() < deadline:
            if pinger.ping().sip_status == 200:
                return
    raise RuntimeError(f"answer did not come up on port {port}")


def verified_level(tmp: Path, calls: int, duration: float, progress) -> dict[str, Any]:
    port = free_port()
    answer = tuiphone(tmp, f"answer-{calls}", ["answer", "--tone", "1000", "--max-concurrent", str(calls),
                                               "--count", str(calls), "--timeout", "30", "--json"], port)
    samples: list[tuple[float, float]] = []
    try:
        wait_answering(port)
        load = tuiphone(tmp, f"load-{calls}", ["load", f"sip:bench@127.0.0.1:{port}", "--calls", str(calls),
                                               "--concurrency", str(calls), "--rate", "50", "--duration",
                                               str(duration), "--tone", "440", "--expect-tone", "1000", "--json"])
        while load.poll() is None:
            samples.append((time.time(), cpu_s([answer.pid, *children(answer.pid)])))
            time.sleep(0.25)
        report = read_out(tmp, f"load-{calls}")
    finally:
        stop(answer)
    s = report.get("summary", {})
    steady = s.get("steady_cpu") or {}
    res: dict[str, Any] = {"calls": calls, "passed": s.get("passed", 0), "failed": s.get("failed", calls),
                           "ok": bool(s.get("ok")), "pdd_p95_ms": (s.get("pdd_ms") or {}).get("p95"),
                           "setup_p95_ms": (s.get("setup_ms") or {}).get("p95"),
                           "mos_min": (s.get("mos") or {}).get("min"),
                           "load_cpu_pct_per_call": steady.get("cpu_pct_per_call"),
                           "media_failures": s.get("media_failures")}
    if steady and samples:
        def at(t: float) -> tuple[float, float]:
            return min(samples, key=lambda x: abs(x[0] - t))
        a, b = at(steady["from_unix"]), at(steady["to_unix"])
        if b[0] > a[0]:
            res["answer_cpu_pct_per_call"] = round(100 * (b[1] - a[1]) / (b[0] - a[0]) / calls, 3)
    if res.get("load_cpu_pct_per_call") is not None and res.get("answer_cpu_pct_per_call") is not None:
        res["both_cpu_pct_per_call"] = round(res["load_cpu_pct_per_call"] + res["answer_cpu_pct_per_call"], 3)
    progress(f"verified {calls}: {res['passed']}/{calls} passed, CPU per call {res.get('both_cpu_pct_per_call')} % "
             "(both sides)")
    return res


def bare(tmp: Path, calls: int, window: float, progress) -> dict[str, Any]:
    from call_setup import Worker

    os.environ["BARE_PJSUA_CODECS"] = "PCMU,PCMA,G722"
    pairs = max(1, calls // 4)
    procs: list[Any] = []
    try:
        callees = [Worker(f"callee{i}", [sys.executable, str(HERE / "bare_pjsua.py"), "callee"], tmp)
                   for i in range(pairs)]
        callers = [Worker(f"caller{i}", [sys.executable, str(HERE / "bare_pjsua.py"), "caller"], tmp)
                   for i in range(pairs)]
        procs = callees + callers
        for w in procs:
            w.ready(60)
        settle = 1.0
        t0 = time.monotonic()
        for caller, callee in zip(callers, callees, strict=True):
            assert caller.proc.stdin is not None
            caller.proc.stdin.write(json.dumps({"cmd": "cpu", "uri": f"sip:bench@{callee.address}", "calls": 4,
                                                "window": window, "settle": settle, "timeout": 10}) + "\n")
            caller.proc.stdin.flush()
        # the callees: sampled in the middle of the callers' busy window (after idle window, setup and settle)
        mid_from = t0 + settle + window + 1.0 + settle + 0.5
        while time.monotonic() < mid_from:
            time.sleep(0.05)
        pids = [w.proc.pid for w in callees]
        c0, w0 = cpu_s(pids), time.monotonic()
        time.sleep(max(0.5, window - 1.5))
        callee_pct = 100 * (cpu_s(pids) - c0) / (time.monotonic() - w0)
        replies = [c.reply(window * 2 + 30) for c in callers]
    finally:
        for w in reversed(procs):
            w.stop()
    est = sum(r["established"] for r in replies)
    caller_pct = sum(100 * r["busy_cpu_s"] / r["busy_wall_s"] for r in replies)
    res = {"calls": pairs * 4, "established": est, "ok": all(r["ok"] for r in replies),
           "max_loss_pct": round(max(r.get("max_loss_pct", 0.0) for r in replies), 2),
           "max_jitter_ms": round(max(r.get("max_jitter_ms", 0.0) for r in replies), 1),
           "cpu_pct": round(caller_pct + callee_pct, 1),
           "caller_cpu_pct_per_call": round(caller_pct / max(1, est), 3),
           "callee_cpu_pct_per_call": round(callee_pct / max(1, est), 3)}
    res["both_cpu_pct_per_call"] = round(res["caller_cpu_pct_per_call"] + res["callee_cpu_pct_per_call"], 3)
    progress(f"bare {res['calls']}: {est} established, CPU {res['cpu_pct']} % = {res['both_cpu_pct_per_call']} % "
             f"per call (both sides), worst loss {res['max_loss_pct']} %, jitter {res['max_jitter_ms']} ms")
    return res


def verified_rate(tmp: Path, calls: int, concurrency: int, progress) -> dict[str, Any]:
    port = free_port()
    answer = tuiphone(tmp, "answer-rate", ["answer", "--tone", "1000", "--max-concurrent", str(concurrency),
                                           "--count", str(calls), "--timeout", "30", "--json"], port)
    try:
        wait_answering(port)
        load = tuiphone(tmp, "load-rate", ["load", f"sip:bench@127.0.0.1:{port}", "--calls", str(calls),
                                           "--concurrency", str(concurrency), "--rate", "0", "--duration", "1.5",
                                           "--tone", "440", "--expect-tone", "1000", "--json"])
        load.wait(timeout=300)
        s = read_out(tmp, "load-rate").get("summary", {})
    finally:
        stop(answer)
    res = {"calls": calls, "concurrency": concurrency, "passed": s.get("passed", 0),
           "verified_calls_per_s": s.get("achieved_rate_cps")}
    progress(f"rate: {res['passed']}/{calls} verified at {res['verified_calls_per_s']} calls/s")
    return res


def sipp_rate(tmp: Path, calls: int, progress) -> dict[str, Any]:
    port, uport = free_port(), free_port()
    uas = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-m",
                            str(calls)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        uac = subprocess.run(["sipp", f"127.0.0.1:{port}", "-sn", "uac", "-i", "127.0.0.1", "-p", str(uport),
                              "-nostdin", "-m", str(calls), "-r", "2000", "-l", "200", "-d", "0",
                              "-timeout", "120s", "-timeout_error"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=150)
        wall = time.monotonic() - t0
    finally:
        stop(uas)
    res = {"calls": calls, "ok": uac.returncode == 0, "calls_per_s": round(calls / wall, 1)}
    progress(f"sipp: {calls} calls in {wall:.1f} s = {res['calls_per_s']} calls/s (exit {uac.returncode})")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="40,80,120,160,200", help="concurrent verified calls to try, in order")
    ap.add_argument("--duration", type=float, default=10.0, help="talk time per verified call (s)")
    ap.add_argument("--bare-calls", type=int, default=40)
    ap.add_argument("--bare-levels", default="", help="bare pjsua2 calls to try for its ceiling, in order")
    ap.add_argument("--bare-c-media", action="store_true",
                    help="for --bare-levels: C tones both ways, no frame read, an 8 kHz bridge (no Python per frame)")
    ap.add_argument("--rate-calls", type=int, default=400)
    ap.add_argument("--rate-concurrency", type=int, default=120)
    ap.add_argument("--sipp-calls", type=int, default=3000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    sys.path.insert(0, str(ROOT))
    result: dict[str, Any] = {"levels": []}
    with tempfile.TemporaryDirectory(prefix="tuiphone-bench-load-") as t:
        tmp = Path(t)
        for c in levels:
            lv = verified_level(tmp, c, args.duration, progress)
            result["levels"].append(lv)
            if not lv["ok"]:
                break
        good = [lv for lv in result["levels"] if lv["ok"]]
        result["max_verified_concurrent"] = max((lv["calls"] for lv in good), default=0)
        result["bare"] = bare(tmp, args.bare_calls, 4.0, progress)
        result["bare_levels"] = []
        if args.bare_c_media:
            os.environ["BARE_PJSUA_C_MEDIA"] = "1"
        for c in [int(x) for x in args.bare_levels.split(",") if x.strip()]:
            try:
                bl = bare(tmp, c, 4.0, progress)
            except Exception as exc:         # a bare process that crashed (SIGSEGV seen at 200): the level fails
                progress(f"bare {c}: failed: {str(exc)[:200]}")
                bl = {"calls": c, "established": 0, "ok": False, "error": str(exc)[:300], "max_loss_pct": None,
                      "max_jitter_ms": None, "cpu_pct": None, "caller_cpu_pct_per_call": 0.0,
                      "callee_cpu_pct_per_call": 0.0, "both_cpu_pct_per_call": 0.0}
            result["bare_levels"].append(bl)
            if not bl["ok"]:
                break
        result["bare_max_concurrent"] = max((bl["calls"] for bl in result["bare_levels"] if bl["ok"]), default=None)
        result["rate"] = verified_rate(tmp, args.rate_calls, args.rate_concurrency, progress)
        result["sipp"] = sipp_rate(tmp, args.sipp_calls, progress)
    ref = next((lv for lv in result["levels"] if lv["calls"] == result["bare"]["calls"]), good[-1] if good else None)
    if ref and ref.get("both_cpu_pct_per_call") and result["bare"]["both_cpu_pct_per_call"]:
        result["cpu_ratio_verified_vs_bare"] = round(ref["both_cpu_pct_per_call"] /
                                                     result["bare"]["both_cpu_pct_per_call"], 2)
    if result["rate"]["verified_calls_per_s"] and result["sipp"]["calls_per_s"]:
        result["rate_ratio_sipp_vs_verified"] = round(result["sipp"]["calls_per_s"] /
                                                      result["rate"]["verified_calls_per_s"], 1)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'verified calls (load <-> answer)':34}{'passed':>8}{'CPU/call load':>15}{'answer':>9}{'both':>8}"
          f"{'PDD p95':>9}{'MOS min':>9}")
    for lv in result["levels"]:
        print(f"{lv['calls']:>10} concurrent{'':14}{lv['passed']:>8}{lv['load_cpu_pct_per_call'] or 0:>14.2f}%"
              f"{lv.get('answer_cpu_pct_per_call') or 0:>8.2f}%{lv.get('both_cpu_pct_per_call') or 0:>7.2f}%"
              f"{lv['pdd_p95_ms'] or 0:>7.0f}ms{lv['mos_min'] or 0:>9.2f}")
    b = result["bare"]
    print(f"{'bare pjsua2, no checks':24}{b['calls']:>10}{b['established']:>8}{b['caller_cpu_pct_per_call']:>14.2f}%"
          f"{b['callee_cpu_pct_per_call']:>8.2f}%{b['both_cpu_pct_per_call']:>7.2f}%")
    for bl in result["bare_levels"]:
        print(f"{'bare pjsua2 ceiling':24}{bl['calls']:>10}{bl['established']:>8}"
              f"{bl['caller_cpu_pct_per_call']:>14.2f}%"
              f"{bl['callee_cpu_pct_per_call']:>8.2f}%{bl['both_cpu_pct_per_call']:>7.2f}%  CPU {bl['cpu_pct']} %, "
              f"worst loss {bl['max_loss_pct']} %, jitter {bl['max_jitter_ms']} ms")
    print(f"max concurrent verified calls with 0 failed checks: {result['max_verified_concurrent']}")
    if result["bare_levels"]:
        print(f"max concurrent bare pjsua2 calls, all established and up: {result['bare_max_concurrent']}")
    print(f"CPU per verified call / bare call: {result.get('cpu_ratio_verified_vs_bare')}")
    r, sp = result["rate"], result["sipp"]
    print(f"new verified calls per second: {r['verified_calls_per_s']} ({r['passed']}/{r['calls']} passed, "
          f"{r['concurrency']} at once); SIPp uac->uas: {sp['calls_per_s']} calls/s; "
          f"ratio {result.get('rate_ratio_sipp_vs_verified')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
