"""Where an attached front-end's UI thread spends its CPU on a ringing call, against a minimal Textual app.

    python bench/frontend_cpu.py [--calls N] [--rate R] [--json]

One run, side by side:

(a) ours: a PhoneApp on a RemotePhone, attached to a `tuiphone daemon` as the attaching `tuiphone` builds it
    (bench/attach.py's `--worker tui`), headless at 80x24 (Textual's run_test: what a frame costs to lay
    out and render, not what the terminal takes to show it). SIPp calls the daemon `--calls` times on
    127.0.0.1 (INVITE, 180, CANCEL after 300 ms, as in bench/attach.py): each call opens the ringing prompt
    and closes it. The UI thread's CPU (thread_time) over the calls, less what it used over as long idle
    before them (the clock), per call, and split by what it went to: whole frames (by screen), partial
    frames, restyles, line key redraws, engine events handled, screens resumed, layouts.
(b) the floor: a minimal Textual app whose opaque modal screen is pushed and popped as often: the same two
    whole frames of a call, with nothing of the phone.

The split's parts overlap where one runs inside another (a redraw's restyle is counted in both); the
total is the UI thread's. The front-end's event latency is bench/attach.py's; this says where the CPU
behind it goes. Loopback only; the daemon is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import attach  # noqa: E402

PARTS: dict[str, str] = {}       # label -> what it is, in the order printed


def timed(spent: collections.Counter, counts: collections.Counter, owner: Any, name: str, label: str,
          says: str) -> None:
    """Count the thread CPU of every outermost call of owner.name under `label`."""
    PARTS[label] = says
    original = getattr(owner, name)
    depth = [0]

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if depth[0]:
            return original(*args, **kwargs)
        depth[0] += 1
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            depth[0] -= 1
            spent[label] += time.thread_time() - start
            counts[label] += 1

    setattr(owner, name, wrapper)


def whole_frames_by_screen(spent: collections.Counter, counts: collections.Counter) -> None:
    from textual._compositor import Compositor

    draw = Compositor.render_full_update

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return draw(self, *args, **kwargs)
        finally:
            label = f"whole frame, {type(self.root).__name__}"
            PARTS.setdefault(label, "the terminal drawn whole (a screen opened or came back)")
            spent[label] += time.thread_time() - start
            counts[label] += 1

    Compositor.render_full_update = wrapper       # type: ignore[method-assign]


def instrument() -> tuple[collections.Counter, collections.Counter]:
    from textual.css.stylesheet import Stylesheet
    from textual.screen import Screen

    from tuiphone.app import PhoneApp
    from tuiphone.widgets.line_keys import LineKeys

    spent: collections.Counter = collections.Counter()
    counts: collections.Counter = collections.Counter()
    whole_frames_by_screen(spent, counts)
    from textual._compositor import Compositor
    timed(spent, counts, Compositor, "render_partial_update", "partial frame", "only the rows that changed")
    timed(spent, counts, Stylesheet, "update_nodes", "restyle", "widgets styled again (a class or the CSS changed)")
    timed(spent, counts, LineKeys, "redraw", "line keys redraw", "the line keys told a line or the status changed")
    handler = next(c for c in PhoneApp.__mro__ if "on_engine_event" in c.__dict__)
    timed(spent, counts, handler, "on_engine_event", "engine events", "PhoneApp.on_engine_event, every event")
    timed(spent, counts, Screen, "_on_screen_resume", "screen resume", "Textual resuming a screen pushed or uncovered")
    timed(spent, counts, Screen, "_refresh_layout", "layout", "a screen laid out")
    return spent, counts


def ours(calls: int, rate: float) -> dict[str, Any]:
    runtime = Path(tempfile.mkdtemp(prefix="tp-fcpu-", dir="/tmp"))       # a short path for the socket
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    with tempfile.TemporaryDirectory(prefix="tuiphone-fcpu-") as tmp:
        work = Path(tmp)
        config = work / "phone.toml"
        config.write_text(attach.CONFIG)
        daemon = attach.Daemon(work, config)
        try:
            daemon.wait_ready()
            return asyncio.run(_attached(daemon, work, config, calls, rate))
        finally:
            daemon.stop()
            shutil.rmtree(runtime, ignore_errors=True)


async def _attached(daemon: Any, work: Path, config: Path, calls: int, rate: float) -> dict[str, Any]:
    from tuiphone.app import make_app
    from tuiphone.config import load_or_create
    from tuiphone.paths import database_path, ensure_dir
    from tuiphone.store import Store

    spent, counts = instrument()
    settings, _ = load_or_create(config)
    phone = attach.attach_remote(config)
    store = Store(database_path(ensure_dir(work / "tui-data")))
    app = make_app(phone, settings, config_path=config, handle_sigterm=False, store=store)
    app.tuned = True
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(1.0)
            seconds = calls / rate + 1.5
            start = time.thread_time()
            await asyncio.sleep(seconds)             # idle: the clock and the blink timer
            idle = time.thread_time() - start
            spent.clear()
            counts.clear()
            start, began = time.thread_time(), time.monotonic()
            caller = threading.Thread(target=attach.sipp_calls, args=(daemon, work, calls, rate))
            caller.start()
            while caller.is_alive():
                await asyncio.sleep(0.1)
            await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began)))
            used = time.thread_time() - start
            phone.detach()                  # while the app runs: it hears nothing of the phone going after
    finally:
        store.close()
    return {"calls": calls, "ui_thread_ms_per_call": round((used - idle) * 1000 / calls, 2),
            "idle_ms_per_call": round(idle * 1000 / calls, 2),
            "parts": {label: {"ms_per_call": round(spent[label] * 1000 / calls, 2),
                              "times_per_call": round(counts[label] / calls, 2)}
                      for label in PARTS if counts[label]}}


async def floor(cycles: int, rate: float) -> dict[str, Any]:
    """A minimal Textual app: an opaque modal with a few lines pushed, and popped 300 ms later, `cycles` times
    at `rate` a second (as the calls come); its UI thread's CPU less as long idle."""
    from textual.app import App, ComposeResult
    from textual.screen import ModalScreen
    from textual.widgets import Static

    class Prompt(ModalScreen[None]):
        DEFAULT_CSS = "Prompt { background: $background; align: center middle; } Prompt > Static { width: 64; }"

        def compose(self) -> ComposeResult:
            yield Static("Incoming call on line 1\nSIPp <sipp>\nsip:sipp@127.0.0.1\nDirect IP call")

    class Minimal(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("minimal textual app\n" * 6)

    app = Minimal()
    async with app.run_test(size=(80, 24)) as pilot:
        app.install_screen(Prompt(), "prompt")
        await pilot.pause(0.3)
        period = 1 / rate
        start = time.thread_time()
        await asyncio.sleep(cycles * period)
        idle = time.thread_time() - start
        start = time.thread_time()
        for _ in range(cycles):
            app.push_screen("prompt")
            await asyncio.sleep(0.3)
            app.pop_screen()
            await asyncio.sleep(period - 0.3)
        used = time.thread_time() - start
    return {"cycles": cycles, "ui_thread_ms_per_cycle": round((used - idle) * 1000 / cycles, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="SIPp calls (default 40)")
    parser.add_argument("--rate", type=float, default=2.0, help="SIPp calls a second (default 2)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"ours": ours(args.calls, args.rate), "floor": asyncio.run(floor(args.calls, args.rate))}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    mine, least = result["ours"], result["floor"]
    print(f"UI thread CPU a ringing call (prompt opened and closed), {mine['calls']} SIPp calls, 80x24 headless")
    print(f"  ours (attached front-end)      {mine['ui_thread_ms_per_call']:7.2f} ms   "
          f"(idle {mine['idle_ms_per_call']:.2f} ms a call's time, left out)")
    print(f"  minimal Textual push + pop     {least['ui_thread_ms_per_cycle']:7.2f} ms")
    print(f"  ours / minimal                 {mine['ui_thread_ms_per_call'] / least['ui_thread_ms_per_cycle']:7.1f}x")
    print("where ours goes (parts overlap where one runs inside another):")
    for label, part in sorted(mine["parts"].items(), key=lambda kv: -kv[1]["ms_per_call"]):
        print(f"  {label:34s} {part['ms_per_call']:6.2f} ms  {part['times_per_call']:5.1f}x  {PARTS[label]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
