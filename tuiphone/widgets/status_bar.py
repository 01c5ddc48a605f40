"""The status bar along the top: one registration icon per account, DND, forwarding, the audio device state."""

from __future__ import annotations

from typing import Mapping, Sequence

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


def status_text(accounts: Sequence, registrations: Mapping[int, RegState], *, dnd: bool,
                forward: str, audio: str, missed: int = 0) -> Text:
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
    if dnd:
        text.append(f" {t('status.dnd')} ", style="bold white on red")
        text.append("  ")
    if forward:
        text.append(f" {t('status.forward', target=forward)} ", style="bold black on yellow")
        text.append("  ")
    if missed:
        text.append(f"✕ {t('idle.missed', count=missed)}", style="bold red")
        text.append("  ")
    if audio:
        text.append(t(f"audio.{audio}"), style="yellow")
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
        features = app.phone_features
        forward = features.forward_always if features is not None else app.config.features.forward_always
        text = status_text(app.config.accounts, app.registrations, dnd=app.dnd_on(), forward=forward,
                           audio=app.audio_state, missed=app.missed_unseen)
        if text != self.content:
            self.update(text)
