"""The phone process went away under an attached TUI: say so at once, and start it again on Enter or R.

`watch_the_phone(app)` hangs on the RemotePhone's connection; when it ends (the phone stopped, crashed or
was killed) the app forgets its lines and shows PhoneStoppedScreen until the user starts the phone again
(app.restart_phone: spawn + attach, off the UI thread) or leaves.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiphone.i18n import t

log = logging.getLogger(__name__)


def watch_the_phone(app: Any) -> None:
    """Tell `app` on its own loop when the connection of its current RemotePhone ends."""
    loop = asyncio.get_running_loop()
    phone = app.phone

    def closed(reason: str) -> None:
        try:
            loop.call_soon_threadsafe(lambda: app.run_worker(phone_gone(app, phone, reason), group="phone-gone",
                                                                  exit_on_error=False))
        except RuntimeError:        # the UI's loop has closed: nobody is left to tell
            pass
    phone.on_closed(closed)


EXIT_WAIT_S = 1.0           # how long a phone whose socket closed may still look alive while it exits


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:        # a zombie (our own child, not reaped yet) is gone too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


async def _ended(pid: int) -> bool:
    """Whether the phone's process has ended; its socket can close a moment before /proc shows it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EXIT_WAIT_S
    while _alive(pid):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _still_watched(app: Any, phone: Any) -> bool:
    """The app still runs on this phone and the user is not leaving."""
    return not app._leaving and app.phone is phone and app.is_running


async def phone_gone(app: Any, phone: Any, reason: str) -> None:
    """On the UI loop: the phone's connection ended. Unless the user is leaving, say so and offer a restart."""
    if not _still_watched(app, phone):
        return
    if phone.pid and await _ended(phone.pid):
        reason = t("phone.process_ended", pid=phone.pid)
    if not _still_watched(app, phone):
        return
    sentence = t("phone.stopped", reason=reason)
    log.warning("%s", sentence)
    app.phone_stopped = sentence
    if app._unsubscribe is not None:
        app._unsubscribe()
        app._unsubscribe = None
    app.lines.clear()
    app.registrations.clear()
    app.lines_changed.publish(None)
    app.status_changed.publish(None)
    app.notify(sentence, severity="error", timeout=10, markup=False)
    app.push_screen(PhoneStoppedScreen(sentence))


class PhoneStoppedScreen(ModalScreen[None]):
    """The phone is not running: Enter or R starts it again and attaches, q leaves."""

    # the ids of a yes/no question (screens/confirm.py): a [keymap] that moves those keys moves these too
    BINDINGS = [
        Binding("enter", "start_again", "Start", show=False, id="confirm-yes"),
        Binding("f1", "start_again", "Start", show=False, id="soft-key-1"),
        Binding("r", "start_again", "Start", show=False),
        Binding("escape", "leave", "Leave", show=False, id="confirm-no"),
        Binding("f4", "leave", "Leave", show=False, id="soft-key-4"),
        Binding("q", "leave", "Leave", show=False),
    ]
    DEFAULT_CSS = """
    PhoneStoppedScreen { align: center middle; }
    PhoneStoppedScreen > Vertical { width: 70; height: auto; border: thick $error; background: $surface;
                                    padding: 1 2; }
    """

    def __init__(self, sentence: str) -> None:
        super().__init__()
        self.sentence = sentence
        self.starting = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("phone.stopped_title"), id="stopped-title", markup=False)
            yield Static(self.sentence, id="stopped-why", markup=False)
            yield Static("", id="stopped-state", markup=False)

    def action_leave(self) -> None:
        self.app._leaving = True
        self.app.exit(0)

    def action_start_again(self) -> None:
        if self.starting or self.app.restart_phone is None:
            return
        self.starting = True
        self.query_one("#stopped-state", Static).update(t("phone.starting"))
        self.run_worker(self._start, thread=True, group="restart", exit_on_error=False)

    def _start(self) -> None:
        try:
            phone = self.app.restart_phone()
        except Exception as exc:       # StartError (a sentence) or the connection failing at once
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._started, phone)

    def _failed(self, text: str) -> None:
        self.starting = False
        self.query_one("#stopped-state", Static).update(text)

    def _started(self, phone: Any) -> None:
        app = self.app
        old, app.phone = app.phone, phone
        app.phone_stopped = ""
        self.dismiss(None)
        app._take_phone()
        app.lines_changed.publish(None)
        app.status_changed.publish(None)
        app.notify(t("phone.started_again", pid=phone.pid), markup=False)
        if app.active_lines():
            app.show_calls()
        app.run_worker(old.detach, thread=True, group="restart", exit_on_error=False)
