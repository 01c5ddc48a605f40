"""An attaching front-end is light: the TUI, its screens and the control client import neither pjsua2 nor
numpy (nor sounddevice, soxr, the engine's Phone): those belong to the phone process (issue 15). `tuiphone`
itself, attaching, imports no pydantic either: the phone sends it the config as plain data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tuiphone"
HEAVY = ("numpy", "pjsua2", "sounddevice", "soxr", "pypinyin", "tuiphone.engine.phone", "tuiphone.engine.sip")


def _heavy_after(*modules: str) -> list[str]:
    """The heavy modules loaded once a fresh interpreter has imported `modules`."""
    code = f"import sys, json, {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    loaded = json.loads(out)
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_the_attaching_tui_imports_no_engine_and_no_numpy():
    heavy = _heavy_after("tuiphone.app", "tuiphone.tui_run", "tuiphone.control.client")
    assert not heavy, f"the attaching TUI pulls in {heavy[:5]}"


def test_every_screen_and_widget_module_is_light_too():
    """The screens a user opens later (dialer, features, page, ringtone...) keep the front-end light as well:
    what only the standalone phone needs (its pager, its sound files) is imported where it is used."""
    ui = sorted("tuiphone." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
                for sub in ("screens", "widgets") for p in (PACKAGE / sub).glob("*.py") if p.name != "__init__.py")
    assert len(ui) > 20, "where are the screens?"
    heavy = _heavy_after("tuiphone.messages", "tuiphone.keymap", "tuiphone.i18n", *ui)
    assert not heavy, f"the UI modules pull in {heavy[:5]}"


# the attaching TUI as it runs: a PhoneApp over a RemotePhone on a real phone process, with its store
ATTACHED_APP = """
import asyncio, json, sys
from pathlib import Path
from tuiphone.app import make_app
from tuiphone.config import load_or_create
from tuiphone.control.client import ControlClient, RemotePhone
from tuiphone.store import Store

async def main():
    config_path, database = Path(sys.argv[1]), Path(sys.argv[2])
    client = await ControlClient.connect(config_path)
    config, _ = load_or_create(config_path)
    store = Store(database)
    app = make_app(RemotePhone(client), config, config_path=config_path, store=store)
    async with app.run_test() as pilot:
        await pilot.pause(0.3)
        drawn = "".join(str(w.render()) for w in app.screen.query("LineKeys"))
        app.call_log_mode(None)
    store.close()
    await client.close()
    print(json.dumps({"drawn": bool(drawn), "modules": sorted(sys.modules)}))

asyncio.run(main())
"""


def test_the_attached_app_running_on_a_real_phone_stays_light(ctl_daemons, tmp_path):
    daemon = ctl_daemons()
    done = subprocess.run([sys.executable, "-c", ATTACHED_APP, str(daemon.config_path), str(tmp_path / "ui.db")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["drawn"]
    heavy = sorted(m for m in report["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, f"the running attached TUI pulls in {heavy[:5]}"


# `tuiphone ARGS` itself (the click group, attach.run_attached, make_app) headless up to its first screen
ATTACH_ENTRY = """
import json, sys
import textual.app

seen = {}
run = textual.app.App.run

def first_screen_then_leave(self, *args, **kwargs):
    async def look(pilot):
        await pilot.pause()
        seen.update(screen=type(self.screen).__name__, config=type(self.config).__name__,
                    idle_text=self.config.phone.idle_text, ports=self.config.sip.transports)
        self.exit(0)
    return run(self, headless=True, auto_pilot=look)

textual.app.App.run = first_screen_then_leave
sys.argv = ["tuiphone", *sys.argv[1:]]
from tuiphone.cli import main
try:
    main()
except SystemExit as exc:
    seen["exit"] = exc.code
print(json.dumps({**seen, "modules": sorted(sys.modules)}))
"""


def test_tuiphone_attaching_to_a_real_phone_loads_no_engine_no_numpy_and_no_pydantic(ctl_daemons, tmp_path):
    daemon = ctl_daemons(config={"phone": {"idle_text": "the phone process said so"}})
    done = subprocess.run([sys.executable, "-c", ATTACH_ENTRY, "--config", str(daemon.config_path),
                           "--data-dir", str(tmp_path / "tui-data")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0 and report["screen"] == "IdleScreen"
    # the config as the phone read the file, defaults included, without the schema
    assert (report["config"], report["idle_text"], report["ports"]) == ("ConfigView", "the phone process said so",
                                                                        ["udp", "tcp"])
    heavy = sorted(m for m in report["modules"]
                   if any(m == h or m.startswith(h + ".") for h in (*HEAVY, "pydantic", "pydantic_core")))
    assert not heavy, f"`tuiphone` attaching pulls in {heavy[:5]}"


def test_a_config_broken_since_the_phone_started_stops_the_attaching_tui_with_its_problems(ctl_daemons, tmp_path):
    daemon = ctl_daemons()
    daemon.config_path.write_text("[phone]\nlines = 99\n")
    done = subprocess.run([sys.executable, "-m", "tuiphone", "--config", str(daemon.config_path),
                           "--data-dir", str(tmp_path / "tui-data")],
                          capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert str(daemon.config_path) in done.stderr and "phone.lines" in done.stderr, done.stderr
