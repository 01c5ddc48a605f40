"""Startup time and idle memory: `tuiphone` (the TUI) against a minimal Textual app, in a real terminal (tmux).

    python bench/startup.py [--runs N] [--size 80x24] [--settle S] [--json]

Each run starts the app as a new process in a detached tmux session of a fixed size and times it from
the moment tmux is told to start it to the first screen capture that shows the whole first screen
(tuiphone: the idle screen with its line keys and soft keys; minimal: its one Label). The screen is
read through one tmux control-mode client (`tmux -C`), so polling every few ms costs no process spawns.
After `--settle` seconds on that screen, the process's RSS (and its peak, VmHWM) is read from /proc.
The two apps take turns (ours, minimal, minimal, ours, ...) after one uncounted warm-up each, so the
noise of a shared machine falls on both alike. Every process started here is stopped by its PID;
the private tmux server is killed at the end. Loopback only: tuiphone binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.005
DRAW_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
MINIMAL_TEXT = "minimal textual app ready"
TMUX_CONF = "set -g status off\nset -g remain-on-exit on\nset -g default-terminal xterm-256color\n"


# ----- the minimal app (runs in its own process with --worker minimal) --------------------------------
def run_minimal() -> int:
    """The reference: a Textual app with one Label, nothing else."""
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    class Minimal(App[int]):
        def compose(self) -> ComposeResult:
            yield Label(MINIMAL_TEXT)

    Minimal().run()
    return 0


# ----- tmux --------------------------------------------------------------------------------------------
def tmux_environment() -> dict[str, str]:
    """Our environment without COLUMNS/LINES (GNU readline exports them), or the apps draw at that size."""
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def quoted(arg: str) -> str:
    """One argument in tmux command syntax."""
    return "'" + arg.replace("'", "'\\''") + "'"


class TmuxError(RuntimeError):
    """tmux refused a command; str() says which and why."""


class Tmux:
    """A private tmux server driven through one control-mode client (commands in, %begin/%end blocks out)."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"tuiphone-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.conf = workdir / "tmux.conf"
        self.base = ["tmux", "-u", "-L", self.socket, "-f", str(self.conf)]
        self.control: subprocess.Popen | None = None
        self.hold_pid: int | None = None
        self.socket_path: Path | None = None

    def start(self) -> None:
        self.conf.write_text(TMUX_CONF)
        # a session that holds the server up between runs; the control client attaches to it
        subprocess.run([*self.base, "new-session", "-d", "-s", "hold", "-x", "80", "-y", "24", "cat"],
                       check=True, env=tmux_environment(), capture_output=True, timeout=10)
        self.control = subprocess.Popen([*self.base, "-C", "attach-session", "-t", "hold"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=tmux_environment(), text=True,
                                        encoding="utf-8", errors="replace", bufsize=1)
        self.socket_path = Path(self.command("display-message -p '#{socket_path}'").strip())
        self.hold_pid = int(self.command("list-panes -t hold -F '#{pane_pid}'").split()[0])

    def command(self, line: str) -> str:
        """Send one command; return its output (the lines between %begin and %end)."""
        self._send(line)
        return self._block(line)

    def _send(self, line: str) -> None:
        assert self.control is not None and self.control.stdin is not None
        self.control.stdin.write(line + "\n")
        self.control.stdin.flush()

    def _block(self, line: str = "") -> str:
        """Read up to the end of the next block our own command caused; skip notifications and other blocks."""
        assert self.control is not None and self.control.stdout is not None
        out: list[str] = []
        block: str | None = None        # None outside a block, else "ours" or "other"
        while True:
            text = self.control.stdout.readline()
            if not text:
                raise TmuxError(f"the tmux control client ended while running: {line}")
            text = text.rstrip("\n")
            if block is None:
                if text.startswith("%begin "):
                    # flags 1: a command this client sent (the attach itself answers with flags 0)
                    block = "ours" if text.split()[-1] == "1" else "other"
                continue
            if text.startswith(("%end ", "%error ")):
                if block == "ours":
                    if text.startswith("%error "):
                        raise TmuxError(f"tmux refused `{line}`: {' '.join(out)}")
                    return "\n".join(out)
                block = None
                continue
            if block == "ours":
                out.append(text)

    def close(self) -> None:
        """Kill the server (the hold pane goes with it), check its PID gone, remove the socket."""
        if self.control is not None:
            try:
                if self.control.stdin is not None:
                    self.control.stdin.close()
                self.control.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.control.kill()
                self.control.wait(timeout=5)
        subprocess.run([*self.base, "kill-server"], env=tmux_environment(), capture_output=True, timeout=10,
                       check=False)
        if self.hold_pid is not None:
            stop(self.hold_pid, signal.SIGHUP)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)     # the server leaves its socket file behind


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (tmux reaps its panes)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1]
    except (FileNotFoundError, ProcessLookupError, IndexError):     # ESRCH: it went while being read
        return False
    return fields[0] != "Z"


def stop(pid: int, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the PID, wait for it to go; SIGKILL it when it will not."""
    if not alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT_S
        time.sleep(0.02)


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc/PID/status."""
    values = {}
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = row.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


# ----- one run -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    app: str
    startup_ms: float
    rss_kib: int
    peak_kib: int


@dataclass(frozen=True)
class Target:
    """An app to start and how to tell its first screen is fully drawn."""

    name: str
    argv: list[str]
    drawn: Callable[[str], bool]


def targets(workdir: Path) -> list[Target]:
    config = workdir / "tuiphone.toml"
    config.write_text('[phone]\nlanguage = "en"\n\n[audio]\ninput_device = "null"\noutput_device = "null"\n')
    ours = Target("tuiphone", [sys.executable, "-m", "tuiphone", "--standalone", "--config", str(config), "--port", "0",
                               "--bind", "127.0.0.1", "--data-dir", str(workdir / "tuiphone-data")],
                  lambda s: "F4 Menu" in s and "1 Idle" in s and "6 Idle" in s)
    minimal = Target("minimal", [sys.executable, str(Path(__file__).resolve()), "--worker", "minimal"],
                     lambda s: MINIMAL_TEXT in s)
    return [ours, minimal]


class NotDrawn(RuntimeError):
    """An app did not draw its first screen in time; str() quotes what its pane showed."""


def run_once(tmux: Tmux, target: Target, size: tuple[int, int], settle: float, run: int) -> Sample:
    session = f"run{run}"
    start = (f"new-session -d -P -F '#{{pane_pid}}' -s {session} -x {size[0]} -y {size[1]} -c {quoted(str(ROOT))} "
             f"-e TERM=xterm-256color -e LANG=C.UTF-8 " + " ".join(quoted(a) for a in target.argv))
    t0 = time.monotonic()
    pid = int(tmux.command(start).split()[0])
    try:
        deadline = t0 + DRAW_TIMEOUT_S
        while True:
            screen = tmux.command(f"capture-pane -p -t {session}")
            now = time.monotonic()
            if target.drawn(screen):
                break
            if now > deadline or not alive(pid):
                why = "exited before it drew" if not alive(pid) else f"did not draw in {DRAW_TIMEOUT_S:.0f} s"
                raise NotDrawn(f"{target.name} {why} its first screen; its pane shows:\n{screen.rstrip()}")
            time.sleep(POLL_S)
        time.sleep(settle)
        rss, peak = memory_kib(pid)
        return Sample(target.name, (now - t0) * 1000, rss, peak)
    finally:
        stop(pid)
        tmux.command(f"kill-session -t {session}")


# ----- report --------------------------------------------------------------------------------------------
def summary(samples: list[Sample], name: str) -> dict[str, float]:
    mine = [s for s in samples if s.app == name]
    startup = [s.startup_ms for s in mine]
    return {"runs": len(mine), "startup_ms_median": statistics.median(startup), "startup_ms_min": min(startup),
            "startup_ms_max": max(startup), "rss_mib_median": statistics.median(s.rss_kib for s in mine) / 1024,
            "peak_mib_median": statistics.median(s.peak_kib for s in mine) / 1024}


def table(ours: dict[str, float], minimal: dict[str, float], size: tuple[int, int], settle: float) -> str:
    def row(label: str, key: str, unit: str, digits: int) -> str:
        a, b = ours[key], minimal[key]
        return f"{label:<24}{f'{a:.{digits}f} {unit}':>12}{f'{b:.{digits}f} {unit}':>12}{a / b:>8.2f}x"

    def spread(summary: dict[str, float]) -> str:
        return f"{summary['startup_ms_min']:.0f}-{summary['startup_ms_max']:.0f}"

    return "\n".join([
        f"tmux {size[0]}x{size[1]}, {ours['runs']:.0f} runs each, medians; "
        f"memory after {settle:g} s on the first screen",
        f"{'':<24}{'tuiphone':>12}{'minimal':>12}{'ratio':>9}",
        row("start -> first screen", "startup_ms_median", "ms", 0),
        f"{'  fastest-slowest':<24}{spread(ours):>12}{spread(minimal):>12}",
        row("RSS when idle", "rss_mib_median", "MiB", 1),
        row("peak RSS (VmHWM)", "peak_mib_median", "MiB", 1),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="counted runs per app (default 7)")
    parser.add_argument("--size", default="80x24", help="terminal size WxH (default 80x24)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds on the first screen before RSS")
    parser.add_argument("--json", action="store_true", help="one JSON object with the medians and every sample")
    parser.add_argument("--worker", choices=["minimal"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "minimal":
        return run_minimal()
    width, _, height = args.size.partition("x")
    size = (int(width), int(height))

    with tempfile.TemporaryDirectory(prefix="tuiphone-startup-") as tmp:
        workdir = Path(tmp)
        ours, minimal = targets(workdir)
        tmux = Tmux(workdir)
        samples: list[Sample] = []
        try:
            tmux.start()
            run_once(tmux, ours, size, 0, 0)          # warm-up: caches, the data dir and its database
            run_once(tmux, minimal, size, 0, 1)
            order = [ours, minimal, minimal, ours]
            for i in range(2 * args.runs):
                samples.append(run_once(tmux, order[i % 4], size, args.settle, i + 2))
        except (NotDrawn, TmuxError) as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            tmux.close()

    result = {"ours": summary(samples, "tuiphone"), "minimal": summary(samples, "minimal")}
    if args.json:
        result["ratio"] = {k: result["ours"][k] / result["minimal"][k]
                           for k in ("startup_ms_median", "rss_mib_median", "peak_mib_median")}
        result["samples"] = [asdict(s) for s in samples]
        print(json.dumps(result, indent=2))
    else:
        print(table(result["ours"], result["minimal"], size, args.settle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
