"""The local audio path under load: CPU per call against a bare pjsua2 call, callback timing while the TUI
redraws at full rate, underruns, and mixer throughput. Loopback (127.0.0.1) only.

    python bench/audio_path.py [--seconds 60] [--window 8] [--rounds 2] [--devices pulse|null] [--json]

Processes besides this one, all stopped by PID at the end:
  pulseaudio  a private server with null sinks (tests/audio/pulse.py), when --devices pulse;
  callee      `bare_pjsua.py callee`: answers every call and sends a 440 Hz tone from pjsua's C generator;
  bare        this file, `--worker bare`: pjsua2 alone, a C tone generator into the call and the call into
              pjsua's null sound device: no Python port anywhere;
  ours        this file, `--worker ours`: a tuiphone Phone with LocalAudio on the devices (mic → bridge,
              bridge → mixer → speaker) through its local port in C, recording every call (features.record =
              "auto"), then the same with the real PhoneApp running on a pseudo-terminal and redrawing every
              widget 60 times a second;
  ours-python the same CPU rounds with the local port in Python (TUIPHONE_LOCAL_PORT=python), for comparison
              (--port both, the default; no TUI call).

What the numbers mean:
  CPU        process CPU (user + system, all threads, getrusage) in % of one core, over a window with no call,
             then over a window during one established call; "the call itself" is the difference. Medians over
             --rounds. Ours with no call already runs its sound devices, the mixer and the device supervisor.
  intervals  time between two 20 ms frames the call says reaching LocalAudio ("late" = more than 40 ms after
             the one before): taken from the C port by the speaker's callback, or written by pjmedia's clock
             into a Python port; and between two calls of the speaker device's callback reading the mixer
             ("late" = its block length + 20 ms); median, p99 and max; first for a call with no UI (the last
             CPU round), then with the TUI redrawing. With the C port pjmedia's clock never waits for Python:
             frames are late only when the speaker's callback is, and the delay buffers absorb that; the
             speaker's blocks (about 14 ms with PulseAudio) take 20 ms frames unevenly, 0 to 2 per block.
  counters   LocalAudio.stats() changes during that call: underruns, overruns, drift corrections, sound card
             xruns. The garbage collector line says how long Python's cyclic collector held the GIL.
  mixer      20 ms frames of four streams (a call through its drift corrector, a tone, a ringtone and a
             paging stream) mixed on one core: seconds of audio per second of CPU.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import os
import pty
import queue
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
FRAME_MS = 20.0
LATE_MS = 40.0              # a 20 ms frame that comes more than one frame late
SETTLE_S = 1.0
CALL_TIMEOUT_S = 10.0


# ----- timing probes: they run on the audio threads and only store a stamp ---------------------------
class Stamps:
    """perf_counter() stamps in a preallocated array (no allocation on the audio thread)."""

    def __init__(self, capacity: int):
        self.times = np.zeros(capacity)
        self.sizes = np.zeros(capacity, dtype=np.int32)
        self.count = 0
        self.on = False

    def add(self, n: int) -> None:
        i = self.count
        if self.on and i < len(self.times):
            self.times[i] = time.perf_counter()
            self.sizes[i] = n
            self.count = i + 1

    def start(self) -> None:
        self.count, self.on = 0, True

    def stop(self) -> tuple[np.ndarray, np.ndarray]:
        self.on = False
        return self.times[: self.count].copy(), self.sizes[: self.count].copy()


class TimedSink:
    """Wraps LocalAudio.speaker: pjmedia's clock thread writes every received frame through it."""

    def __init__(self, inner: Any, stamps: Stamps):
        self.inner, self.stamps, self.frames = inner, stamps, 0

    def write(self, frame: np.ndarray) -> None:
        self.frames += 1
        self.stamps.add(len(frame))
        self.inner.write(frame)


class Series:
    """Floats in a preallocated array (no allocation on the audio thread)."""

    def __init__(self, capacity: int):
        self.values = np.zeros(capacity)
        self.count = 0
        self.on = False

    def add(self, value: float) -> None:
        i = self.count
        if self.on and i < len(self.values):
            self.values[i] = value
            self.count = i + 1

    def start(self) -> None:
        self.count, self.on = 0, True

    def stop(self) -> np.ndarray:
        self.on = False
        return self.values[: self.count].copy()


class TimedLink:
    """Wraps the C local port: stamps every frame the speaker's callback takes from the bridge, and holds
    each frame exchanged against the bridge's clock. pjmedia's clock here is the null sound device's, which
    keeps the system's monotonic time (as PulseAudio's null sinks do), so 20 ms of monotonic time is one
    bridge frame, read fresh by the thread that exchanges the frame:

    mic lead         frames sent minus bridge frames elapsed: how far the microphone is ahead of the bridge
                     taking its frames (what waits in the delay buffer, plus a constant);
    speaker backlog  bridge frames elapsed minus frames taken: what waits for the speaker, plus a constant.

    A frame is late against the bridge's clock when the lead falls, or the backlog rises, more than two
    frames (40 ms) past its median: the sound card's side was that much behind its usual pace, which the
    delay buffers must cover or the bridge makes up (or drops) audio."""

    def __init__(self, inner: Any, stamps: Stamps, capacity: int):
        self.inner, self.stamps, self.frame_samples = inner, stamps, inner.frame_samples
        self.tx, self.rx = inner.tx, inner.rx
        self.mic_lead, self.speaker_backlog = Series(capacity), Series(capacity)
        self.sent = self.taken = 0
        self.t0 = time.monotonic()

    @property
    def active(self) -> bool:
        return self.inner.active

    def send(self) -> None:
        if self.inner.active:
            self.inner.send()
            self.sent += 1
            self.mic_lead.add(self.sent - (time.monotonic() - self.t0) / 0.02)

    def receive(self) -> bool:
        got = self.inner.receive()
        if got:
            self.taken += 1
            self.stamps.add(self.frame_samples)
            self.speaker_backlog.add((time.monotonic() - self.t0) / 0.02 - self.taken)
        return got


def against_bridge(lead: np.ndarray, backlog: np.ndarray) -> dict[str, Any]:
    """Frames late against pjmedia's clock (see TimedLink), from the two series of one window."""
    if len(lead) < 3 or len(backlog) < 3:
        return {"frames": 0}
    lead_dev = lead - np.median(lead)
    backlog_dev = backlog - np.median(backlog)
    return {"frames": int(len(lead) + len(backlog)),
            "mic_late": int(np.count_nonzero(lead_dev < -2)), "mic_worst_ms": round(float(-lead_dev.min()) * 20, 1),
            "speaker_late": int(np.count_nonzero(backlog_dev > 2)),
            "speaker_worst_ms": round(float(backlog_dev.max()) * 20, 1)}


_LINK: TimedLink | None = None      # the C port's wrapper, when ours runs with it


class GcPauses:
    """How long Python's cyclic garbage collector held the GIL (no other thread runs meanwhile)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._began = 0.0
        self.on = False
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began:            # not a collection that began before start()
            self.pauses.append((info["generation"], (time.perf_counter() - self._began) * 1000))
            self._began = 0.0

    def start(self) -> None:
        self.pauses, self._began, self.on = [], 0.0, True

    def stop(self) -> dict[str, Any]:
        self.on = False
        ms = [p for _, p in self.pauses]
        by_generation = [round(max((p for g, p in self.pauses if g == gen), default=0.0), 1) for gen in range(3)]
        return {"collections": len(ms), "oldest_generation": sum(g == 2 for g, _ in self.pauses),
                "max_ms": round(max(ms), 1) if ms else 0.0, "total_ms": round(sum(ms), 1),
                "max_ms_by_generation": by_generation}


class CallbackClock:
    """A silent mixer stream: the speaker device's callback reads it once per block."""

    def __init__(self, stamps: Stamps):
        self.stamps = stamps
        self._zeros = np.zeros(8192, dtype=np.int16)

    def read(self, n: int) -> np.ndarray:
        self.stamps.add(n)
        return self._zeros[:n]


def timing(times: np.ndarray, sizes: np.ndarray, late_after_ms: Callable[[np.ndarray], np.ndarray]) -> dict:
    """Median / p99 / max interval between callbacks, and how many came later than allowed."""
    if len(times) < 3:
        return {"callbacks": len(times), "median_ms": None, "p99_ms": None, "max_ms": None, "late": None}
    gaps = np.diff(times) * 1000
    return {"callbacks": len(times), "median_ms": round(float(np.median(gaps)), 2),
            "p99_ms": round(float(np.percentile(gaps, 99)), 2), "max_ms": round(float(gaps.max()), 2),
            "late": int(np.count_nonzero(gaps > late_after_ms(sizes[:-1])))}


def cpu_seconds() -> float:
    from bare_pjsua import cpu_seconds as cpu
    return cpu()


def thread_ticks() -> dict[str, int]:
    """CPU ticks (1/100 s) of each thread of this process by name: Python's thread names where Python
    knows the thread, else the kernel's (pjsip names its own: "clock", "media", ...); same names summed."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks: dict[str, int] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue                 # the thread ended meanwhile
        name = names.get(int(task.name)) or stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    return ticks


def per_thread_pct(before: dict[str, int], after: dict[str, int], wall_s: float) -> dict[str, float]:
    return {name: round((t - before.get(name, 0)) / wall_s, 2) for name, t in after.items()}


def cpu_pct(cpu_s: float, wall_s: float) -> float:
    return 100 * cpu_s / wall_s


# ----- the bare worker: pjsua2 with no Python port -------------------------------------------------
def run_bare(args: argparse.Namespace) -> dict[str, Any]:
    import pjsua2 as pj
    from bare_pjsua import CLOCK_RATE, BareEndpoint

    class NoPortCaller(BareEndpoint):
        """A C tone generator into the call, the call into the null sound device (slot 0)."""

        def __init__(self) -> None:
            super().__init__("caller")
            self.tone = pj.ToneGenerator()
            self.tone.createToneGenerator(CLOCK_RATE, 1)
            desc = pj.ToneDesc()
            desc.freq1 = desc.freq2 = 700
            desc.on_msec, desc.off_msec, desc.volume = 1000, 0, 0
            tones = pj.ToneDescVector()
            tones.append(desc)
            self.tone.play(tones, True)
            self.media_up = 0

        def connect_audio(self, call: Any, am: Any) -> None:
            self.tone.startTransmit(am)
            am.startTransmit(self.ep.audDevManager().getPlaybackDevMedia())
            self.media_up += 1

    app = NoPortCaller()
    rounds = []
    try:
        for _ in range(args.rounds):
            app.run_for(SETTLE_S)
            c0, w0 = cpu_seconds(), time.monotonic()
            app.run_for(args.window)
            idle = (cpu_seconds() - c0, time.monotonic() - w0)
            before = app.media_up
            call = app.place(args.callee)
            up = app.wait_until(lambda b=before, c=call: app.media_up > b or c.ended, CALL_TIMEOUT_S)
            app.run_for(SETTLE_S)
            c0, w0 = cpu_seconds(), time.monotonic()
            app.run_for(args.window)
            busy = (cpu_seconds() - c0, time.monotonic() - w0)
            ok = up and not call.ended
            call = None                  # every Call must be gone before libDestroy, or pjsua asserts
            app.hangup_all()
            rounds.append({"ok": ok, "idle_pct": cpu_pct(*idle), "busy_pct": cpu_pct(*busy)})
    finally:
        app.destroy()
    return {"rounds": rounds}


# ----- the tuiphone worker ----------------------------------------------------------------------------
def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    from tuiphone.audio.local import LocalAudio
    from tuiphone.config import Config
    from tuiphone.engine.phone import Phone
    from tuiphone.engine.sip import PjsuaBackend

    config = Config.model_validate({
        "sip": {"transports": ["udp"]},
        "audio": {"input_device": args.devices, "output_device": args.devices},
        "features": {"record": args.record, "record_dir": args.record_dir},
    })
    audio = LocalAudio.from_config(config.audio)
    frames = Stamps(int((args.seconds + 10) * 1000 / FRAME_MS))
    blocks = Stamps(int((args.seconds + 10) * 1000 / 5))
    backend = PjsuaBackend()
    if args.local_port == "python":
        os.environ["TUIPHONE_LOCAL_PORT"] = "python"
        audio.speaker = TimedSink(audio.speaker, frames)      # before start: the Phone hands it to the bridge
    else:
        opener = backend.open_local_port

        def open_timed() -> Any:
            global _LINK
            link = opener()
            if link is None:
                raise RuntimeError("the C local port could not be made (see the log)")
            _LINK = TimedLink(link, frames, len(frames.times))
            return _LINK

        backend.open_local_port = open_timed                  # type: ignore[method-assign]
    audio.add_stream("bench-clock", CallbackClock(blocks))
    phone = Phone(config, backend, port=0, bind="127.0.0.1", local_audio=audio,
                  data_dir=args.record_dir)
    events: queue.Queue = queue.Queue()
    phone.subscribe(events.put)
    phone.start()
    result: dict[str, Any] = {"devices": audio.stats().input_device + " / " + audio.stats().output_device,
                              "audio_status": audio.status, "audio_reason": audio.reason}
    try:
        result["rounds"] = [_cpu_round(phone, events, args, audio, frames, blocks) for _ in range(args.rounds)]
        if args.local_port == "c":
            result["tui"] = _tui_call(phone, config, events, args, audio, frames, blocks)
    finally:
        phone.stop()
    result["recordings"] = sorted(p.stat().st_size for p in Path(args.record_dir).rglob("*.wav"))
    return result


def _wait_state(events: queue.Queue, line: int | None, state: Any, timeout: float = CALL_TIMEOUT_S) -> bool:
    from tuiphone.engine.events import CallState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ev = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(ev, CallState) and ev.state == state and (line is None or ev.line == line):
            return True
    return False


def _cpu_round(phone: Any, events: queue.Queue, args: argparse.Namespace, audio: Any, frames: Stamps,
               blocks: Stamps) -> dict[str, Any]:
    """CPU with no call, then during one call (no TUI); the call's callback timing and counters too."""
    from tuiphone.engine.events import LineState

    time.sleep(SETTLE_S)
    c0, w0, t0 = cpu_seconds(), time.monotonic(), thread_ticks()
    time.sleep(args.window)
    idle = (cpu_seconds() - c0, time.monotonic() - w0)
    idle_threads = per_thread_pct(t0, thread_ticks(), idle[1])
    line = phone.call(args.callee).result(CALL_TIMEOUT_S)
    ok = _wait_state(events, line, LineState.TALKING)
    time.sleep(SETTLE_S)
    probe = _Probe(audio, frames, blocks)
    c0, w0, t0 = cpu_seconds(), time.monotonic(), thread_ticks()
    time.sleep(args.window)
    busy = (cpu_seconds() - c0, time.monotonic() - w0)
    busy_threads = per_thread_pct(t0, thread_ticks(), busy[1])
    timings = probe.done()
    timings["threads"] = {name: [idle_threads.get(name, 0.0), pct] for name, pct in busy_threads.items()
                          if pct or idle_threads.get(name)}
    phone.hangup(line).result(CALL_TIMEOUT_S)
    ok = _wait_state(events, line, LineState.ENDED) and ok
    return {"ok": ok, "idle_pct": cpu_pct(*idle), "busy_pct": cpu_pct(*busy), **timings}


class _Probe:
    """Callback timing and counter changes from now until done()."""

    gc_pauses: GcPauses | None = None

    def __init__(self, audio: Any, frames: Stamps, blocks: Stamps):
        self.audio, self.frames, self.blocks = audio, frames, blocks
        if _Probe.gc_pauses is None:
            _Probe.gc_pauses = GcPauses()
        self.before = audio.stats()
        _Probe.gc_pauses.start()
        frames.start()
        blocks.start()
        if _LINK is not None:
            _LINK.mic_lead.start()
            _LINK.speaker_backlog.start()

    def done(self) -> dict[str, Any]:
        f, b = self.frames.stop(), self.blocks.stop()
        bridge = (against_bridge(_LINK.mic_lead.stop(), _LINK.speaker_backlog.stop()) if _LINK is not None
                  else None)
        after = self.audio.stats()
        return {"gc": _Probe.gc_pauses.stop(),"pjmedia": timing(*f, lambda sizes: np.full(len(sizes), LATE_MS)),
                "device": timing(*b, lambda sizes: sizes / 16.0 + FRAME_MS),
                "counters": {k: getattr(after, k) - getattr(self.before, k) for k in COUNTERS},
                **({"bridge": bridge} if bridge is not None else {})}


COUNTERS = ("mic_underruns", "mic_overruns", "mic_corrections", "speaker_underruns", "speaker_overruns",
            "speaker_corrections", "device_xruns", "device_failures", "limited_samples")


def _tui_call(phone: Any, config: Any, events: queue.Queue, args: argparse.Namespace, audio: Any,
              frames: Stamps, blocks: Stamps) -> dict[str, Any]:
    """A call of `args.seconds` while the real PhoneApp shows it and redraws every widget at Textual's max FPS."""
    from textual.constants import MAX_FPS

    from tuiphone.app import PhoneApp
    from tuiphone.engine.events import LineState
    from tuiphone.store import Store

    class RedrawingApp(PhoneApp):
        CSS_PATH = str(Path(sys.modules[PhoneApp.__module__].__file__).with_name("tuiphone.tcss"))  # not bench/

        def on_mount(self) -> None:       # PhoneApp's own on_mount runs too
            self.redraws = 0
            self.set_interval(1 / MAX_FPS, self.redraw)
            ready.set()

        def redraw(self) -> None:
            self.redraws += 1
            for widget in self.screen.walk_children(with_self=True):
                widget.refresh()

    ready = threading.Event()
    out: dict[str, Any] = {"fps_asked": MAX_FPS}
    app = RedrawingApp(phone, config, store=Store(":memory:"))
    app.tuned = not args.untuned          # as run_app ships it, unless measuring without

    def drive() -> None:
        try:
            if not ready.wait(30):
                out["error"] = "the app did not start"
                return
            if args.switch_interval:
                sys.setswitchinterval(args.switch_interval / 1000)     # over the app's own choice
            deadline = time.monotonic() + 10
            while app.tuned and not gc.get_freeze_count() and time.monotonic() < deadline:
                time.sleep(0.1)      # the app freezes its startup objects 2 s after mount: not inside the call
            out["switch_interval_ms"] = sys.getswitchinterval() * 1000
            out["frozen_objects"] = gc.get_freeze_count()
            line = phone.call(args.callee).result(CALL_TIMEOUT_S)
            if not _wait_state(events, line, LineState.TALKING):
                out["error"] = "the call was not answered"
                return
            time.sleep(SETTLE_S)
            r0 = app.redraws
            rss0 = _rss_mb()
            probe = _Probe(audio, frames, blocks)
            c0, w0 = cpu_seconds(), time.monotonic()
            time.sleep(args.seconds)
            out.update(probe.done())
            wall = time.monotonic() - w0
            out["cpu_pct"] = cpu_pct(cpu_seconds() - c0, wall)
            out["redraws_per_s"] = round((app.redraws - r0) / wall, 1)
            out["rss_growth_mb"] = round(_rss_mb() - rss0, 1)
            out["seconds"] = round(wall, 1)
            phone.hangup(line).result(CALL_TIMEOUT_S)
            _wait_state(events, line, LineState.ENDED)
        except Exception as exc:             # reported in the result, the app still exits
            out["error"] = repr(exc)
        finally:
            try:
                app.call_from_thread(app.exit)
            except RuntimeError:             # the app never ran: nothing to end
                pass

    driver = threading.Thread(target=drive, name="bench-driver", daemon=True)
    driver.start()
    app.run()
    driver.join(CALL_TIMEOUT_S)
    if "seconds" not in out and "error" not in out:
        out["error"] = f"the app ended before the call did (exit code {app.return_code})"
    return out


def _rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve_worker(args: argparse.Namespace) -> int:
    import faulthandler
    import logging

    logging.basicConfig(filename=args.log, level=logging.WARNING)
    faulthandler.enable(open(args.log, "a"))     # a crash in C leaves the Python stacks in the log  # noqa: SIM115
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval / 1000)
    result = run_bare(args) if args.worker == "bare" else run_ours(args)
    result["local_port"] = args.local_port
    Path(args.out).write_text(json.dumps(result))
    return 0


# ----- mixer throughput --------------------------------------------------------------------------------
def mixer_throughput(frames: int = 20000) -> dict[str, Any]:
    """Frames of 20 ms mixed from what a ringing call-waiting moment holds: the call (through its drift
    corrector), a tone, a ringtone and a paging stream; seconds of audio per second of one core."""
    from tuiphone.audio.mixer import Mixer
    from tuiphone.audio.ringbuffer import DriftCorrector, SampleRing
    from tuiphone.audio.ringtones import make_ringtone
    from tuiphone.audio.sources import ToneSource
    from tuiphone.audio.tones import make_tone

    ring = SampleRing(16000)
    mixer = Mixer()
    mixer.add("call", DriftCorrector(ring, target=960))
    mixer.add("tone", make_tone("call_waiting", loop=True))
    mixer.add("ring", make_ringtone("ring1")[0])
    mixer.add("paging:224.1.1.1:4009", ToneSource(1200), gain=0.5)
    call = ToneSource(1000).read(320)
    out = np.zeros(320, dtype=np.int16)
    for _ in range(4):
        ring.write(call)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(frames):
        ring.write(call)
        mixer.read_into(out)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    audio_s = frames * FRAME_MS / 1000
    return {"streams": len(mixer.names), "frames": frames, "x_real_time": round(audio_s / cpu, 1),
            "us_per_frame": round(cpu / frames * 1e6, 1), "wall_s": round(wall, 2)}


# ----- the parent ----------------------------------------------------------------------------------------
class BenchError(Exception):
    """The benchmark could not run; the message says why and what to look at."""


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """End one child by its PID: wait, then SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        proc.wait(grace)
        return
    except subprocess.TimeoutExpired:
        pass
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def run_worker(kind: str, args: argparse.Namespace, callee: str, tmp: Path, timeout: float) -> dict[str, Any]:
    """Run one worker to its end; ours gets a pseudo-terminal (drained by `cat`) as its screen."""
    out, log = tmp / f"{kind}.json", tmp / f"{kind}.log"
    argv = [sys.executable, str(HERE / "audio_path.py"), "--worker", kind, "--callee", callee, "--out", str(out),
            "--log", str(log), "--window", str(args.window), "--rounds", str(args.rounds),
            "--seconds", str(args.seconds), "--devices", args.devices, "--record-dir", str(tmp / "recordings"),
            "--switch-interval", str(args.switch_interval), "--record", args.record,
            *(["--untuned"] if args.untuned else []),
            "--local-port", "python" if kind == "ours-python" else "c"]
    kind_flag = argv.index("--worker") + 1
    argv[kind_flag] = "ours" if kind.startswith("ours") else kind
    drain = None
    with open(tmp / f"{kind}.stdout", "wb") as stdout:
        if kind == "ours":
            master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            drain = subprocess.Popen(["cat"], stdin=master, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
            proc = subprocess.Popen(argv, stdin=slave, stdout=stdout, stderr=slave, env=env, cwd=HERE.parent,
                                    start_new_session=True)
            os.close(slave)
            os.close(master)
        else:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stdout, cwd=HERE.parent,
                                    start_new_session=True)
    try:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"the {kind} worker did not finish in {timeout:.0f} s; its log: {_tail(log)}") from None
        if proc.returncode != 0 or not out.exists():
            crashed = proc.returncode is not None and proc.returncode < 0
            raise BenchError(f"the {kind} worker failed (exit code {proc.returncode}); its log: "
                             f"{_tail(log, 12000 if crashed else 1500)} "
                             f"{_tail(tmp / f'{kind}.stdout')}")
        return json.loads(out.read_text())
    finally:
        _stop(proc, 0)
        if drain is not None:
            _stop(drain, 2)


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace").strip()[-chars:] or "(empty)"
    except FileNotFoundError:
        return "(none)"


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _cpu_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in rounds if r["ok"]]
    return {"idle_pct": _median([r["idle_pct"] for r in good]), "busy_pct": _median([r["busy_pct"] for r in good]),
            "per_call_pct": _median([r["busy_pct"] - r["idle_pct"] for r in good]),
            "rounds_ok": f"{len(good)}/{len(rounds)}"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from call_setup import Worker

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.monotonic()
    pulse = callee = None
    with tempfile.TemporaryDirectory(prefix="tuiphone-audio-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            if args.devices == "pulse":
                from tests.audio.pulse import PulseServer

                pulse = PulseServer(tmp / "pulse")
                pulse.start()
                os.environ.update({k: pulse.env[k] for k in ("PULSE_SERVER", "PULSE_CLIENTCONFIG")})
            callee = Worker("callee", [sys.executable, str(HERE / "bare_pjsua.py"), "callee"], tmp).ready()
            uri = f"sip:bench@{callee.address}"
            budget = args.rounds * (2 * args.window + 2 * SETTLE_S + 2 * CALL_TIMEOUT_S) + 60
            progress(f"bare pjsua2 call (no Python ports): {args.rounds} rounds of {args.window:g} s idle + call")
            bare = run_worker("bare", args, uri, tmp, budget)
            progress(f"tuiphone ({args.devices} devices, recording {args.record}): the same, then a "
                     f"{args.seconds:g} s call with the TUI redrawing")
            ours = run_worker("ours", args, uri, tmp, budget + args.seconds + 60)
            ours_python = None
            if args.port == "both":
                progress("tuiphone with its local port in Python: the same CPU rounds")
                ours_python = run_worker("ours-python", args, uri, tmp, budget)
        finally:
            if callee is not None:
                callee.stop()
            if pulse is not None:
                pulse.stop()
    progress("mixer throughput")
    result = {"devices": args.devices, "bare": {**_cpu_summary(bare["rounds"]), "rounds": bare["rounds"]},
              "ours": {**_cpu_summary(ours["rounds"]), "rounds": ours["rounds"],
                       "audio": f"{ours['audio_status']}: {ours['audio_reason']}",
                       "recordings_bytes": ours["recordings"]},
              "tui_call": ours["tui"], "mixer": mixer_throughput(args.mixer_frames)}
    if ours_python is not None:
        result["ours_python"] = {**_cpu_summary(ours_python["rounds"]), "rounds": ours_python["rounds"]}
        py = result["ours_python"]
        result["ratio_python_per_call"] = (round(py["per_call_pct"] / b_per_call, 2)
                                           if (b_per_call := result["bare"]["per_call_pct"]) and py["per_call_pct"]
                                           else None)
    b, o = result["bare"], result["ours"]
    result["ratio_per_call"] = (round(o["per_call_pct"] / b["per_call_pct"], 2)
                                if o["per_call_pct"] is not None and b["per_call_pct"] else None)
    result["ratio_busy"] = round(o["busy_pct"] / b["busy_pct"], 2) if o["busy_pct"] and b["busy_pct"] else None
    result["window_s"] = args.window
    result["untuned"] = args.untuned
    result["record"] = args.record
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def table(r: dict[str, Any]) -> str:
    def num(v: float | None, unit: str = "") -> str:
        return "-" if v is None else f"{v:.1f}{unit}" if isinstance(v, float) else f"{v}{unit}"

    b, o, t, m = r["bare"], r["ours"], r["tui_call"], r["mixer"]
    py = r.get("ours_python")
    rows = [f"CPU of one call ({o['rounds_ok']} ours, {b['rounds_ok']} bare rounds; % of one core)",
            f"{'':34}{'ours':>10}{'bare':>10}{'ours/bare':>11}"
            + (f"{'Python port':>13}{'its/bare':>10}" if py else ""),
            f"{'process with no call':34}{num(o['idle_pct'], ' %'):>10}{num(b['idle_pct'], ' %'):>10}"
            + (f"{'':11}{num(py['idle_pct'], ' %'):>13}" if py else ""),
            f"{'process during the call':34}{num(o['busy_pct'], ' %'):>10}{num(b['busy_pct'], ' %'):>10}"
            f"{num(r['ratio_busy']):>11}" + (f"{num(py['busy_pct'], ' %'):>13}" if py else ""),
            f"{'the call itself (minus no call)':34}{num(o['per_call_pct'], ' %'):>10}"
            f"{num(b['per_call_pct'], ' %'):>10}{num(r['ratio_per_call']):>11}"
            + (f"{num(py['per_call_pct'], ' %'):>13}{num(r['ratio_python_per_call']):>10}" if py else ""),
            "ours: the local port in C; Python port: the same phone with TUIPHONE_LOCAL_PORT=python",
            f"ours: {o['audio']} Recording {r['record']}, files of {o['recordings_bytes']} bytes.", "",
            "the app " + ("untuned (--untuned)" if r["untuned"] else "as run_app ships it (tuned)")]
    quiet = next((x for x in reversed(o["rounds"]) if x["ok"]), None)
    if quiet is not None:
        rows += [f"a {r['window_s']:g} s call with no UI (the last CPU round)", *_timing_rows(quiet)]
        if quiet.get("threads"):
            busiest = sorted(quiet["threads"].items(), key=lambda kv: kv[1][0] - kv[1][1])[:8]
            rows.append("  threads, % of a core with no call -> during it: " + ", ".join(
                f"{name} {a:g} -> {b:g}" for name, (a, b) in busiest))
    if "error" in t:
        rows.append(f"TUI call: {t['error']}")
    else:
        rows += [f"a {t['seconds']:g} s call, the PhoneApp redrawing every widget on a pty ({t['redraws_per_s']} "
                 f"redraws/s of {t['fps_asked']} asked), process CPU {t['cpu_pct']:.1f} %; switch interval "
                 f"{t['switch_interval_ms']:g} ms, {t['frozen_objects']} objects frozen; resident memory grew "
                 f"{t.get('rss_growth_mb', 0):g} MB", *_timing_rows(t)]
    rows += ["", f"mixer ({m['streams']} streams, 20 ms frames): {m['x_real_time']:g}x real time on one core, "
                 f"{m['us_per_frame']:g} µs per frame"]
    return "\n".join(rows)


def _timing_rows(t: dict[str, Any]) -> list[str]:
    def num(v: float | None, unit: str = "") -> str:
        return "-" if v is None else f"{v:g}{unit}"

    rows = [f"  {'callback interval':32}{'median':>9}{'p99':>10}{'max':>10}{'late':>6}{'count':>7}"]
    for key, label in (("pjmedia", "20 ms frames reaching LocalAudio"), ("device", "speaker device callbacks")):
        s = t[key]
        rows.append(f"  {label:32}{num(s['median_ms'], ' ms'):>9}{num(s['p99_ms'], ' ms'):>10}"
                    f"{num(s['max_ms'], ' ms'):>10}{num(s['late']):>6}{s['callbacks']:>7}")
    br = t.get("bridge")
    if br and br.get("frames"):
        rows.append(f"  against pjmedia's clock ({br['frames']} frames): microphone frames late (> 40 ms behind "
                    f"their usual pace) {br['mic_late']}, worst {br['mic_worst_ms']:g} ms; speaker frames late "
                    f"{br['speaker_late']}, worst {br['speaker_worst_ms']:g} ms")
    rows.append("  counters: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in t["counters"].items()))
    g = t["gc"]
    rows.append(f"  Python's garbage collector: {g['collections']} collections ({g['oldest_generation']} of the oldest "
                f"generation), longest {g['max_ms']:g} ms (by generation 0/1/2: "
                f"{'/'.join(f'{x:g}' for x in g.get('max_ms_by_generation', []))} ms), {g['total_ms']:g} ms in all")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="The local audio path: CPU, callback timing under a redrawing TUI, "
                                             "underruns, mixer throughput.")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the call with the TUI (default 60)")
    ap.add_argument("--window", type=float, default=8.0, help="seconds per CPU window (default 8)")
    ap.add_argument("--rounds", type=int, default=2, help="CPU rounds per side (default 2)")
    ap.add_argument("--devices", choices=["pulse", "null"], default=None,
                    help="pulse: a private PulseAudio with null sinks (the default when installed); null: no device")
    ap.add_argument("--switch-interval", type=float, default=0.0,
                    help="the ours worker's GIL switch interval in ms (default: Python's 5 ms for the calls "
                         "with no UI, the app's own choice for the call with the TUI)")
    ap.add_argument("--record", choices=["auto", "off"], default="auto",
                    help="record every call of ours (default auto: the recorder is part of the path measured)")
    ap.add_argument("--untuned", action="store_true",
                    help="run the app without run_app's audio remedies (no gc.freeze after startup, Python's "
                         "5 ms switch interval), to see what they buy")
    ap.add_argument("--port", choices=["c", "both"], default="both",
                    help="both (default): also run the CPU rounds with the local port in Python, to compare")
    ap.add_argument("--mixer-frames", type=int, default=20000, help="frames in the mixer test (default 20000)")
    ap.add_argument("--json", action="store_true", help="print one JSON object with every number")
    for hidden in ("--worker", "--callee", "--out", "--log", "--record-dir", "--local-port"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.devices is None:
        from shutil import which
        args.devices = "pulse" if all(which(t) for t in ("pulseaudio", "parecord", "pactl")) else "null"
    if args.worker:
        return serve_worker(args)
    if args.seconds <= 0 or args.window <= 0 or args.rounds < 1 or args.mixer_frames < 1:
        ap.error("--seconds and --window must be above 0, --rounds and --mixer-frames at least 1")
    try:
        result = run(args)
    except BenchError as exc:
        print(f"audio_path: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(json.dumps(result) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
