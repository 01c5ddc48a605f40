"""Screen lock (seed 2.21–2.22): lock from the menu, `k`, or by holding `*` on the idle screen; unlock with the
password digits, or with Enter alone when no password is set. A ringing call still comes through and can be answered;
the call screen shows over the lock and the lock is back when the call ends.

`ScreenLock` is the lock's state and steps (the app only calls it); `LockScreen` is what it shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tuiphone.i18n import t
from tuiphone.screens.base import keypad_bindings, repaint_now
from tuiphone.screens.call import CallScreen
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
            self.app.screen_lock.unlock()     # with no password, the Enter the screen asks for is the confirmation
        elif self.typed == self.password():
            self.app.screen_lock.unlock()
        else:
            self.typed, self.error = "", t("lock.wrong")
            self.redraw()

    def on_soft_key_bar_pressed(self, _: SoftKeyBar.Pressed) -> None:
        self.action_unlock()


class ScreenLock:
    """The screen lock's state and steps, for one app: locked or not, the admin password typed since the last
    lock, and the `*` hold (begun on the idle screen, finished in the dialer it opened) that locks."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.locked = False
        self.admin_unlocked = ""        # the admin password typed right since the phone was last locked
        self.star_hold = StarHold(app.config.features.lock_hold_seconds, clock=app.clock)

    def lock(self) -> None:
        """Lock the phone: menus and dialers close, a call in progress goes on under the lock."""
        app = self.app
        if self.locked:
            return
        if isinstance(app.screen, ModalScreen):
            return      # a question or a ringing call is on screen: answer it first
        while len(app.screen_stack) > 1 and not isinstance(app.screen, CallScreen):
            app.pop_screen()
        self.locked = True
        self.admin_unlocked = ""     # Settings ask for the admin password again after a lock
        self.star_hold.reset()
        app.push_screen(LockScreen())
        app.status_changed.publish(None)

    def remote(self, on: bool) -> None:
        """LOCK / UNLOCK from the CTI API's send_key (its passcode stands in for the lock password)."""
        app = self.app
        if on:
            self.lock()
        elif self.locked:
            while not isinstance(app.screen, LockScreen) and isinstance(app.screen, ModalScreen):
                app.pop_screen()     # a question asked on the lock screen (unlock?) goes with it
            self.unlock()

    def unlock(self) -> None:
        """Take the lock screen away (it is on top: a call answered while locked has ended by then)."""
        app = self.app
        if self.locked and isinstance(app.screen, LockScreen):
            self.locked = False
            app.pop_screen()
            app.status_changed.publish(None)

    def star_on_idle(self) -> None:
        """A `*` typed on the idle screen (it opens the dialer): it may begin a hold that locks."""
        if self.app.config.features.star_key_lock:
            self.star_hold.reset()
            self.star_hold.press()

    def star_held(self, typed: str) -> bool:
        """A `*` press in the dialer: True when it completes a hold of `*` begun on the idle screen (and the
        phone is now locked); False when it is just a digit."""
        hold = self.star_hold
        begun_on_idle = hold.started is not None and set(typed) <= {"*"}
        if not (self.app.config.features.star_key_lock and begun_on_idle and hold.holding()):
            hold.reset()
            return False
        if hold.press():
            self.lock()
            return True
        return False
