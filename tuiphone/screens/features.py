"""Menu › Call features: DND, forwarding (always / busy / no answer), call waiting, anonymous calls per account,
and the blocklist. Every change goes through the engine, which keeps it in the config and says so."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tuiphone.engine.blocklist import Blocklist, BlocklistError
from tuiphone.engine.featurestate import FORWARD_KINDS
from tuiphone.i18n import t
from tuiphone.screens.base import StateScreen
from tuiphone.screens.menu_list import MenuEntry, MenuScreen
from tuiphone.screens.prompt import TextPromptScreen, check_target
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label


def on_off(on: bool) -> str:
    return t("features.on") if on else t("features.off")


def ask_forward(app: Any, kind: str) -> None:
    """Ask where calls go for one kind of forwarding; an empty answer turns it off."""
    current = getattr(app.features_now(), f"forward_{kind}")
    app.push_screen(
        TextPromptScreen(t(f"features.ask_forward_{kind}"), value=current, help_text=t("features.empty_is_off"),
                         check=lambda text: check_target(text) if text else ""),
        lambda target: app.command(app.phone.set_forward(kind, target)) if target is not None else None)


def toggle_anonymous(app: Any, index: int, now: bool) -> None:
    """Turn anonymous calls on the account the other way from `now`, what the menu showed."""
    app.command(app.phone.set_anonymous(index, not now))


def forward_menu() -> MenuScreen:
    """The forward key (f on idle): the three kinds of forwarding and where each sends calls now."""
    def entries(app) -> list[MenuEntry]:
        f = app.features_now()
        seconds = app.config.features.forward_no_answer_delay
        return [MenuEntry(t(f"features.forward_{kind}", target=getattr(f, f"forward_{kind}") or t("features.off"),
                            seconds=seconds), partial(ask_forward, kind=kind), literal=True)
                for kind in FORWARD_KINDS]

    menu = MenuScreen("keys.forward_title", lambda: entries(menu.app))
    return menu


class CallFeaturesScreen(MenuScreen):
    """Each feature with its state; Enter (or its digit) toggles it or asks for a number."""

    def __init__(self) -> None:
        super().__init__("menu.features", self.feature_entries)

    def feature_entries(self) -> Sequence[MenuEntry]:
        app = self.app
        f = app.features_now()
        seconds = app.config.features.forward_no_answer_delay
        entries = [
            MenuEntry(t("features.dnd", state=on_off(f.dnd)),
                      lambda a: a.command(a.phone.set_dnd(not a.dnd_on())), literal=True),
            *[MenuEntry(t(f"features.forward_{kind}", target=getattr(f, f"forward_{kind}") or t("features.off"),
                          seconds=seconds),
                        partial(ask_forward, kind=kind), literal=True) for kind in FORWARD_KINDS],
            MenuEntry(t("features.call_waiting", state=on_off(f.call_waiting)),
                      lambda a: a.command(a.phone.set_call_waiting(not a.features_now().call_waiting)), literal=True),
        ]
        for index, account in enumerate(app.config.accounts):
            on = f.anonymous[index] if index < len(f.anonymous) else account.anonymous
            entries.append(MenuEntry(
                t("features.anonymous", account=account_label(index, account), state=on_off(on)),
                partial(toggle_anonymous, index=index, now=on), literal=True))
        entries.append(MenuEntry(t("features.blocklist", count=len(f.blocklist)), lambda a: BlocklistScreen(),
                                 literal=True))
        return entries


def check_block_entry(text: str) -> str:
    """"" for an entry the engine's blocklist takes (a number, user@host, or a pattern like 1900x+), else why not."""
    try:
        Blocklist().add(text)
    except BlocklistError as exc:
        return str(exc)
    return ""


class BlocklistScreen(StateScreen):
    """The numbers and patterns whose calls are refused (603); add and remove them here."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("delete", "remove", "Remove", show=False, id="blocklist-remove"),
    ]
    DEFAULT_CSS = """
    BlocklistScreen OptionList { height: 1fr; border: none; padding: 0 1; }
    BlocklistScreen #blocklist-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[str] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("features.blocklist_title"), classes="screen-title")
        yield OptionList(id="blocklist")
        yield Static(t("features.blocklist_empty"), id="blocklist-empty")
        yield Static(t("features.blocklist_help"), classes="hint")
        yield SoftKeyBar()

    def fill(self) -> None:
        entries = list(self.app.features_now().blocklist)
        self.entries = entries
        options = self.query_one(OptionList)
        at = options.highlighted or 0
        options.clear_options()
        options.add_options([Option(e) for e in entries])
        if entries:
            options.highlighted = min(at, len(entries) - 1)
        options.focus()
        self.query_one("#blocklist-empty").display = not entries
        self.refresh_soft_keys()

    def chosen(self) -> str | None:
        at = self.query_one(OptionList).highlighted
        return self.entries[at] if at is not None and 0 <= at < len(self.entries) else None

    def soft_keys(self) -> Sequence[SoftKey | None]:
        remove = SoftKey("key.remove", "remove") if self.chosen() is not None else None
        return (SoftKey("key.add", "add"), remove, None, SoftKey("key.back", "back"))

    def on_option_list_option_highlighted(self, _: OptionList.OptionHighlighted) -> None:
        self.refresh_soft_keys()

    def action_add(self) -> None:
        self.app.push_screen(TextPromptScreen(t("features.block_what"), placeholder="1900x+",
                                              check=check_block_entry),
                             lambda entry: self.app.command(self.app.phone.block(entry)) if entry else None)

    def action_remove(self) -> None:
        entry = self.chosen()
        if entry is not None:
            self.app.command(self.app.phone.unblock(entry))

    def action_back(self) -> None:
        self.dismiss()
