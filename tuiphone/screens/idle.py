"""The idle screen: status bar, big clock, account name, idle text, line keys and soft keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tuiphone.engine.events import LineState
from tuiphone.i18n import t
from tuiphone.screen_updates import styled_at_mount
from tuiphone.screens.base import PhoneScreen, keypad_bindings, line_key_bindings
from tuiphone.screens.keys import open_forwarding, press_key
from tuiphone.widgets.clock import BigClock
from tuiphone.widgets.line_keys import LineKeys
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label

OUTCOME_SHOWN_S = 60.0     # how long the idle screen says how the last call ended


@dataclass(frozen=True)
class CallOutcome:
    """How a call ended, as the idle screen says it for a while (a desk phone's message line, not a toast:
    a toast costs a layout of the screen it shows on and of each screen it follows the user to)."""

    text: str
    warning: bool
    at: float           # the app's clock


class IdleScreen(PhoneScreen):
    """What the phone shows with no call up; typing digits starts dialing."""

    AUTO_FOCUS = ""     # nothing on it takes focus: Textual would search the whole screen at each push

    BINDINGS = [
        *keypad_bindings(),
        *line_key_bindings(),
        Binding("enter", "off_hook", "Off hook", show=False, id="send"),
        Binding("m", "open_menu", "Menu", show=False, id="menu"),
        Binding("d", "app.toggle_dnd", "DND", show=False, id="dnd"),
        Binding("l", "history", "Call history", show=False, id="history"),
        Binding("p", "phonebook", "Phonebook", show=False, id="phonebook"),
        Binding("v", "voicemail", "Voicemail", show=False, id="voicemail"),
        Binding("f", "forwarding", "Forward", show=False, id="forward"),
    ]
    DEFAULT_CSS = """
    IdleScreen #idle-body { height: 1fr; }
    IdleScreen #idle-center { width: 1fr; height: 1fr; align: center middle; }
    IdleScreen #idle-center > Static { width: 100%; content-align: center middle; }
    IdleScreen #idle-account { text-style: bold; }
    IdleScreen #idle-hint { color: $text-muted; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    IdleScreen #idle-hint.-outcome { color: $text; text-style: bold; }
    IdleScreen #idle-hint.-warning { color: $warning; }
    """

    def compose(self) -> ComposeResult:
        app = self.app
        phone = app.config.phone
        yield StatusBar()
        with Horizontal(id="idle-body"):
            yield LineKeys(app.phone.max_lines, blink=app.blink)
            with Vertical(id="idle-center"):
                yield BigClock(app.clock, phone.time_format, phone.timezone)
                yield Static(self.account_text(), id="idle-account", markup=False)
                if phone.idle_text:
                    yield Static(phone.idle_text, id="idle-text", markup=False)
                yield Static(self.hint_text(), id="idle-hint", markup=False, classes=self.hint_classes())
        yield SoftKeyBar(self.shown_soft_keys())       # the phone's first screen: whole in its first frame

    def on_mount(self) -> None:
        styled_at_mount(self)       # the TUI's first screen: its first frame without a second styling
        self.app.call_outcome_changed.subscribe(self, lambda _: self._show_hint())

    def _outcome(self) -> CallOutcome | None:
        """How the last call ended, while it is news (OUTCOME_SHOWN_S)."""
        outcome = self.app.call_outcome
        if outcome is None or self.app.clock() - outcome.at >= OUTCOME_SHOWN_S:
            return None
        return outcome

    def hint_text(self) -> str:
        """The hint line: how the last call ended for a while after it did, else how to dial."""
        outcome = self._outcome()
        return outcome.text if outcome is not None else t("idle.hint")

    def hint_classes(self) -> str:
        outcome = self._outcome()
        return "" if outcome is None else "-outcome -warning" if outcome.warning else "-outcome"

    def _show_hint(self) -> None:
        hint = self.query_one("#idle-hint", Static)
        hint.update(self.hint_text(), layout=False)     # one row whatever it says: nothing to lay out
        hint.set_classes(self.hint_classes())
        outcome = self._outcome()
        if outcome is not None:
            self.set_timer(OUTCOME_SHOWN_S - (self.app.clock() - outcome.at) + 0.05, self._show_hint)

    def account_text(self) -> str:
        usable = self.app.usable_accounts()
        if not usable:
            return t("idle.no_account")
        index = usable[0]
        account = self.app.config.accounts[index]
        label = account_label(index, account)
        return f"{label} ({account.user_id})" if account.user_id and account.name else label

    def soft_keys(self) -> Sequence[SoftKey | None]:
        redial = SoftKey("key.redial", "redial") if self.app.last_dialed else None
        return (redial, SoftKey("key.direct_ip", "direct_ip"), SoftKey("key.trace", "trace"),
                SoftKey("key.menu", "open_menu"))

    # ----- actions ---------------------------------------------------------------------------------
    def action_digit(self, digit: str) -> None:
        """On-hook dialing: the first digit opens the dialer with it (a `*` may also begin a hold that locks)."""
        from tuiphone.screens.dialer import DialerScreen

        if digit == "*":
            self.app.screen_lock.star_on_idle()
        self.app.push_screen(DialerScreen(digits=digit))

    def action_off_hook(self) -> None:
        from tuiphone.screens.dialer import DialerScreen

        self.app.push_screen(DialerScreen(off_hook=True))

    def action_redial(self) -> None:
        if self.app.last_dialed:
            number, account = self.app.last_dialed
            self.app.place_call(number, account)

    def action_direct_ip(self) -> None:
        from tuiphone.screens.direct_ip import DirectIpScreen

        self.app.push_screen(DirectIpScreen())

    def action_voicemail(self) -> None:
        self.app.dial_voicemail()

    def action_history(self) -> None:
        from tuiphone.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen())

    def action_phonebook(self) -> None:
        from tuiphone.screens.phonebook import PhonebookScreen

        self.app.push_screen(PhonebookScreen())

    def action_trace(self) -> None:
        from tuiphone.screens.trace import TraceScreen

        self.app.push_screen(TraceScreen())

    def action_open_menu(self) -> None:
        from tuiphone.screens.menu import main_menu

        self.app.push_screen(main_menu())

    def action_forwarding(self) -> None:
        """f on idle: where calls are forwarded (always, busy, no answer)."""
        open_forwarding(self.app)

    def action_line_key(self, position: int) -> None:
        """alt+N or a click: key N of the column does what its mode says."""
        press_key(self.app, position, self.press_line)

    def press_line(self, line: int) -> None:
        """A line key on idle: answer it when it rings, show its call, or go off hook on a free line."""
        view = self.app.lines.get(line)
        if view is None:
            self.action_off_hook()
        elif view.call.state == LineState.RINGING:
            self.app.command(self.app.phone.answer(line), done=lambda _: self.app.show_calls(line))
        else:
            self.app.show_calls(line)

    def on_line_keys_pressed(self, message: LineKeys.Pressed) -> None:
        self.action_line_key(message.line)
