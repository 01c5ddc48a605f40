"""Preferences › Date & Time: the clock's 12/24 h format and the time zone, picked from the tz database by search."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.screens.menu_list import MenuEntry, MenuScreen, apply_setting
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

MAX_SHOWN = 200      # zones listed at once; typing narrows the list


@lru_cache(maxsize=1)
def all_zones() -> tuple[str, ...]:
    """Every IANA zone name this box's tz database has, sorted (empty with no tz database)."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def matching_zones(search: str) -> list[str]:
    """Zones whose name holds every word typed (case and _ vs space do not matter); "system" first."""
    words = search.lower().replace("_", " ").split()
    found = [z for z in all_zones() if all(w in z.lower().replace("_", " ") for w in words)]
    return (["system"] if not words or all(w in "system" for w in words) else []) + found


def date_time_menu() -> MenuScreen:
    def entries(app: App) -> tuple[MenuEntry, ...]:
        phone = app.config.phone
        other = "12h" if phone.time_format == "24h" else "24h"
        zone = t("datetime.system") if phone.timezone == "system" else phone.timezone
        return (
            MenuEntry(t("datetime.format", format=t(f"datetime.format_{phone.time_format}")),
                      lambda a: apply_setting(a, a.config.phone, "time_format", other), literal=True),
            MenuEntry(t("datetime.zone", zone=zone), lambda a: TimezoneScreen(), literal=True),
        )

    menu = MenuScreen("menu.date_time", lambda: entries(menu.app))
    return menu


class TimezoneScreen(PhoneScreen):
    """Type part of a zone's name (shanghai, new york); Enter or F1 uses the highlighted one."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    TimezoneScreen #zone-search { margin: 0 1; }
    TimezoneScreen OptionList { height: 1fr; border: none; padding: 0 1; }
    TimezoneScreen #zone-none { padding: 0 2; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.zones: list[str] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("datetime.zone_title"), classes="screen-title")
        yield Input(placeholder=t("datetime.zone_search", example="shanghai, new york"), id="zone-search")
        yield Static(t("datetime.zone_none"), id="zone-none")
        yield OptionList(id="zone-list")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.fill("")
        self.query_one(Input).focus()

    def fill(self, search: str) -> None:
        self.zones = matching_zones(search)[:MAX_SHOWN]
        current = self.app.config.phone.timezone
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(("● " if z == current else "  ") + (t("datetime.system") if z == "system" else z))
                             for z in self.zones])
        if self.zones:
            options.highlighted = 0
        self.query_one("#zone-none").display = not self.zones
        self.refresh_soft_keys()

    def soft_keys(self):
        return (SoftKey("key.select", "select") if self.zones else None, None, None, SoftKey("key.back", "back"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_select()

    def on_key(self, event) -> None:
        if event.key in ("up", "down") and self.zones:     # move in the list while typing
            event.stop()
            options = self.query_one(OptionList)
            options.action_cursor_down() if event.key == "down" else options.action_cursor_up()

    def on_option_list_option_selected(self, _: OptionList.OptionSelected) -> None:
        self.action_select()

    def action_select(self) -> None:
        at = self.query_one(OptionList).highlighted
        if at is None or not 0 <= at < len(self.zones):
            return
        problem = self.app.change_setting(self.app.config.phone, "timezone", self.zones[at])
        if problem:
            self.app.show_error(problem)
            return
        self.dismiss()

    def action_back(self) -> None:
        self.dismiss()
