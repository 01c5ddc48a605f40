"""The parent of a load run: `run_load` places the calls over workers at a rate, up to a concurrency;
`run_answer` answers concurrently behind one SIP address (front.py). Both gather the workers' per-call
records, stop every worker by PID at the end (a signal included), and return (exit code, report)."""

from __future__ import annotations

import math
import os
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuiphone.load.pool import (
    CALLS_PER_WORKER,
    Worker,
    children_cpu_s,
    own_cpu_s,
    start_these,
    start_workers,
    stop_all,
    tree_cpu_s,
)
from tuiphone.load.record import aggregate

WIND_DOWN_S = 10.0


def workers_for(concurrency: int) -> int:
    return max(1, math.ceil(concurrency / CALLS_PER_WORKER))


def answer_workers(max_concurrent: int) -> int:
    """Workers for the answering side: room for a quarter more calls than asked, plus one worker. A worker
    counts the media sockets of a call that ended less than 0.5 s ago (engine/capacity.py), and the front
    learns a worker's count a moment late, so a worker filled to exactly 4 refuses the next call 486."""
    if max_concurrent <= CALLS_PER_WORKER:
        return 1
    return math.ceil(max_concurrent * 1.25 / CALLS_PER_WORKER) + 1


class Progress:
    """One line on stderr, rewritten in place, only when stderr is a terminal."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0

    def show(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        t = time.monotonic()
        if force or t - self._last >= 0.25:
            self._last = t
            sys.stderr.write("\r\x1b[K" + text)
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def run_load(spec: dict[str, Any], *, calls: int, concurrency: int, rate: float, min_asr: float | None,
             max_pdd_ms: float | None, progress: Progress | None = None,
             services: Any = None) -> tuple[int, dict[str, Any]]:
    """Place `calls` calls (spec: uri, account, media and checks per call, duration, timeout); `services`
    (LoadServices, --with-services) gets each call's start, answer and end."""
    progress = progress or Progress(False)
    tap = services_tap(services)
    if services is not None:
        spec = {**spec, "services": True}
    events: queue.SimpleQueue = queue.SimpleQueue()
    records: list[dict[str, Any]] = []
    interrupted: str | None = None
    placed = peak = 0
    up = 0
    cpu0, own0 = children_cpu_s(), own_cpu_s()
    with tempfile.TemporaryDirectory(prefix="tuiphone-load-") as tmp:
        started = time.monotonic()
        workers = start_workers(workers_for(concurrency), {**spec, "role": "uac"}, Path(tmp), events)
        t0 = last_placed = time.monotonic()
        steady = SteadyCpu(workers, min(concurrency, calls), min(5.0, spec.get("duration", 0) - 1.5))
        try:
            while len(records) < calls:
                now = time.monotonic()
                due = calls if rate <= 0 else min(calls, int((now - t0) * rate) + 1)
                while placed < due and up < concurrency:
                    live = [w for w in workers if not w.done.is_set()]
                    if not live:
                        break
                    w = min(live, key=lambda w: w.active)
                    if w.active >= CALLS_PER_WORKER:
                        break
                    placed += 1
                    w.active += 1
                    up += 1
                    peak = max(peak, up)
                    w.given.add(placed)
                    w.tell(cmd="call", n=placed)
                    last_placed = time.monotonic()
                if all(w.done.is_set() for w in workers):
                    break
                wait = 0.05 if placed >= due or up >= concurrency else max(0.0, t0 + placed / rate - now)
                _drain(events, records, wait, _finished, on_gone=_lost, tap=tap)
                up = sum(w.active for w in workers)
                steady.update(sum(w.talking for w in workers))
                answered = sum(r["result"] == "answered" for r in records)
                progress.show(f"placed {placed}/{calls}  up {up}  done {len(records)}  "
                              f"failed {sum(not r['passed'] for r in records)}  "
                              f"rate {placed / max(1e-3, time.monotonic() - t0):.1f}/s  "
                              f"ASR {100 * answered / max(1, len(records)):.0f} %")
        except KeyboardInterrupt as exc:
            from tuiphone.stop_signals import signal_name
            interrupted = signal_name(exc)
        finally:
            progress.done()
            wall = time.monotonic() - t0
            _wind_down(workers, events, records, tap)
    attempts = placed if interrupted else calls
    cpu = children_cpu_s() - cpu0 + own_cpu_s() - own0
    summary = aggregate(records, attempts=attempts, wall_s=wall, peak=peak, cpu_s=cpu,
                        placing_s=last_placed - t0, min_asr=min_asr, max_pdd_ms=max_pdd_ms)
    summary["workers"] = len(workers)
    summary["python_frame_ports"] = sum(w.frame_ports for w in workers)
    summary["start_s"] = round(t0 - started, 2)
    summary["steady_cpu"] = steady.result
    if interrupted:
        summary["interrupted"] = interrupted
        summary["ok"] = False
    report = {"target": spec.get("target", spec["uri"]), "uri": spec["uri"], "summary": summary,
              "calls": sorted(records, key=lambda r: r["n"])}
    return (0 if summary["ok"] else 1), report


def _finished(w: Worker, rec: dict[str, Any]) -> None:
    w.active = max(0, w.active - 1)
    w.talking = max(0, w.talking - 1)
    w.given.discard(rec["n"])


def _lost(w: Worker) -> list[dict[str, Any]]:
    """A worker that ended on its own (a crash): its calls still up are failed calls of the run."""
    from tuiphone.load.record import lost_call

    lost = [lost_call(n, w.index, f"the load worker ended (exit code {w.proc.poll()}; its log: {w.err_path})")
            for n in sorted(w.given)]
    w.given.clear()
    w.active = w.talking = 0
    return lost


class SteadyCpu:
    """CPU of this process and its workers while every call of the run's concurrency is up at once: opens when
    the count of talking calls first reaches it, closes `window` s later (or when a call ends, earlier)."""

    def __init__(self, workers: list[Worker], calls: int, window: float):
        self.pids = [os.getpid()] + [w.proc.pid for w in workers]
        self.calls, self.window = calls, window
        self.start: tuple[float, float, float] | None = None
        self.result: dict[str, Any] | None = None

    def update(self, talking: int) -> None:
        if self.result is not None or self.window <= 0:
            return
        now = time.monotonic()
        if self.start is None:
            if talking >= self.calls:
                self.start = (now, time.time(), tree_cpu_s(self.pids))
            return
        if talking < self.calls or now - self.start[0] >= self.window:
            wall = now - self.start[0]
            if wall >= 0.5:
                cpu = tree_cpu_s(self.pids) - self.start[2]
                self.result = {"calls": self.calls, "wall_s": round(wall, 2), "cpu_pct": round(100 * cpu / wall, 1),
                               "cpu_pct_per_call": round(100 * cpu / wall / self.calls, 3),
                               "from_unix": round(self.start[1], 3), "to_unix": round(time.time(), 3)}
            else:
                self.start = None


Tap = Callable[[Worker, dict[str, Any]], None]


def _drain(events: queue.SimpleQueue, records: list[dict[str, Any]], wait: float,
           on_record: Callable[[Worker, dict[str, Any]], None],
           on_gone: Callable[[Worker], list[dict[str, Any]]] | None, tap: Tap | None = None) -> None:
    """Take the workers' messages: records (and the calls of a worker gone) into `records`; every message,
    a lost call's record included, also to `tap` (the services, the registration)."""
    try:
        w, msg = events.get(timeout=max(0.001, wait))
    except queue.Empty:
        return
    while True:
        if "record" in msg:
            records.append(msg["record"])
            on_record(w, msg["record"])
        elif "gone" in msg and on_gone is not None:
            lost = on_gone(w)
            records.extend(lost)
            if tap is not None:
                for rec in lost:
                    tap(w, {"record": rec})
        if tap is not None:
            tap(w, msg)
        try:
            w, msg = events.get_nowait()
        except queue.Empty:
            return


def _wind_down(workers: list[Worker], events: queue.SimpleQueue, records: list[dict[str, Any]],
               tap: Tap | None = None) -> None:
    """Every worker hangs up its calls, reports them and quits (by PID if it must); then read what came."""
    import threading

    stopper = threading.Thread(target=stop_all, args=(workers,), daemon=True)
    stopper.start()
    deadline = time.monotonic() + WIND_DOWN_S
    while stopper.is_alive() and time.monotonic() < deadline:
        try:
            stopper.join(0.05)
            _drain(events, records, 0.01, _finished, on_gone=_lost, tap=tap)
        except KeyboardInterrupt:
            continue              # a second Ctrl-C: the calls are being ended already
    stopper.join(5)
    _drain(events, records, 0.01, _finished, on_gone=_lost, tap=tap)


def services_tap(services: Any) -> Tap | None:
    """--with-services: the workers' call events and records to LoadServices (load/services.py)."""
    if services is None:
        return None

    def tap(w: Worker, msg: dict[str, Any]) -> None:
        if "record" in msg:
            services.ended(w.index, msg["record"])
        elif msg.get("call") == "start":
            services.started(w.index, msg)
        elif msg.get("call") == "up":
            services.answered(w.index, msg)
    return tap


def run_answer(spec: dict[str, Any], *, max_concurrent: int, bind: str, port: int, count: int | None,
               timeout: float, on_ready: Callable[[str], None] | None = None,
               services: Any = None) -> tuple[int, dict[str, Any]]:
    """Answer calls on bind:port, each independent, up to `max_concurrent` at once, over workers; stop after
    `count` calls have ended (when given) or `timeout` s with no call up.

    With a registering account (spec["account"]["register"]) and more than one worker, one more worker (role
    "reg") registers the account with the front's address as its Contact, so the registrar sends every INVITE
    to the front, which spreads them over the answering workers; their 200 OK carries their own Contact, so
    the in-dialog requests go straight to them. It keeps the registration refreshed and removes it at the end,
    before the front closes."""
    from tuiphone.load.front import Front

    events: queue.SimpleQueue = queue.SimpleQueue()
    records: list[dict[str, Any]] = []
    interrupted: str | None = None
    n = answer_workers(max_concurrent)
    front: Front | None = None
    reg: Worker | None = None
    reg_seen: list[dict[str, Any]] = []
    lost_registration = False
    tap = services_tap(services)

    def watch(w: Worker, msg: dict[str, Any]) -> None:
        if "registration" in msg:
            reg_seen.append(msg["registration"])
        elif tap is not None:
            tap(w, msg)
    account = spec.get("account")
    registering = bool(account and account.get("register"))
    with tempfile.TemporaryDirectory(prefix="tuiphone-answer-") as tmp:
        base = {**spec, "role": "uas", "bind": bind, "counter_file": str(Path(tmp) / "count"),
                "services": services is not None}
        if n == 1:
            workers = start_workers(1, {**base, "port": port}, Path(tmp), events)
            address = workers[0].address
        else:
            try:
                front = Front(bind, port, [], lambda i: workers[i].active)
            except OSError as exc:
                raise OSError(f"cannot open SIP port {bind}:{port}: {exc.strerror}") from None
            address = front.address
            specs = [{**base, "port": 0, "account": {**account, "register": False, "registrar": ""}
                      if account else None}] * n
            if registering:
                specs.append({**base, "role": "reg", "port": 0, "record": None, "services": False,
                              "account": {**(account or {}), "contact_port": int(address.rpartition(":")[2])}})
            try:
                started = start_these(specs, Path(tmp), events)
            except BaseException:
                front.close()
                raise
            workers, reg = started[:n], (started[n] if registering else None)
            addrs = []
            for w in workers:
                host, _, p = w.address.rpartition(":")
                addrs.append((host, int(p)))
            front.attach(addrs)
        everyone = workers + ([reg] if reg is not None else [])
        if on_ready is not None:
            on_ready(address)
        t0 = last_up = time.monotonic()
        try:
            while count is None or len(records) < count:
                _drain(events, records, 0.1, lambda w, rec: None, on_gone=None, tap=watch)
                now = time.monotonic()
                if any(w.active for w in workers):
                    last_up = now
                if now - last_up > timeout and now - t0 > timeout:
                    break
                if all(w.done.is_set() for w in workers):
                    break
                if reg is not None and reg.done.is_set():
                    lost_registration = True        # no refreshes: the registrar will stop sending calls
                    break
        except KeyboardInterrupt as exc:
            from tuiphone.stop_signals import signal_name
            interrupted = signal_name(exc)
        finally:
            if reg is not None:
                reg.stop()                  # unregistered first: no new call is sent to a closing front
            if front is not None:
                front.close()
            wall = time.monotonic() - t0
            _wind_down(everyone, events, records, watch)
    answered = [r for r in records if r["result"] == "answered"]
    report: dict[str, Any] = {"address": address, "workers": n, "answered": len(answered),
                              "python_frame_ports": sum(w.frame_ports for w in workers),
                              "calls": records,
                              "wall_s": round(wall, 2)}
    if registering:
        assert account is not None
        holder = reg if reg is not None else workers[0]
        report["registration"] = {
            "aor": f"sip:{account['user_id']}@{account['domain']}", "registrar": account["registrar"],
            "contact": f"sip:{account['user_id']}@{address}",
            "registered": holder.bye.get("registrations", 0) or sum(200 <= r["status"] < 300 for r in reg_seen),
            "unregistered": bool(holder.bye.get("unregistered")), "lost": lost_registration}
    for i, r in enumerate(records, 1):
        r["n"] = i                      # in the order the calls ended, over every worker
    ok = interrupted is None and (count is None or len(records) >= count) and all(
        r["passed"] for r in records) and not lost_registration
    if interrupted:
        report["interrupted"] = interrupted
    return (0 if ok else 1), report
