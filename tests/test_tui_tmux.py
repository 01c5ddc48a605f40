"""The real `tuiphone` in a real terminal: tmux types the keys and reads the screen back (capture-pane).

Each phone runs in a detached session on a private tmux socket (`tmux -L <unique>`), so nothing here
touches anyone's tmux; the server is killed at teardown and the phone's PID checked gone.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.phoneproc import sip_port, write_config

pytestmark = pytest.mark.peers

ROOT = Path(__file__).resolve().parents[1]
POLL = 0.1
# status off: the pane gets every row; remain-on-exit: a crash stays readable on screen
TMUX_CONF = "set -g status off\nset -g remain-on-exit on\nset -g default-terminal xterm-256color\n"


class TmuxPhone:
    """One `python -m tuiphone` (the TUI) in a detached tmux session of a fixed size."""

    def __init__(self, workdir: Path, size: tuple[int, int], idle_text: str, extra: dict | None = None) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: install the Debian package tmux", pytrace=False)
        self.socket = f"tuiphone-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.size = size
        self.port = sip_port()
        self.data_dir = workdir / "tui-data"
        self.config_path = write_config(workdir / "tui.toml", {
            "phone": {"language": "en", "idle_text": idle_text},
            "audio": {"input_device": "null", "output_device": "null"},
            **(extra or {}),
        })
        self.tmux_conf = workdir / "tmux.conf"
        self.tmux_conf.write_text(TMUX_CONF)
        self.pid: int | None = None
        self.socket_path: Path | None = None

    def tmux(self, *args: str, check: bool = True) -> str:
        # -u: UTF-8 whatever the locale, so ↗ and box lines come back as they are drawn
        proc = subprocess.run(["tmux", "-u", "-L", self.socket, "-f", str(self.tmux_conf), *args],
                              capture_output=True, timeout=10, env=tmux_environment(), check=False)
        if check and proc.returncode != 0:
            pytest.fail(f"tmux {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode("utf-8", errors="replace")

    def argv(self) -> list[str]:
        """The one-process TUI (the phone inside it); tests/test_attach_tmux.py attaches instead."""
        return [sys.executable, "-m", "tuiphone", "--standalone", "--config", str(self.config_path),
                "--port", str(self.port), "--bind", "127.0.0.1", "--data-dir", str(self.data_dir)]

    def start(self) -> TmuxPhone:
        width, height = self.size
        argv = self.argv()
        self.tmux("new-session", "-d", "-s", "phone", "-x", str(width), "-y", str(height), "-c", str(ROOT),
                  "-e", "TERM=xterm-256color", "-e", "LANG=C.UTF-8", *argv)
        self.socket_path = Path(self.tmux("display-message", "-p", "-t", "phone", "#{socket_path}").strip())
        self.pid = int(self.tmux("list-panes", "-t", "phone", "-F", "#{pane_pid}").split()[0])
        return self

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "phone")

    def rows(self) -> list[str]:
        return self.screen().split("\n")[:self.size[1]]

    def press(self, *keys: str) -> None:
        """Keys by tmux name: Enter, Escape, F2, l …"""
        self.tmux("send-keys", "-t", "phone", *keys)

    def type(self, text: str) -> None:
        """Characters as typed, `#` and `*` included."""
        self.tmux("send-keys", "-t", "phone", "-l", text)

    def exited(self) -> bool:
        return self.tmux("list-panes", "-t", "phone", "-F", "#{pane_dead}", check=False).strip() == "1"

    def wait_for(self, what: str, shown: Callable[[str], bool], timeout: float = 10.0) -> str:
        """Poll the screen until `shown(screen)`; fail with what the screen shows instead."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if shown(screen):
                return screen
            if self.exited():
                pytest.fail(f"tuiphone exited while we waited for {what}; the screen:\n{screen}\n{self.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} on screen after {timeout} s; it shows:\n{screen}\n{self.log()}")
            time.sleep(POLL)

    def log(self) -> str:
        path = self.data_dir / "logs" / "tuiphone.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Kill our tmux server (the phone gets SIGHUP), then make sure the phone's PID is gone."""
        self.tmux("kill-server", check=False)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)    # the server leaves its socket file behind
        if self.pid is None:
            return
        deadline = time.monotonic() + 8
        while _alive(self.pid):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                time.sleep(0.2)
                break
            time.sleep(POLL)
        assert not _alive(self.pid), f"tuiphone (PID {self.pid}) outlived its tmux server"


def tmux_environment() -> dict[str, str]:
    """Our environment without COLUMNS/LINES: GNU readline (imported under pytest) exports them into the C
    environment, and a Textual app that inherits them draws at that size, not the pane's."""
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # the tmux server reaps its panes; a zombie left by a dying server counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.fixture
def tui(tmp_path) -> Iterator[Callable[..., TmuxPhone]]:
    """Factory: tui(size=(80, 24), idle_text="", extra=None) -> the TUI started in tmux, stopped at teardown."""
    started: list[TmuxPhone] = []

    def make(size: tuple[int, int] = (80, 24), idle_text: str = "", extra: dict | None = None) -> TmuxPhone:
        phone = TmuxPhone(tmp_path, size, idle_text, extra)
        started.append(phone)
        return phone.start()

    yield make
    for phone in started:
        phone.stop()


def idle_shown(screen: str) -> bool:
    return "1 Idle" in screen and "F4 Menu" in screen


def test_a_direct_ip_call_typed_in_the_terminal_connects_hangs_up_and_is_in_call_history(tui, phones):
    callee = phones("callee", ["answer", "--tone", "1000", "--timeout", "30", "--json"], ready=True)
    phone = tui()
    phone.wait_for("idle screen", idle_shown, timeout=15)

    phone.press("F2")           # the idle screen's Direct IP soft key
    phone.wait_for("Direct IP Call screen", lambda s: "Direct IP Call" in s)
    phone.type(callee.keypad)   # 127*0*0*1#PORT: * is a dot, # a colon
    address = f"127.0.0.1:{callee.port}"
    phone.wait_for(f"the address {address}", lambda s: f"Calls sip:{address}" in s)

    phone.press("Enter")
    talking = re.compile(r"Line 1\s+Talking\s+\d\d:\d\d")
    screen = phone.wait_for("the call talking", lambda s: bool(talking.search(s)) and address in s)
    assert re.search(r"^ 1 Talking", screen, re.MULTILINE), screen    # the line key lights up too

    phone.press("Escape")       # END
    phone.wait_for("idle screen after hanging up", lambda s: idle_shown(s) and "Talking" not in s)
    rc, report = callee.result(timeout=10)
    assert rc == 0 and report["answered"] == 1, (rc, report, callee.stderr())
    assert report["calls"][0]["result"] == "answered" and report["calls"][0]["duration_s"] > 0, report

    phone.press("l")
    # outgoing mark, the address as an address (not the keypad form), a direct call, MM-DD HH:MM, a talk time
    row = re.compile(rf"↗\s+127\.0\.0\.1:{callee.port}\s+Direct IP\s+"
                     r"\d\d-\d\d \d\d:\d\d\s+\d\d:\d\d")
    screen = phone.wait_for("the call in Call History", lambda s: "Call History" in s and bool(row.search(s)))
    assert len(row.findall(screen)) == 1, screen


def test_at_120x36_the_idle_screen_shows_six_line_keys_and_the_soft_keys_along_the_bottom(tui):
    phone = tui(size=(120, 36), idle_text="tmux says hello")
    phone.wait_for("idle screen", lambda s: idle_shown(s) and "tmux says hello" in s, timeout=15)
    rows = phone.rows()
    assert len(rows) == 36, rows

    line_keys = [r for r in rows if re.match(r"^ [1-6] Idle\b", r)]
    assert [r.split()[0] for r in line_keys] == ["1", "2", "3", "4", "5", "6"], "\n".join(rows)

    bottom = rows[-1]
    for label in ("F2 Direct IP", "F3 SIP trace", "F4 Menu"):
        assert label in bottom, "\n".join(rows)
    assert bottom.index("F4 Menu") > 80, f"the soft keys do not use the wider screen:\n{bottom}"


def test_alt_and_a_digit_presses_a_programmable_key_in_a_real_terminal(tui):
    # a terminal sends alt+1 as ESC 1, which Textual reads as "¡": only a real terminal shows it works
    phone = tui(extra={"keys": [{"mode": "dnd", "label": "Quiet"}, {"mode": "line"}]})
    phone.wait_for("idle screen with the DND key", lambda s: "1 Quiet" in s and "F4 Menu" in s, timeout=15)
    assert "DND" not in phone.rows()[0]
    phone.press("M-1")
    phone.wait_for("DND on in the status bar", lambda s: "DND" in s.split("\n")[0])
    phone.press("M-1")
    phone.wait_for("DND off again", lambda s: "DND" not in s.split("\n")[0])


def test_closing_the_terminal_unregisters_the_phone(tui, kamailio, phones):
    """The TUI sends the start-up Action URLs (`registered`, then `setup_completed`). SIGHUP (the terminal
    closed: here its tmux server is killed) is a clean stop like SIGTERM: the phone unregisters, so the
    registrar has no stale contact and a caller gets 480 at once."""
    from tests.services.helpers import Recorder, wait_for

    account = {"sip_server": f"{kamailio.host}:{kamailio.port}", "user_id": "1001", "password": "pw1001",
               "reg_expires": 600}
    server = Recorder().start()
    try:
        urls = {name: f"{server.base}/{name}" for name in ("registered", "setup_completed")}
        phone = tui(extra={"accounts": [account], "action_url": urls})
        phone.wait_for("account 1 registered", lambda s: "●" in s and idle_shown(s), timeout=15)
        wait_for(lambda: len(server.requests) >= 2, 10, "the start-up Action URLs")
        assert server.events() == ["/registered", "/setup_completed"]
    finally:
        server.stop()
    phone.stop()                # kill-server: the phone gets SIGHUP; stop() checks its PID is gone
    # a stale contact would be tried for 4 s (Kamailio's fr_timer): the caller gives up at 2 s with 487
    caller = phones("caller", ["call", "1001", "--timeout", "2", "--json"],
                    config={"accounts": [{**account, "user_id": "1002", "password": "pw1002"}]})
    rc, report = caller.result()
    assert (report["result"], report["sip_status"]) == ("no_answer", 480), report

def test_choosing_a_language_redraws_the_language_screen_at_once(tui):
    # the screens below rebuild at the same time; the one on top used to keep its old text until the next key
    phone = tui()
    phone.wait_for("idle screen", idle_shown, timeout=15)
    phone.press("m")
    phone.wait_for("the menu", lambda s: "Preferences" in s)
    phone.press("7")
    phone.wait_for("Preferences", lambda s: "Language" in s and "Date" in s)
    phone.press("1")
    phone.wait_for("the language screen", lambda s: "● English" in s)
    phone.press("2")
    screen = phone.wait_for("the language screen in Chinese", lambda s: "● 简体中文" in s and "语言" in s,
                            timeout=5)
    assert "Language" not in screen and "Select" not in screen, screen


def test_the_log_file_says_the_phone_started_at_the_default_log_level(tui):
    phone = tui()
    phone.wait_for("idle screen", idle_shown, timeout=15)
    deadline = time.monotonic() + 5
    while "started: config" not in phone.log() and time.monotonic() < deadline:
        time.sleep(POLL)
    assert re.search(r" INFO tuiphone\.app: tuiphone \S+ started: config \S+tui\.toml, data dir ", phone.log()), \
        phone.log()


def test_a_call_that_rings_and_gives_up_leaves_the_terminal_as_the_idle_screen_draws_it(tui, phones):
    """The ringing prompt over the idle screen, drawn by Textual's partial updates in a real terminal: while it
    rings the caller shows; when the caller gives up (CANCEL) nothing of the prompt stays on the terminal, and
    the next call's prompt shows that caller, not the last (the screen under it skips its own whole repaint
    as the prompt is pushed: PhoneApp.push_screen)."""
    phone = tui()
    idle = phone.wait_for("idle screen", idle_shown, timeout=15)
    assert not set("█▀▄") & set(idle), idle
    for n in (1, 2):
        # each caller from its own loopback address: its URI on the prompt tells the calls apart
        caller = phones(f"caller{n}", ["call", f"127.0.0.1:{phone.port}", "--bind", f"127.0.0.{n + 1}",
                                       "--timeout", "3", "--json"])
        ringing = phone.wait_for(f"call {n} ringing", lambda s: "Incoming call on line" in s and "F1 Answer" in s)
        assert f"sip:tuiphone@127.0.0.{n + 1}" in ringing and f"127.0.0.{4 - n}" not in ringing, ringing
        rc, report = caller.result(timeout=15)
        assert report["result"] == "no_answer", report
        after = phone.wait_for(f"the idle screen after call {n}", lambda s: idle_shown(s) and "F1 Answer" not in s)
        # not a cell of the prompt left: its thick border (█ ▀ ▄), its lines; the line keys as before
        assert not set("█▀▄") & set(after) and "Incoming call" not in after and "sip:tuiphone" not in after, after
        assert re.findall(r"^ \d Idle.*$", after, re.MULTILINE) == re.findall(r"^ \d Idle.*$", idle, re.MULTILINE)


def test_a_second_start_draws_from_the_checked_config_and_its_phone_takes_a_call(tui, phones):
    """`tuiphone --standalone` keeps the config its first start checked (config/checked.py); the next start
    draws the idle screen from it before building the phone, and that phone is the one that rings."""
    first = tui()
    first.wait_for("idle screen", idle_shown, timeout=15)
    records = list((first.data_dir / "config-checked").iterdir())
    assert len(records) == 1, records
    first.stop()

    second = tui()          # the same config file and data dir
    second.wait_for("idle screen", idle_shown, timeout=15)
    # called at once: the phone may still be starting under the screen; the call rings once it is up
    caller = phones("caller", ["call", f"127.0.0.1:{second.port}", "--timeout", "8", "--json"])
    second.wait_for("the call ringing", lambda s: "Incoming call on line" in s and "F1 Answer" in s, timeout=15)
    rc, report = caller.result(timeout=20)
    assert report["result"] == "no_answer", report
    assert second.log().count("started: config") >= 2, second.log()


def test_a_phone_that_cannot_start_after_the_first_screen_says_why_and_exits_2(tui, tmp_path):
    first = tui()
    first.wait_for("idle screen", idle_shown, timeout=15)
    first.stop()
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    second = TmuxPhone(tmp_path, (80, 24), "", None)
    second.port = taken.getsockname()[1]
    phone_argv = second.argv()
    # the shell says the exit code on the pane (tmux's pane_dead_status is not always there when the pane is)
    second.argv = lambda: ["sh", "-c", shlex.join(phone_argv) + '; echo "exited with $?"']  # type: ignore[method-assign]
    try:
        second.start()
        deadline = time.monotonic() + 15
        screen = ""
        while "exited with" not in screen and time.monotonic() < deadline:
            time.sleep(POLL)
            screen = second.tmux("capture-pane", "-p", "-t", "phone", "-S", "-50")    # with what scrolled off
        text = " ".join(screen.split())
        assert "exited with 2" in text, f"the phone ran on a port in use, or exited otherwise:\n{screen}"
        assert f"cannot open the SIP UDP port {second.port}" in text and "--port" in text, screen
        assert "Traceback" not in screen, screen
    finally:
        second.stop()
        taken.close()
