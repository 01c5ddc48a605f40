"""The status bar along the top: one registration icon per account, lock, DND, forwarding, voicemail, missed calls,
the audio device state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from tuiphone.engine.events import RegState
from tuiphone.i18n import t

REGISTERED, NOT_REGISTERED, FAILED = "registered", "not_registered", "failed"
ICONS = {REGISTERED: ("●", "green"), NOT_REGISTERED: ("○", "grey62"), FAILED: ("✕", "red")}


def registration_mark(reg: RegState | None) -> str:
    """Filled when registered, hollow when not (yet), an error mark when the server said no."""
    if reg is None:
        return NOT_REGISTERED
    if reg.registered:
        return REGISTERED
    return FAILED if reg.sip_status >= 300 else NOT_REGISTERED


def account_label(index: int, account) -> str:
    """How an account is named on screen: its name, else user@server, else its number."""
    if account.name:
        return account.name
    if account.user_id and account.sip_server:
        return f"{account.user_id}@{account.sip_server}"
    return t("account.numbered", number=index + 1)


@dataclass(frozen=True)
class PhoneMarks:
    """The phone-wide marks after the account icons."""

    dnd: bool = False
    forward_always: str = ""
    forward_busy: str = ""
    forward_no_answer: str = ""
    messages: int | None = None       # new voicemail messages; None = no message waiting
    missed: int = 0
    locked: bool = False
    audio: str = ""
    paging: str = ""                 # "in" while a page plays, "out" while we page one


def _mark(text: Text, label: str, style: str) -> None:
    text.append(f" {label} ", style=style)
    text.append("  ")


def status_text(accounts: Sequence, registrations: Mapping[int, RegState], marks: PhoneMarks) -> Text:
    """The bar's content: icons for accounts that register, then the phone-wide marks."""
    text = Text()
    for index, account in enumerate(accounts):
        if not (account.enabled and account.sip_server and account.register):
            continue
        icon, colour = ICONS[registration_mark(registrations.get(index))]
        text.append(icon, style=colour)
        text.append(f" {account_label(index, account)}  ")
    if not text:
        text.append(t("status.no_accounts"), style="grey62")
        text.append("  ")
    if marks.locked:
        _mark(text, t("status.locked"), "bold white on blue")
    if marks.dnd:
        _mark(text, t("status.dnd"), "bold white on red")
    if marks.forward_always:
        _mark(text, t("status.forward", target=marks.forward_always), "bold black on yellow")
    if marks.forward_busy:
        _mark(text, t("status.forward_busy", target=marks.forward_busy), "black on yellow")
    if marks.forward_no_answer:
        _mark(text, t("status.forward_no_answer", target=marks.forward_no_answer), "black on yellow")
    if marks.messages is not None:
        _mark(text, f"✉ {marks.messages}" if marks.messages else "✉", "bold white on dark_green")
    if marks.missed:
        text.append(f"✕ {t('idle.missed', count=marks.missed)}", style="bold red")
        text.append("  ")
    if marks.paging:
        _mark(text, t(f"page.mark_{marks.paging}"), "bold white on dark_magenta")
    if marks.audio:
        text.append(t(f"audio.{marks.audio}"), style="yellow")
    return text


class StatusBar(Static):
    """Redraws itself when registrations, DND, the audio state or the language change."""

    DEFAULT_CSS = """
    StatusBar { dock: top; height: 1; width: 100%; background: $panel; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.app.status_changed.subscribe(self, lambda _: self.redraw())
        self.redraw()

    def redraw(self) -> None:
        app = self.app
        text = status_text(app.config.accounts, app.registrations, app.phone_marks())
        if text != self.content:
            self.update(text, layout=False)     # one line across the top: its size never changes with the text
