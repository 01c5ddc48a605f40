"""The attaching TUI against a minimal Textual app and the standalone TUI; event latency phone -> front-end.

    python bench/attach.py [--runs N] [--calls N] [--rate R] [--rounds N] [--start-only | --latency-only] [--json]

One run, side by side (issue 15, "Speed"):

(a) start -> first screen, in a private tmux server as bench/startup.py measures it (its Tmux and run_once:
    from the moment tmux starts the app to the first capture showing the whole first screen): a minimal
    Textual app, the attaching TUI against an already-running `tuiphone daemon`, and the standalone TUI
    (the phone in the TUI's own process). The attaching TUI is `tuiphone` itself when it attaches (the
    attach branch: `tuiphone.attach` exists), else this file's `--worker tui`: `make_app(RemotePhone(...))`
    as the attaching `tuiphone` builds it. Standalone is `tuiphone --standalone` when that flag exists,
    else plain `tuiphone`. The apps take turns, after one uncounted warm-up each.
(c) RSS (and peak) of each, `--settle` s after its first screen, from /proc (the same runs as (a)).
(b) Event latency with 1 and 3 front-ends attached: SIPp calls the daemon `--calls` times on 127.0.0.1
    (INVITE, 180, CANCEL after 300 ms: each call gives the phone a RINGING and an ENDED CallState). The
    daemon runs under `--worker phone`, which stamps (CLOCK_MONOTONIC, system-wide on Linux) every engine
    event as the control server's subscriber gets it on the SIP thread: the phone's emit time. Each
    front-end is a `--worker tui` PhoneApp drawing in its own tmux pane. Every CallState (by Call-ID and state,
    the first of each) is stamped at each stage on its way: `dispatched` (the daemon's loop has it),
    `taken` (that front-end's sender takes its line to write it), `read` (the client's thread has read and
    parsed the line), `received` (decoded, in the client's view; EngineBridge posts it to the app),
    `dequeued` and `handled` (PhoneApp.on_engine_event starts and returns), `frame` (the first frame after
    that is laid out and rendered: App._display is called with it) and `drawn` (App._display returned: it
    is written out). Percentiles are nearest rank over every CallState of every front-end, of the time
    since emit and of each step; with them the slowest events stage by stage, the CPU time each front-end
    and the daemon used per call (/proc) and the load average, since on a shared machine the load decides
    much of the wait. With `--rounds N` the 1- and 3-front-end rounds take turns N times, and the median of
    the rounds' p99 (and p50) closes the table: single stalls of 40-110 ms come and go between rounds.

Every app runs from bytecode, as an installed tuiphone does (pip compiles it; textual's comes compiled): the
bytecode goes to a cache of the bench's own (PYTHONPYCACHEPREFIX=~/.cache/tuiphone-bench/pycache, written by
the daemon and the warm-up runs; the first bench on a machine fills it), so the tree stays clean.
With `--source` the environment's PYTHONDONTWRITEBYTECODE (if any) stays and tuiphone compiles its modules at
every start while textual does not.

With BENCH_PROFILE_DIR=DIR in the environment, each latency front-end runs under cProfile and leaves
DIR/fe-rN-M.prof (where a front-end's time goes; the times themselves are then inflated by the profiler).

Loopback only; every process started here is stopped by its PID, the tmux server is killed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from startup import NotDrawn, Target, Tmux, TmuxError, alive, run_once, stop, summary  # noqa: E402

DRAW_WAIT_S = 20.0          # after the calls: how long the front-ends may take to draw what is still queued
SIPP_SCENARIO = ROOT / "tests" / "peers" / "sipp" / "uac_cancel.xml"
IDLE = lambda s: "F4 Menu" in s and "1 Idle" in s and "6 Idle" in s      # noqa: E731 - the idle screen with line keys 1-6
CONFIG = '[phone]\nlanguage = "en"\n\n[audio]\ninput_device = "null"\noutput_device = "null"\n'


# ----- workers (each runs in its own process) -----------------------------------------------------------
def run_phone(stamps: str, argv: list[str]) -> int:
    """`tuiphone ARGV` (the daemon), stamping each CallState its control server gets (test-only): `emit` on the
    SIP thread, `dispatched` when the server's loop has it, `taken` when a front-end's sender takes its line
    to write it to the socket (one per front-end)."""
    from tuiphone.control import server

    out = open(stamps, "a", buffering=1)       # noqa: SIM115 - open for the process's life
    from_sip_thread, dispatch, get = server.ControlServer._from_sip_thread, server.ControlServer._dispatch, \
        server.Outbox.get

    def stamp(kind: str, event: Any) -> None:
        if type(event).__name__ == "CallState":
            out.write(f"{kind} {time.monotonic():.6f} {event.call_id} {event.state.value}\n")

    def stamped(self: Any, event: Any) -> None:
        stamp("emit", event)
        from_sip_thread(self, event)

    def dispatched(self: Any, event: Any) -> None:
        stamp("dispatched", event)
        dispatch(self, event)

    async def taken(self: Any) -> Any:
        line = await get(self)
        if line is not None and b'"CallState"' in line:
            now = time.monotonic()
            data = json.loads(line)["data"]
            out.write(f"taken/{getattr(self, 'pid', 0)} {now:.6f} {data['call_id']} {data['state']}\n")
        return line

    client_init = server._Client.__init__

    def client(self: Any, writer: Any, pid: int) -> None:
        client_init(self, writer, pid)
        self.outbox.pid = pid           # whose line `taken` stamps

    server.ControlServer._from_sip_thread = stamped
    server._Client.__init__ = client
    server.ControlServer._dispatch = dispatched
    server.Outbox.get = taken
    from tuiphone.cli import main
    sys.argv = ["tuiphone", *argv]
    main()
    return 0


def attach_remote(config: Path) -> Any:
    """A RemotePhone on the running phone, its client on a thread of its own (as the attaching TUI does)."""
    from tuiphone.control.client import RemotePhone

    if hasattr(RemotePhone, "attach"):          # the attach branch's
        return RemotePhone.attach(config)
    import asyncio
    import concurrent.futures

    from tuiphone.control.client import ControlClient

    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.set_result(loop.run_until_complete(ControlClient.connect(config)))
        except BaseException as exc:
            started.set_exception(exc)
            return
        loop.run_forever()

    threading.Thread(target=run, name="tuiphone-control", daemon=True).start()
    return RemotePhone(started.result())


def run_tui(config: str, data: str, probe: str | None) -> int:
    """The attaching TUI: make_app(RemotePhone) on the phone for `config`; with `probe`, stamp CallStates."""
    from tuiphone.app import PhoneApp, make_app
    from tuiphone.config import load_or_create
    from tuiphone.paths import database_path, ensure_dir
    from tuiphone.store import Store

    if probe:
        # written as they come (line-buffered): a front-end that is slow to stop and is killed keeps its stamps
        out = open(probe, "w", buffering=1)       # noqa: SIM115 - open for the process's life
        out.write(f"pid {os.getpid()}\n")
        from tuiphone.control.client import ControlClient

        pending: list[tuple[str, str]] = []
        # patched where it is defined: Textual calls every class's own on_engine_event along the MRO, so one
        # put on PhoneApp would run besides EngineEventHandlers' and every event would be handled twice
        owner = next(c for c in PhoneApp.__mro__ if "on_engine_event" in c.__dict__)
        on_engine_event, display, handle = owner.on_engine_event, PhoneApp._display, ControlClient._handle

        def stamp(kind: str, cid: str, state: str, now: float | None = None) -> None:
            out.write(f"{kind} {time.monotonic() if now is None else now:.6f} {cid} {state}\n")

        def read(self: Any, message: dict[str, Any]) -> None:
            if message.get("event") == "CallState":
                stamp("read", message["data"]["call_id"], message["data"]["state"])
            handle(self, message)

        def handled(self: Any, message: Any) -> None:
            calls = [(e.call_id, e.state.value) for e in message.events if type(e).__name__ == "CallState"]
            for cid, state in calls:
                stamp("dequeued", cid, state)
            on_engine_event(self, message)
            for cid, state in calls:
                stamp("handled", cid, state)
            pending.extend(calls)

        def drawn(self: Any, screen: Any, renderable: Any) -> None:
            start = time.monotonic()
            display(self, screen, renderable)
            if pending and renderable is not None:
                now = time.monotonic()
                for cid, state in pending:
                    stamp("frame", cid, state, start)
                    stamp("drawn", cid, state, now)
                pending.clear()

        ControlClient._handle = read                                      # type: ignore[method-assign]
        owner.on_engine_event, PhoneApp._display = handled, drawn        # type: ignore[method-assign]

    path = Path(config)
    settings, _ = load_or_create(path)
    phone = attach_remote(path)
    if probe:
        def received(event: Any) -> None:
            if type(event).__name__ == "CallState":
                stamp("received", event.call_id, event.state.value)
        phone.subscribe(received)
    store = Store(database_path(ensure_dir(Path(data))))
    app = make_app(phone, settings, config_path=path, handle_sigterm=True, store=store)
    app.tuned = True                            # as attach.run_attached sets it
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    if profile_dir and probe:           # where a front-end's time goes: one cProfile dump per front-end
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(app.run)
        profiler.dump_stats(str(Path(profile_dir) / f"{Path(probe).stem}.prof"))
    else:
        app.run()
    store.close()
    os._exit(0)          # the client's thread and loop go with the process


def run_minimal() -> int:
    from startup import run_minimal as minimal
    return minimal()


# ----- the bench ---------------------------------------------------------------------------------------
def tuiphone_argv(config: Path, data: Path, port: int | str = 0) -> list[str]:
    return ["--config", str(config), "--port", str(port), "--bind", "127.0.0.1", "--data-dir", str(data)]


def has_attach() -> bool:
    return (ROOT / "tuiphone" / "attach.py").exists()      # this tree's (an editable install elsewhere may have one)


def free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """`tuiphone daemon` under `--worker phone`, stopped by its PID."""

    def __init__(self, workdir: Path, config: Path) -> None:
        self.port = free_udp_port()
        self.config = config
        self.stamps = workdir / "phone.stamps"
        self.log = workdir / "phone.err"
        argv = [*tuiphone_argv(config, workdir / "phone-data", self.port), "daemon"]
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", "phone",
                                          str(self.stamps), *argv], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> None:     # a first run compiles its imports
        from tuiphone.control.client import ControlError, call_phone
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the phone exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                call_phone(self.config, "status", timeout=1.0)
                return
            except ControlError:
                time.sleep(0.1)
        raise RuntimeError(f"the phone did not answer in {timeout:g} s: {self.log.read_text()[-2000:]}")

    def front_ends(self) -> int:
        from tuiphone.control.client import call_phone
        return call_phone(self.config, "status")[1]["front_ends"] - 1      # less the status request itself

    def stop(self) -> None:
        stop(self.proc.pid)
        self.proc.wait(timeout=5)


def start_targets(workdir: Path, daemon_config: Path) -> list[Target]:
    standalone_config = workdir / "standalone.toml"
    standalone_config.write_text(CONFIG)
    me = [sys.executable, str(Path(__file__).resolve())]
    if has_attach():
        attached = Target("attached", [sys.executable, "-m", "tuiphone",
                                       *tuiphone_argv(daemon_config, workdir / "tui-data")], IDLE)
        standalone = Target("standalone", [sys.executable, "-m", "tuiphone", "--standalone",
                                           *tuiphone_argv(standalone_config, workdir / "standalone-data")], IDLE)
    else:
        attached = Target("attached", [*me, "--worker", "tui", str(daemon_config), str(workdir / "tui-data")], IDLE)
        standalone = Target("standalone", [sys.executable, "-m", "tuiphone",
                                           *tuiphone_argv(standalone_config, workdir / "standalone-data")], IDLE)
    minimal = Target("minimal", [*me, "--worker", "minimal"], lambda s: "minimal textual app ready" in s)
    return [minimal, attached, standalone]


def startup_runs(tmux: Tmux, targets: list[Target], runs: int, settle: float) -> list[Any]:
    size = (80, 24)
    for i, target in enumerate(targets):
        run_once(tmux, target, size, 0, 100 + i)        # warm-up
    samples = []
    order = targets + targets[::-1]
    for i in range(runs * len(targets)):
        samples.append(run_once(tmux, order[i % len(order)], size, settle, 200 + i))
    return samples


def front_end(tmux: Tmux, workdir: Path, config: Path, n: int, tag: str) -> tuple[str, int, Path]:
    probe = workdir / f"fe-{tag}-{n}.probe"
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "tui", str(config),
            str(workdir / "tui-data"), "--probe", str(probe)]
    session = f"fe{tag}{n}"
    from startup import quoted
    pid = int(tmux.command(f"new-session -d -P -F '#{{pane_pid}}' -s {session} -x 80 -y 24 -c {quoted(str(ROOT))} "
                           f"-e TERM=xterm-256color -e LANG=C.UTF-8 " + " ".join(quoted(a) for a in argv)).split()[0])
    tmux.command(f"set-option -t {session} remain-on-exit on")      # a front-end that dies leaves its last screen
    return session, pid, probe


def sipp_calls(daemon: Daemon, workdir: Path, calls: int, rate: float) -> None:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("sipp is not installed: the latency part needs it")
    argv = [sipp, f"127.0.0.1:{daemon.port}", "-sf", str(SIPP_SCENARIO), "-nostdin", "-bind_local",
            "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(free_udp_port()),
            "-t", "u1", "-m", str(calls), "-r", str(rate), "-l", "1", "-s", "100", "-d", "300",
            "-key", "caller", "sipp", "-timeout", f"{calls / rate + 30:.0f}s", "-timeout_error",
            "-trace_err", "-error_file", str(workdir / "sipp.err")]
    done = subprocess.run(argv, capture_output=True, timeout=calls / rate + 60, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"sipp ended with {done.returncode}: {done.stderr.decode(errors='replace')[-1000:]}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def latency_round(tmux: Tmux, daemon: Daemon, workdir: Path, count: int, calls: int, rate: float) -> dict:
    tag = f"r{count}"
    daemon.stamps.write_text("")
    ends = [front_end(tmux, workdir, daemon.config, n, tag) for n in range(count)]
    try:
        deadline = time.monotonic() + 30
        while daemon.front_ends() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {daemon.front_ends()} of {count} front-ends attached")
            time.sleep(0.2)
        time.sleep(1.0)
        daemon.stamps.write_text("")           # only the SIPp calls' events
        before = [cpu_ms(pid) for _, pid, _ in ends], cpu_ms(daemon.proc.pid), os.getloadavg()[0]
        sipp_calls(daemon, workdir, calls, rate)
        all_drawn(daemon, [probe for _, _, probe in ends])
        after = [cpu_ms(pid) for _, pid, _ in ends], cpu_ms(daemon.proc.pid), os.getloadavg()[0]
        for session, pid, probe in ends:
            if not alive(pid):
                screen = tmux.command(f"capture-pane -p -t {session}").strip().splitlines()
                raise RuntimeError(f"front-end {probe.name} (pid {pid}) ended during the calls; its terminal said: "
                                   + " / ".join(line.strip() for line in screen[-12:] if line.strip()))
    finally:
        for session, pid, _ in ends:
            stop(pid)
            tmux.command(f"kill-session -t {session}")
    result = analyse(count, daemon.stamps.read_text(), [probe for _, _, probe in ends])
    used = sum(a - b for a, b in zip(after[0], before[0], strict=True))
    result["cpu_ms_per_call"] = {"front_end": round(used / count / calls, 1),
                                 "daemon": round((after[1] - before[1]) / calls, 1)}
    result["load_average"] = [round(before[2], 1), round(after[2], 1)]
    return result


def all_drawn(daemon: Daemon, probes: list[Path], timeout: float = DRAW_WAIT_S) -> None:
    """Wait until every front-end has drawn every CallState the phone emitted (or `timeout`): a front-end
    still behind when the calls end would otherwise leave its slowest events out of the percentiles."""
    deadline = time.monotonic() + timeout
    time.sleep(0.5)
    while time.monotonic() < deadline:
        emitted = {tuple(row.split()[2:]) for row in daemon.stamps.read_text().splitlines() if row.startswith("emit ")}
        drawn = [{tuple(row.split()[2:]) for row in probe.read_text().splitlines() if row.startswith("drawn ")}
                 if probe.exists() else set() for probe in probes]
        if all(emitted <= d for d in drawn):
            return
        time.sleep(0.2)


def cpu_ms(pid: int) -> float:
    """The CPU time (user and system) process `pid` has used so far, in ms (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


STAGES = ("dispatched", "taken", "read", "received", "dequeued", "handled", "frame", "drawn")
STAGE_SAYS = {"dispatched": "the daemon's loop has it (call_soon_threadsafe from the SIP thread)",
              "taken": "its front-end's sender takes the line to write it to the socket",
              "read": "the front-end's client has read and parsed the line (its thread)",
              "received": "decoded, in the client's view, subscribers called (EngineBridge posts it)",
              "dequeued": "PhoneApp.on_engine_event starts on it (the UI's loop)",
              "handled": "on_engine_event has returned",
              "frame": "the next frame is laid out and rendered: App._display called with it",
              "drawn": "that frame is written out to the terminal (App._display returned)"}


def analyse(count: int, daemon_stamps: str, probes: list[Path]) -> dict:
    """Per CallState and front-end: the time of each stage after `emit`; percentiles of each stage's time
    since emit and since the stage before it, and the slowest events stage by stage."""
    daemon: dict[tuple[str, str, str], float] = {}
    for row in daemon_stamps.splitlines():
        kind, t, cid, state = row.split()
        daemon.setdefault((kind, cid, state), float(t))
    emitted = {(cid, state): t for (kind, cid, state), t in daemon.items() if kind == "emit"}
    chains: list[tuple[str, str, str, dict[str, float]]] = []
    missing = 0
    for probe in probes:
        if not probe.exists():
            raise RuntimeError(f"front-end {probe.name} wrote no probe (did it stop cleanly?)")
        seen: dict[tuple[str, str, str], float] = {}
        pid = "0"
        for row in probe.read_text().split("\n"):
            if row.startswith("pid "):
                pid = row.split()[1]
            elif row.strip():
                kind, t, cid, state = row.split()
                seen.setdefault((kind, cid, state), float(t))
        for (cid, state), t0 in emitted.items():
            chain: dict[str, float] = {}
            for stage in STAGES:
                key = (f"taken/{pid}" if stage == "taken" else stage, cid, state)
                t = (daemon if stage in ("dispatched", "taken") else seen).get(key)
                if t is not None:
                    chain[stage] = (t - t0) * 1000
            missing += "drawn" not in chain
            chains.append((probe.name, cid, state, chain))

    def stats(values: list[float]) -> dict[str, Any]:
        return {"n": len(values), "p50_ms": pct(values, 50) if values else None,
                "p99_ms": pct(values, 99) if values else None, "max_ms": max(values) if values else None}

    result: dict[str, Any] = {"front_ends": count, "events": len(emitted), "not_drawn": missing}
    steps: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for stage in STAGES:
        values = [c[stage] for *_, c in chains if stage in c]
        result[stage] = {**stats(values), "samples_ms": [round(v, 2) for v in values]}
    for *_, chain in chains:
        before = 0.0
        for stage in STAGES:
            if stage in chain:
                steps[stage].append(chain[stage] - before)
                before = chain[stage]
    result["steps"] = {stage: stats(values) for stage, values in steps.items()}
    result["drawn_by_state"] = {state: stats([c["drawn"] for _, _, st, c in chains if st == state and "drawn" in c])
                                for state in sorted({st for _, _, st, _ in chains})}
    slowest = sorted((c for c in chains if "drawn" in c[3]), key=lambda c: -c[3]["drawn"])[:10]
    result["slowest"] = [{"front_end": name, "call_id": cid, "state": state,
                          **{stage: round(chain[stage], 2) for stage in STAGES if stage in chain}}
                         for name, cid, state, chain in slowest]
    return result


def table(start: dict[str, dict], attach_kind: str, standalone_kind: str) -> str:
    m = start["minimal"]
    rows = [f"start -> first screen (tmux 80x24, {start['minimal']['runs']:.0f} runs each, medians)",
            f"{'':<30}{'minimal':>10}{'attached':>10}{'standalone':>12}",
            f"{'start, ms':<30}" + "".join(f"{start[k]['startup_ms_median']:>{w}.0f}"
                                            for k, w in (("minimal", 10), ("attached", 10), ("standalone", 12))),
            f"{'  fastest-slowest':<30}" + "".join(
                f"{start[k]['startup_ms_min']:.0f}-{start[k]['startup_ms_max']:.0f}".rjust(w)
                for k, w in (("minimal", 10), ("attached", 10), ("standalone", 12))),
            f"{'  / minimal':<30}{1:>10.2f}{start['attached']['startup_ms_median'] / m['startup_ms_median']:>10.2f}"
            f"{start['standalone']['startup_ms_median'] / m['startup_ms_median']:>12.2f}",
            f"{'RSS after settle, MiB':<30}" + "".join(f"{start[k]['rss_mib_median']:>{w}.1f}"
                                                       for k, w in (("minimal", 10), ("attached", 10),
                                                                    ("standalone", 12))),
            f"{'peak RSS (VmHWM), MiB':<30}" + "".join(f"{start[k]['peak_mib_median']:>{w}.1f}"
                                                       for k, w in (("minimal", 10), ("attached", 10),
                                                                    ("standalone", 12))),
            f"attached = {attach_kind}; standalone = {standalone_kind}"]
    return "\n".join(rows)


def latency_table(latency: list[dict]) -> str:
    """Each stage's time since the phone's emit, and since the stage before it; the slowest events."""
    rows = ["CallState in the phone (SIP thread) -> front-end, ms (nearest-rank percentiles over all front-ends)"]
    for r in latency:
        not_drawn = f", {r['not_drawn']} not drawn" if r["not_drawn"] else ""
        cpu, load = r.get("cpu_ms_per_call", {}), r.get("load_average", [0, 0])
        rows += ["", f"{r['front_ends']} front-end(s), {r['events']} CallStates each, {r['drawn']['n']} drawn"
                     f"{not_drawn}; CPU a call: {cpu.get('front_end', 0):.0f} ms each front-end, "
                     f"{cpu.get('daemon', 0):.0f} ms the daemon; load average {load[0]:.1f} -> {load[1]:.1f}",
                 f"{'stage':<12}{'since emit p50/p99/max':>26}{'step p50/p99/max':>24}  what"]
        for stage in STAGES:
            total, step = r[stage], r["steps"][stage]
            if not total["n"]:
                continue
            rows.append(f"{stage:<12}{total['p50_ms']:>10.1f}{total['p99_ms']:>8.1f}{total['max_ms']:>8.1f}"
                        f"{step['p50_ms']:>8.1f}{step['p99_ms']:>8.1f}{step['max_ms']:>8.1f}  {STAGE_SAYS[stage]}")
        rows.append("drawn, by state: " + "; ".join(
            f"{state} p50/p99/max {v['p50_ms']:.1f}/{v['p99_ms']:.1f}/{v['max_ms']:.1f}"
            for state, v in r.get("drawn_by_state", {}).items() if v["n"]))
        rows.append("slowest drawn (ms since emit at each stage):")
        for slow in r["slowest"][:5]:
            rows.append(f"  {slow['state']:<8} " + " ".join(f"{stage}={slow[stage]:.1f}" for stage in STAGES
                                                             if stage in slow))
    sizes = sorted({r["front_ends"] for r in latency})
    if len(latency) > len(sizes):      # several rounds of each size: one wall-clock p99 says little on a shared box
        rows.append("")
        for count in sizes:
            p99 = [r["drawn"]["p99_ms"] for r in latency if r["front_ends"] == count and r["drawn"]["n"]]
            p50 = [r["drawn"]["p50_ms"] for r in latency if r["front_ends"] == count and r["drawn"]["n"]]
            each = ", ".join(f"{v:.1f}" for v in p99)
            rows.append(f"drawn over {len(p99)} rounds, {count} front-end(s): p99 median "
                        f"{statistics.median(p99):.1f} ms (rounds {each}), p50 median {statistics.median(p50):.1f} ms")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted start runs per app (default 5)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds on the first screen before RSS")
    parser.add_argument("--calls", type=int, default=40, help="SIPp calls per latency round (default 40)")
    parser.add_argument("--rate", type=float, default=2.0, help="SIPp calls a second (default 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="latency rounds of each size, taking turns (default 1); with more, the median p99 too")
    parser.add_argument("--start-only", action="store_true", help="only the start part (no event latency)")
    parser.add_argument("--latency-only", action="store_true", help="only the event latency (no start part)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--source", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE: tuiphone compiles its modules at each start")
    parser.add_argument("--worker", choices=["phone", "tui", "minimal"], help=argparse.SUPPRESS)
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.worker == "phone":
        return run_phone(rest[0], rest[1:])
    if args.worker == "tui":
        return run_tui(rest[0], rest[1], args.probe)
    if args.worker == "minimal":
        return run_minimal()

    runtime = Path(tempfile.mkdtemp(prefix="tp-bench-", dir="/tmp"))      # a short path for the socket
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    if not args.source:            # bytecode as installed, in a cache of our own (the tree stays clean)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tuiphone-bench" / "pycache"
        os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="tuiphone-attach-") as tmp:
        workdir = Path(tmp)
        config = workdir / "phone.toml"
        config.write_text(CONFIG)
        daemon = Daemon(workdir, config)
        tmux = Tmux(workdir)
        try:
            daemon.wait_ready()
            tmux.start()
            targets = [] if args.latency_only else start_targets(workdir, config)
            samples = startup_runs(tmux, targets, args.runs, args.settle)
            start = {t.name: summary(samples, t.name) for t in targets}
            latency = [] if args.start_only else [latency_round(tmux, daemon, workdir, n, args.calls, args.rate)
                                                  for _ in range(max(1, args.rounds)) for n in (1, 3)]
        except (NotDrawn, TmuxError, RuntimeError) as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            tmux.close()
            if alive(daemon.proc.pid):
                daemon.stop()
            shutil.rmtree(runtime, ignore_errors=True)
    attach_kind = "`tuiphone` (attaches)" if has_attach() else "bench/attach.py --worker tui (make_app(RemotePhone))"
    standalone_kind = "`tuiphone --standalone`" if has_attach() else "`tuiphone` (one process)"
    if args.json:
        print(json.dumps({"start": start, "latency": latency, "attached": attach_kind,
                          "standalone": standalone_kind,
                          "samples": [s.__dict__ for s in samples]}, indent=2))
    else:
        print("\n\n".join(([] if args.latency_only else [table(start, attach_kind, standalone_kind)])
                           + ([] if args.start_only else [latency_table(latency)])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
