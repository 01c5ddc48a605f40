"""Screen lock (seed 2.21–2.22): lock from the menu, `k`, or by holding `*` on the idle screen; unlock with the
password digits, or with Enter alone when no password is set. A ringing call still comes through and can be answered;
the call screen shows over the lock and the lock is back when the call ends."""

from __future__ import annotations

import time
from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from tuiphone.i18n import t
from tuiphone.screens.base import keypad_bindings, repaint_now
from tuiphone.widgets.clock import BigClock
from tuiphone.widgets.line_keys import LineKeys
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

KEY_REPEAT_GAP_S = 0.5      # a held key repeats faster than this; a longer gap means it was let go


class StarHold:
    """Tells when `*` has been held for `hold_s`: a stream of presses with no gap over KEY_REPEAT_GAP_S."""

    def __init__(self, hold_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold_s = hold_s
        self.clock = clock
        self.started: float | None = None
        self.last = 0.0

    def press(self) -> bool:
        """One `*` press (or key repeat); True once the key has been down long enough."""
        now = self.clock()
        if self.started is None or now - self.last > KEY_REPEAT_GAP_S:
            self.started = now
        self.last = now
        return now - self.started >= self.hold_s

    def holding(self) -> bool:
        """Whether a hold is under way (the last press was a moment ago)."""
        return self.started is not None and self.clock() - self.last <= KEY_REPEAT_GAP_S

    def reset(self) -> None:
        self.started = None


class LockScreen(Screen):
    """Covers every screen until the password is typed (or, with none set, the unlock is confirmed)."""

    BINDINGS = [
        *keypad_bindings(),
        Binding("enter", "unlock", "Unlock", show=False, id="unlock"),
        Binding("f1", "unlock", "Unlock", show=False, id="soft-key-1"),
        Binding("backspace", "delete", "Delete", show=False, id="delete"),
        Binding("escape", "clear", "Clear", show=False, id="lock-clear"),
    ]
    DEFAULT_CSS = """
    LockScreen #lock-body { height: 1fr; }
    LockScreen #lock-center { width: 1fr; height: 1fr; align: center middle; }
    LockScreen #lock-center > Static { width: 100%; content-align: center middle; }
    LockScreen #lock-title { text-style: bold; color: $warning; }
    LockScreen #lock-entry { text-style: bold; }
    LockScreen #lock-error { color: $error; text-style: bold; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.typed = ""
        self.error = ""

    def compose(self) -> ComposeResult:
        app = self.app
        phone = app.config.phone
        yield StatusBar()
        with Horizontal(id="lock-body"):
            yield LineKeys(app.phone.max_lines, blink=app.blink)
            with Vertical(id="lock-center"):
                yield BigClock(app.clock, phone.time_format, phone.timezone)
                yield Static(t("lock.title"), id="lock-title")
                yield Static("", id="lock-entry", markup=False)
                yield Static("", id="lock-error", markup=False)
                yield Static(t("lock.hint_password" if self.password() else "lock.hint_confirm"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.app.language_changed.subscribe(self, lambda _: self._relabel())
        self.redraw()

    async def _relabel(self) -> None:
        await self.recompose()
        self.redraw()
        repaint_now(self)

    def password(self) -> str:
        return self.app.config.features.lock_password

    def redraw(self) -> None:
        self.query_one("#lock-entry", Static).update("•" * len(self.typed) if self.typed else "")
        self.query_one("#lock-error", Static).update(self.error)
        self.query_one(SoftKeyBar).show_keys([SoftKey("key.unlock", "unlock")])

    def action_digit(self, digit: str) -> None:
        if self.password():
            self.typed = (self.typed + digit)[-32:]
            self.error = ""
            self.redraw()

    def action_delete(self) -> None:
        self.typed = self.typed[:-1]
        self.redraw()

    def action_clear(self) -> None:
        self.typed, self.error = "", ""
        self.redraw()

    def action_unlock(self) -> None:
        if not self.password():
            self.app.unlock()     # with no password, the Enter the screen asks for is the confirmation
        elif self.typed == self.password():
            self.app.unlock()
        else:
            self.typed, self.error = "", t("lock.wrong")
            self.redraw()

    def on_soft_key_bar_pressed(self, _: SoftKeyBar.Pressed) -> None:
        self.action_unlock()
