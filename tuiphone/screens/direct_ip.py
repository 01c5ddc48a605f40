"""Direct IP Call: keypad entry where `*` is `.` and `#` is `:`, checked before any SIP request is sent."""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tuiphone.engine.directip import DirectIpError, display_form, keypad_to_uri
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen, keypad_bindings
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

# typed as they are, for users with a full keyboard (IPv6 in brackets too)
TYPED = set(".:[]abcdefABCDEF")
MAX_LENGTH = 60


class DirectIpScreen(PhoneScreen):
    """Type an address, see it as an IP, Enter calls it straight (no proxy, no account)."""

    BINDINGS = [
        *keypad_bindings(),
        Binding("backspace", "delete", "Delete", show=False, id="delete"),
        Binding("enter", "send", "Call", show=False, id="send"),
        Binding("escape", "back", "Back", show=False, id="back"),
    ]
    DEFAULT_CSS = """
    DirectIpScreen #direct-ip { padding: 1 2; height: 1fr; }
    DirectIpScreen #direct-ip-address { height: 3; border: round $primary; padding: 0 1; text-style: bold;
                                        margin: 1 0; }
    DirectIpScreen #direct-ip-uri { color: $success; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.keys = ""
        self.error = ""
        self.sending = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("direct_ip.title"), classes="screen-title")
        with Vertical(id="direct-ip"):
            yield Static(t("direct_ip.help"), classes="hint")
            yield Static("", id="direct-ip-address", markup=False)
            yield Static("", id="direct-ip-uri", markup=False)
            yield Static("", id="direct-ip-error", classes="message -error", markup=False)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.redraw()

    async def relabel(self) -> None:
        await super().relabel()
        self.redraw()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.call", "send"), SoftKey("key.delete", "delete") if self.keys else None, None,
                SoftKey("key.back", "back"))

    def redraw(self) -> None:
        self.query_one("#direct-ip-address", Static).update(display_form(self.keys) or "_")
        self.query_one("#direct-ip-error", Static).update(self.error)
        try:
            uri = keypad_to_uri(self.keys) if self.keys else ""
        except DirectIpError:
            uri = ""
        self.query_one("#direct-ip-uri", Static).update(t("direct_ip.will_call", uri=uri) if uri else "")
        self.refresh_soft_keys()

    def _type(self, char: str) -> None:
        if self.sending or len(self.keys) >= MAX_LENGTH:
            return
        self.keys += char
        self.error = ""
        self.redraw()

    def action_digit(self, digit: str) -> None:
        self._type(digit)

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character in TYPED:
            event.stop()
            self._type(event.character)

    def action_delete(self) -> None:
        if self.keys and not self.sending:
            self.keys = self.keys[:-1]
            self.error = ""
            self.redraw()

    def action_send(self) -> None:
        """Check the address; only a valid one is dialed."""
        if self.sending:
            return
        try:
            keypad_to_uri(self.keys)
        except DirectIpError as exc:
            self.error = t("direct_ip.invalid", reason=str(exc))
            self.redraw()
            return
        self.sending = True
        self.app.place_call(self.keys, None, failed=self._failed)

    def _failed(self, text: str) -> None:
        self.sending = False
        self.error = text
        if self.is_attached:
            self.redraw()

    def action_back(self) -> None:
        self.dismiss()
