"""The idle screen: status bar, big clock, account name, idle text, line keys and soft keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.clock import BigClock
from tuiphone.widgets.line_keys import LineKeys
from tuiphone.widgets.soft_keys import SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label


class IdleScreen(PhoneScreen):
    """What the phone shows with no call up."""

    DEFAULT_CSS = """
    IdleScreen #idle-body { height: 1fr; }
    IdleScreen #idle-center { width: 1fr; height: 1fr; align: center middle; }
    IdleScreen #idle-center > Static { width: 100%; content-align: center middle; }
    IdleScreen #idle-account { text-style: bold; }
    IdleScreen #idle-hint { color: $text-muted; }
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
                yield Static(t("idle.hint"), id="idle-hint")
        yield SoftKeyBar()

    def account_text(self) -> str:
        usable = self.app.usable_accounts()
        if not usable:
            return t("idle.no_account")
        index = usable[0]
        account = self.app.config.accounts[index]
        label = account_label(index, account)
        return f"{label} ({account.user_id})" if account.user_id and account.name else label
