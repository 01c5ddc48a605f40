"""Call setup time and CPU per call: tuiphone's engine against a bare pjsua2 script, on 127.0.0.1 only.

    python bench/call_setup.py [--calls N] [--cpu-calls K] [--window S] [--rounds R] [--json]

Three processes besides this one, all stopped by PID at the end:
  callee  `bare_pjsua.py callee`: answers every call at once with 200 OK and sends a 440 Hz tone;
  ours    this file with `--worker ours`: a tuiphone `Phone` on a `PjsuaBackend`;
  bare    `bare_pjsua.py caller`: its own Endpoint, Account, Call and one AudioMediaPort per call.
Both callers send a tone and read every received frame; they call the same callee, taking turns.
See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SETTLE_S = 0.5              # after calls connect / hang up, before a CPU window opens
CALL_TIMEOUT_S = 5.0
SETUP_METRICS = ("invite_to_200_ms", "invite_to_media_ms")


# ----- the tuiphone worker (runs in its own process: pjsua is one per process) -------------------------
class FirstAudio:
    """A frame sink that notes when the first audible frame arrived (on pjmedia's clock thread)."""

    def __init__(self, cond: threading.Condition | None = None) -> None:
        self.at: float | None = None
        self._cond = cond

    def write(self, pcm: Any) -> None:
        if self.at is None and pcm.any():
            self.at = time.monotonic()
            if self._cond is not None:
                with self._cond:
                    self._cond.notify_all()


class OursWorker:
    """A tuiphone Phone placing the benchmark's calls; answers the same commands as bare_pjsua.py."""

    def __init__(self) -> None:
        from tuiphone.config import Config
        from tuiphone.engine.phone import Phone
        from tuiphone.engine.sip import PjsuaBackend

        config = Config.model_validate({"sip": {"transports": ["udp"]}})
        self.phone = Phone(config, PjsuaBackend(), port=0, bind="127.0.0.1")
        self.phone.start()
        self.address = self.phone.backend.local_address()
        self._cond = threading.Condition()
        self._talking_at: float | None = None
        self._ended = 0
        self._invite_tx: float | None = None
        self._bye_ok = 0
        self.phone.subscribe(self._on_event)

    def _on_event(self, ev: Any) -> None:
        """Runs on the SIP thread, at the moment the engine reports; stamps times, wakes the waiter."""
        from tuiphone.engine.events import CallState, LineState, SipMessage

        now = time.monotonic()
        with self._cond:
            if isinstance(ev, CallState):
                if ev.state == LineState.TALKING and self._talking_at is None:
                    self._talking_at = now
                elif ev.state == LineState.ENDED:
                    self._ended += 1
            elif isinstance(ev, SipMessage):
                if ev.direction == "out" and ev.first_line.startswith("INVITE ") and self._invite_tx is None:
                    self._invite_tx = now
                elif (ev.direction == "in" and ev.first_line.startswith("SIP/2.0 200")
                      and re.search(r"^(?:CSeq):\s*\d+\s+BYE", ev.text, re.M | re.I)):
                    self._bye_ok += 1
            self._cond.notify_all()

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(done, timeout)

    def setup(self, uri: str, timeout: float) -> dict[str, Any]:
        from tuiphone.audio.sources import ToneSource
        from tuiphone.engine.backend import CallMedia
        from tuiphone.engine.phone import PhoneError

        with self._cond:
            self._talking_at, self._invite_tx, self._ended = None, None, 0
        heard = FirstAudio(self._cond)
        media = CallMedia(source=ToneSource(440.0), sinks=[heard])
        t0 = time.monotonic()
        try:
            line = self.phone.call(uri, media=media).result(timeout)
        except PhoneError as exc:
            return {"ok": False, "error": str(exc)}
        # the stamps are taken where the engine reports; this thread sleeps until then (no polling for the GIL)
        self._wait(lambda: heard.at is not None or self._ended > 0, timeout)
        reply: dict[str, Any] = {"ok": heard.at is not None and self._talking_at is not None,
                                 "answered": self._talking_at is not None, "media": heard.at is not None}
        if reply["ok"]:
            reply["invite_to_200_ms"] = (self._talking_at - t0) * 1000  # type: ignore[operator]
            reply["invite_to_media_ms"] = (heard.at - t0) * 1000
            if self._invite_tx is not None:   # splits ours into queueing before pjsua and the SIP exchange
                reply["command_to_invite_ms"] = (self._invite_tx - t0) * 1000
                reply["wire_invite_to_200_ms"] = (self._talking_at - self._invite_tx) * 1000  # type: ignore[operator]
        if self._ended == 0:
            self.phone.hangup(line)
        reply["ended_cleanly"] = self._wait(lambda: self._ended > 0, timeout)
        return reply

    def cpu(self, uri: str, calls: int, window: float, settle: float, timeout: float) -> dict[str, Any]:
        """Like BareEndpoint.cpu. The calls go through the engine's backend: Phone keeps one talking line
        and holds the rest, while this measures `calls` calls all with audio both ways."""
        from bare_pjsua import cpu_seconds

        from tuiphone.audio.sources import ToneSource
        from tuiphone.engine.backend import CallMedia

        backend = self.phone.backend
        time.sleep(settle)
        c0, w0 = cpu_seconds(), time.monotonic()
        time.sleep(window)
        idle_cpu, idle_wall = cpu_seconds() - c0, time.monotonic() - w0
        with self._cond:
            self._bye_ok = 0
        heard = [FirstAudio(self._cond) for _ in range(calls)]
        cids = [backend.submit(lambda h=h: backend.make_call(None, uri, {}, CallMedia(ToneSource(440.0), [h])))
                .result(timeout) for h in heard]
        self._wait(lambda: all(h.at is not None for h in heard), timeout)
        established = sum(h.at is not None for h in heard)
        time.sleep(settle)
        c0, w0 = cpu_seconds(), time.monotonic()
        time.sleep(window)
        busy_cpu, busy_wall = cpu_seconds() - c0, time.monotonic() - w0
        for cid in cids:
            backend.submit(lambda c=cid: backend.hangup(c))
        ended = self._wait(lambda: self._bye_ok >= calls, timeout)
        return {"ok": established == calls, "established": established, "idle_cpu_s": idle_cpu,
                "idle_wall_s": idle_wall, "busy_cpu_s": busy_cpu, "busy_wall_s": busy_wall,
                "ended_cleanly": ended}


def serve_ours() -> int:
    from bare_pjsua import open_reply_channel, send

    reply = open_reply_channel()
    worker = OursWorker()
    send(reply, {"ready": True, "address": worker.address})
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "setup":
                send(reply, worker.setup(cmd["uri"], cmd["timeout"]))
            elif cmd["cmd"] == "cpu":
                send(reply, worker.cpu(cmd["uri"], cmd["calls"], cmd["window"], cmd["settle"], cmd["timeout"]))
            else:
                send(reply, {"ok": False, "error": f"unknown command {cmd['cmd']!r}"})
    finally:
        worker.phone.stop()
    send(reply, {"bye": True})
    return 0


# ----- the parent: start the three processes, take turns, summarise ------------------------------------
class BenchError(Exception):
    """The benchmark could not run; the message says why and what to look at."""


class Worker:
    """One child process speaking the JSON-line protocol; stderr goes to a file in `logdir`."""

    def __init__(self, name: str, argv: list[str], logdir: Path):
        self.name = name
        self.stderr_path = logdir / f"{name}.err"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                         text=True, start_new_session=True, cwd=HERE.parent)
        self._replies: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        threading.Thread(target=self._read, name=f"{name}-replies", daemon=True).start()
        self.address = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def reply(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"the {self.name} process gave no answer within {timeout:g} s; "
                             f"its log: {self.stderr_tail()}") from None
        if line is None:
            raise BenchError(f"the {self.name} process ended (exit code {self.proc.wait(5)}); "
                             f"its log: {self.stderr_tail()}")
        return json.loads(line)

    def ready(self, timeout: float = 30.0) -> Worker:
        self.address = self.reply(timeout)["address"]
        return self

    def ask(self, wait: float, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise BenchError(f"the {self.name} process is gone; its log: {self.stderr_tail()}") from None
        return self.reply(wait)

    def stderr_tail(self) -> str:
        text = self.stderr_path.read_text(errors="replace").strip()
        return text[-1500:] or "(empty)"

    def stop(self) -> None:
        """Ask it to quit (it hangs up and destroys its endpoint); else SIGTERM, then SIGKILL, by PID."""
        if self.proc.poll() is None:
            try:
                self.ask(10.0, cmd="quit")
            except BenchError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"median": None, "p90": None, "n": 0}
    return {"median": round(statistics.median(values), 2), "p90": round(p90(values), 2), "n": len(values)}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def run_setup(workers: dict[str, Worker], uri: str, calls: int, progress: Callable[[str], None]) -> dict:
    """`calls` calls per side, taking turns (ours, bare, bare, ours, ...); one uncounted warm-up call each."""
    samples: dict[str, dict[str, list[float]]] = {s: {m: [] for m in SETUP_METRICS} for s in workers}
    split: dict[str, list[float]] = {"command_to_invite_ms": [], "wire_invite_to_200_ms": []}
    failures = {s: 0 for s in workers}
    for side in workers:
        workers[side].ask(CALL_TIMEOUT_S * 3, cmd="setup", uri=uri, timeout=CALL_TIMEOUT_S)
    order = list(workers)
    for i in range(calls):
        for side in (order if i % 2 == 0 else order[::-1]):
            r = workers[side].ask(CALL_TIMEOUT_S * 3, cmd="setup", uri=uri, timeout=CALL_TIMEOUT_S)
            if not r["ended_cleanly"]:
                raise BenchError(f"a {side} call did not end within {CALL_TIMEOUT_S:g} s of hanging up; "
                                 f"its log: {workers[side].stderr_tail()}")
            if not r["ok"]:
                failures[side] += 1
                continue
            for m in SETUP_METRICS:
                samples[side][m].append(r[m])
            for m in split:
                if m in r:
                    split[m].append(r[m])
        if (i + 1) % 5 == 0:
            progress(f"setup: {i + 1}/{calls} calls per side")
    out: dict[str, Any] = {side: {m: summary(v) for m, v in ms.items()} for side, ms in samples.items()}
    for side in workers:
        out[side]["failed_calls"] = failures[side]
        out[side]["samples_ms"] = {m: [round(x, 2) for x in v] for m, v in samples[side].items()}
    for m, v in split.items():
        out["ours"][m] = summary(v)
    out["ratio"] = {m: {k: ratio(out["ours"][m][k], out["bare"][m][k]) for k in ("median", "p90")}
                    for m in SETUP_METRICS}
    return out


def run_cpu(workers: dict[str, Worker], uri: str, calls: int, window: float, rounds: int,
            progress: Callable[[str], None]) -> dict:
    """Per round and side: an idle window, then a window with `calls` established calls; medians over rounds."""
    per_call: dict[str, list[float]] = {s: [] for s in workers}
    idle: dict[str, list[float]] = {s: [] for s in workers}
    problems: list[str] = []
    order = list(workers)
    budget = 2 * window + 2 * SETTLE_S + 3 * CALL_TIMEOUT_S
    for r in range(rounds):
        for side in (order if r % 2 == 0 else order[::-1]):
            res = workers[side].ask(budget, cmd="cpu", uri=uri, calls=calls, window=window, settle=SETTLE_S,
                                    timeout=CALL_TIMEOUT_S)
            if not res["ended_cleanly"]:
                problems.append(f"{side} round {r + 1}: not every call ended within {CALL_TIMEOUT_S:g} s")
            if not res["ok"]:
                problems.append(f"{side} round {r + 1}: {res['established']}/{calls} calls had audio")
                continue
            idle_pct = 100 * res["idle_cpu_s"] / res["idle_wall_s"]
            busy_pct = 100 * res["busy_cpu_s"] / res["busy_wall_s"]
            idle[side].append(idle_pct)
            per_call[side].append((busy_pct - idle_pct) / calls)
        progress(f"cpu: round {r + 1}/{rounds} done")
    out: dict[str, Any] = {"calls": calls, "window_s": window, "rounds": rounds, "problems": problems}
    for side in workers:
        out[side] = {"idle_pct": summary(idle[side])["median"], "per_call_pct": summary(per_call[side])["median"],
                     "per_call_pct_rounds": [round(x, 2) for x in per_call[side]]}
    out["ratio_per_call"] = ratio(out["ours"]["per_call_pct"], out["bare"]["per_call_pct"])
    return out


def table(result: dict[str, Any]) -> str:
    s, c = result["setup"], result["cpu"]

    def num(v: float | None, unit: str = "") -> str:
        return "-" if v is None else f"{v:.1f}{unit}"

    def rat(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    rows = [f"call setup on 127.0.0.1, {result['calls']} calls per side, callee: {result['callee']}",
            f"{'':28}{'ours':>10}{'bare':>10}{'ours/bare':>11}"]
    for m, label in (("invite_to_200_ms", "INVITE -> 200 OK"), ("invite_to_media_ms", "INVITE -> first audio")):
        for k in ("median", "p90"):
            rows.append(f"{label + ' ' + k:28}{num(s['ours'][m][k], ' ms'):>10}{num(s['bare'][m][k], ' ms'):>10}"
                        f"{rat(s['ratio'][m][k]):>11}")
    for m, label in (("command_to_invite_ms", "  of which call() -> INVITE"),
                     ("wire_invite_to_200_ms", "  and INVITE on wire -> 200")):
        rows.append(f"{label:28}{num(s['ours'][m]['median'], ' ms'):>10}{'':>10}{'(median)':>11}")
    if s["ours"]["failed_calls"] or s["bare"]["failed_calls"]:
        rows.append(f"failed calls: ours {s['ours']['failed_calls']}, bare {s['bare']['failed_calls']}")
    rows += ["", f"CPU with {c['calls']} calls (tone out, frames in), {c['rounds']} rounds of {c['window_s']:g} s",
             f"{'':28}{'ours':>10}{'bare':>10}{'ours/bare':>11}",
             f"{'process idle (no calls)':28}{num(c['ours']['idle_pct'], ' %'):>10}"
             f"{num(c['bare']['idle_pct'], ' %'):>10}",
             f"{'per call (minus idle)':28}{num(c['ours']['per_call_pct'], ' %'):>10}"
             f"{num(c['bare']['per_call_pct'], ' %'):>10}{rat(c['ratio_per_call']):>11}"]
    rows += [f"note: {p}" for p in c["problems"]]
    return "\n".join(rows)


def run(args: argparse.Namespace) -> dict[str, Any]:
    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.monotonic()
    workers: dict[str, Worker] = {}
    with tempfile.TemporaryDirectory(prefix="tuiphone-bench-") as tmp:
        logdir = Path(tmp)
        try:
            callee = Worker("callee", [sys.executable, str(HERE / "bare_pjsua.py"), "callee"], logdir)
            workers["callee"] = callee
            ours = Worker("ours", [sys.executable, str(HERE / "call_setup.py"), "--worker", "ours"], logdir)
            workers["ours"] = ours
            bare = Worker("bare", [sys.executable, str(HERE / "bare_pjsua.py"), "caller"], logdir)
            workers["bare"] = bare
            for w in (callee, ours, bare):
                w.ready()
            uri = f"sip:bench@{callee.address}"
            callers = {"ours": ours, "bare": bare}
            progress(f"callee on {callee.address}; {args.calls} setup calls per side, then "
                     f"{args.rounds} CPU rounds of {args.window:g} s with {args.cpu_calls} calls")
            result: dict[str, Any] = {"calls": args.calls, "callee": f"bare pjsua2 auto-answer on {callee.address}"}
            result["setup"] = run_setup(callers, uri, args.calls, progress)
            result["cpu"] = run_cpu(callers, uri, args.cpu_calls, args.window, args.rounds, progress)
            result["callee_answered"] = callee.ask(5.0, cmd="stats")["answered"]
        finally:
            for w in reversed(list(workers.values())):
                w.stop()
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Call setup time and CPU per call: tuiphone vs bare pjsua2.")
    ap.add_argument("--calls", type=int, default=20, help="setup calls per side (default 20)")
    ap.add_argument("--cpu-calls", type=int, default=4, help="simultaneous calls in the CPU test (default 4)")
    ap.add_argument("--window", type=float, default=4.0, help="seconds per CPU window (default 4)")
    ap.add_argument("--rounds", type=int, default=3, help="CPU rounds per side (default 3)")
    ap.add_argument("--json", action="store_true", help="print one JSON object with every number")
    ap.add_argument("--worker", choices=["ours"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return serve_ours()
    if args.calls < 1 or args.cpu_calls < 1 or args.rounds < 1 or args.window <= 0:
        ap.error("--calls, --cpu-calls and --rounds must be at least 1 and --window above 0")
    if args.cpu_calls > 24:
        ap.error("--cpu-calls above 24 would exceed pjsua's call limit of 32 in the callee")
    try:
        result = run(args)
    except BenchError as exc:
        print(f"call_setup: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(json.dumps(result) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
