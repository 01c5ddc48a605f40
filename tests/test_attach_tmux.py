"""`tuiphone` attaches to the phone process (issue 15): real TUIs in tmux, the real daemon they start.

The first TUI starts the phone in the background (its own session, not tmux's); the call goes on when the
terminal goes; a second TUI sees what the first does; a phone killed under a TUI is said and started again.
Every daemon a TUI started is stopped by its PID at teardown (found through its control socket's record).
"""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.peers.audio_check import dominant_frequency, read_wav, rms, write_tone_wav
from tests.test_tui_tmux import TmuxPhone, _alive, idle_shown

pytestmark = pytest.mark.peers

TALKING = re.compile(r"Line 1\s+Talking\s+(\d\d):(\d\d)")


class AttachedTui(TmuxPhone):
    """`python -m tuiphone` as users start it: attached to the phone process for its config."""

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "tuiphone", "--config", str(self.config_path), "--port", str(self.port),
                "--bind", "127.0.0.1", "--data-dir", str(self.data_dir)]


def talk_seconds(screen: str) -> int:
    found = TALKING.search(screen)
    return int(found[1]) * 60 + int(found[2]) if found else -1


def phone_pid(config: Path) -> int | None:
    from tuiphone.control.endpoint import running_pid

    return running_pid(config)


@pytest.fixture
def attached(tmp_path, monkeypatch) -> Iterator[Callable[..., AttachedTui]]:
    """Factory: attached(extra=None) -> a TUI in tmux attached to the one phone of tmp_path's config (the
    first one starts it). TUIs are stopped, then every phone process seen, by PID."""
    runtime = Path(tempfile.mkdtemp(prefix="tp-att-", dir="/tmp"))     # a socket path has 108 bytes
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    started: list[AttachedTui] = []
    phones: set[int] = set()

    def make(extra: dict | None = None) -> AttachedTui:
        tui = AttachedTui(tmp_path, (100, 30), "", extra)
        if started:
            tui.port = started[0].port       # the phone has the first one's port; a later one only attaches
        started.append(tui)
        return tui.start()

    make.phones = phones            # type: ignore[attr-defined]
    yield make
    for tui in started:
        pid = phone_pid(tui.config_path)
        if pid:
            phones.add(pid)
        tui.stop()
    for pid in phones:
        _stop_pid(pid)
    os.system(f"rm -rf {runtime}")


def _stop_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 8
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def test_the_call_outlives_the_terminal_and_a_new_tui_shows_it_with_its_timer(attached, kamailio, phones,
                                                                               tmp_path):
    """Registered at Kamailio as 1001, the phone calls 1002 (a tuiphone `answer` recording what it hears)."""
    def account(user: str) -> dict:
        return {"sip_server": f"{kamailio.host}:{kamailio.port}", "user_id": user, "password": f"pw{user}"}

    tone = write_tone_wav(tmp_path / "tone.wav", 1000.0, seconds=4.0)
    heard = tmp_path / "heard.wav"
    callee = phones("callee", ["answer", "--record", str(heard), "--timeout", "40", "--json"],
                    config={"accounts": [account("1002")]}, ready=True)
    deadline = time.monotonic() + 10
    while "SIP/2.0 200 OK" not in callee.trace().split("REGISTER sip:", 1)[-1] and time.monotonic() < deadline:
        time.sleep(0.1)
    extra = {"accounts": [account("1001")],
             "audio": {"input_device": f"file:{tone}", "output_device": "null"}}
    first = attached(extra)
    first.wait_for("account 1 registered", lambda s: "●" in s and idle_shown(s), timeout=30)
    first.type("1002")
    first.press("Enter")
    first.wait_for("the call talking", lambda s: talk_seconds(s) >= 0, timeout=15)
    talking_at = time.monotonic()
    time.sleep(1.0)
    daemon = phone_pid(first.config_path)
    assert daemon and daemon != first.pid
    attached.phones.add(daemon)
    first.stop()                # the terminal goes (tmux killed): the TUI is gone, the phone is not
    killed_at = time.monotonic()
    assert _alive(daemon), "the phone process went with the terminal"

    time.sleep(2.0)
    second = attached(extra)
    screen = second.wait_for("the call on line 1", lambda s: talk_seconds(s) >= 0, timeout=20)
    shown, elapsed = talk_seconds(screen), time.monotonic() - talking_at
    assert shown >= elapsed - 2.5, f"the timer began again: {shown} s shown after {elapsed:.1f} s\n{screen}"
    second.wait_for("the timer running", lambda s: talk_seconds(s) > shown, timeout=5)
    second.press("Escape")      # END
    second.wait_for("idle screen after hanging up", lambda s: idle_shown(s) and "Talking" not in s)
    ended_at = time.monotonic()
    rc, report = callee.result(timeout=10)
    assert rc == 0 and report["answered"] == 1, (rc, report, callee.stderr())

    # what the callee heard after the terminal was killed: our tone, still coming
    samples, rate = read_wav(heard)
    after = samples[int((killed_at - talking_at + 0.5) * rate):int((ended_at - talking_at - 1.0) * rate)]
    assert after.size >= 2 * rate, (after.size / rate, samples.size / rate)
    assert abs(dominant_frequency(after, rate) - 1000.0) < 30 and rms(after) > 0.05, (
        dominant_frequency(after, rate), rms(after))


def test_two_tuis_see_one_incoming_call_both_show_it_talking_and_quit_phone_on_one_tells_the_other(
        attached, phones):
    one = attached()
    one.wait_for("idle screen", idle_shown, timeout=30)
    two = attached()
    two.wait_for("idle screen", idle_shown, timeout=20)
    caller = phones("caller", ["call", f"127.0.0.1:{one.port}", "--duration", "30", "--timeout", "30", "--json"])
    for tui in (one, two):
        tui.wait_for("the call ringing", lambda s: "Incoming call on line 1" in s, timeout=15)
    two.press("Enter")           # answer on the second
    for tui in (one, two):
        tui.wait_for("the call talking", lambda s: talk_seconds(s) >= 0, timeout=10)
    one.press("Escape")          # and hang up on the first
    for tui in (one, two):
        tui.wait_for("idle screen after hanging up", lambda s: idle_shown(s) and "Talking" not in s)
    rc, report = caller.result(timeout=10)
    assert rc == 0, (rc, report, caller.stderr())

    daemon = phone_pid(one.config_path)
    attached.phones.add(daemon)
    one.press("m")               # Menu › Quit phone (its last entry) stops the phone itself
    one.wait_for("the menu", lambda s: "Quit phone" in s)
    one.press("End")
    one.press("Enter")
    two.wait_for("the other front-end told", lambda s: "The phone is not running" in s, timeout=10)
    deadline = time.monotonic() + 10
    while (_alive(daemon) or not one.exited()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert one.exited() and not _alive(daemon), one.screen()


def test_a_killed_phone_is_said_at_once_and_enter_starts_it_again(attached):
    tui = attached()
    tui.wait_for("idle screen", idle_shown, timeout=30)
    first = phone_pid(tui.config_path)
    assert first
    attached.phones.add(first)
    os.kill(first, signal.SIGKILL)
    sentence = f"the phone stopped: its process (pid {first}) ended; press Enter/R to start it again"
    tui.wait_for("the phone stopped", lambda s: sentence in " ".join(s.replace("█", " ").split()), timeout=8)
    tui.press("Enter")
    tui.wait_for("the phone again", lambda s: idle_shown(s) and "not running" not in s, timeout=30)
    again = phone_pid(tui.config_path)
    assert again and again != first and _alive(again)
    attached.phones.add(again)
    tui.press("q")              # detach: the phone keeps running
    deadline = time.monotonic() + 10
    while not tui.exited() and time.monotonic() < deadline:
        time.sleep(0.1)
    said = tui.tmux("capture-pane", "-p", "-S", "-", "-t", "phone")      # the screen and what scrolled off it
    assert tui.exited() and "detached: the phone keeps running; `tuiphone stop` to stop it" in said, said
    assert _alive(again)


def test_a_phone_that_cannot_start_is_said_with_its_own_sentence_and_exit_2(tmp_path, monkeypatch):
    import socket
    import subprocess

    from tests.phoneproc import write_config

    runtime = Path(tempfile.mkdtemp(prefix="tp-att-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))                    # the SIP port another program holds
    config = write_config(tmp_path / "c.toml", {"audio": {"input_device": "null", "output_device": "null"}})
    try:
        done = subprocess.run([sys.executable, "-m", "tuiphone", "--config", str(config), "--data-dir",
                               str(tmp_path / "data"), "--port", str(taken.getsockname()[1]), "--bind", "127.0.0.1"],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    finally:
        taken.close()
        os.system(f"rm -rf {runtime}")
    assert done.returncode == 2, done
    said = done.stderr.strip()
    assert said.startswith("tuiphone: cannot open the SIP UDP port") and "--port" in said, said
    assert "Traceback" not in done.stderr and said.count("tuiphone:") == 1, said
