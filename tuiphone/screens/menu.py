"""The phone's menu: numbered entries, Enter or the digit opens one, Escape goes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tuiphone.i18n import LANGUAGES, language, t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar


@dataclass(frozen=True)
class MenuEntry:
    """One entry: its label (an i18n key, or shown as written when `literal`) and what choosing it does."""

    label: str
    choose: Callable[[App], Screen | None]     # gets the app; returns a screen to open, or None
    literal: bool = False

    def text(self) -> str:
        return self.label if self.literal else t(self.label)


class MenuScreen(PhoneScreen):
    """A list of entries; a chosen entry pushes its screen or runs its action."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        *[Binding(str(n), f"pick({n})", show=False, id=f"keypad-{n}") for n in range(1, 10)],
        Binding("0", "pick(10)", show=False, id="keypad-0"),     # the tenth entry, as on a keypad
    ]
    DEFAULT_CSS = """
    MenuScreen OptionList { height: 1fr; border: none; padding: 0 1; }
    """

    def __init__(self, title: str, entries: Callable[[], Sequence[MenuEntry]]) -> None:
        super().__init__()
        self.title_key = title
        self.entries_of = entries
        self.entries: list[MenuEntry] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t(self.title_key), classes="screen-title")
        self.entries = list(self.entries_of())
        yield OptionList(*self._options(), id="menu-list")
        yield SoftKeyBar()

    def _options(self) -> list[Option]:
        return [Option(f"{n % 10}. {e.text()}" if n <= 10 else f"   {e.text()}", id=str(n))
                for n, e in enumerate(self.entries, 1)]

    def refresh_entries(self) -> None:
        """Read the entries again (their labels show state that changed), keeping the highlight."""
        options = self.query_one(OptionList)
        at = options.highlighted
        self.entries = list(self.entries_of())
        options.clear_options()
        options.add_options(self._options())
        if self.entries:
            options.highlighted = min(at or 0, len(self.entries) - 1)

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self.refresh_soft_keys()
        # entries may show state (DND on, lock password set): read them again when it changes
        self.app.status_changed.subscribe(self, lambda _: self.refresh_entries())

    async def relabel(self) -> None:
        await super().relabel()
        self.query_one(OptionList).highlighted = 0

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.select", "select"), None, None, SoftKey("key.back", "back"))

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        self.action_pick(message.option_index + 1)

    def action_select(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None:
            self.action_pick(index + 1)

    def action_pick(self, number: int) -> None:
        if not 1 <= number <= len(self.entries):
            return
        screen = self.entries[number - 1].choose(self.app)
        if screen is not None:
            self.app.push_screen(screen)

    def action_back(self) -> None:
        self.dismiss()


def apply_setting(app: App, target: object, name: str, value: object) -> None:
    """Change a setting from a menu entry; a refusal (schema or disk) is shown as an error."""
    problem = app.change_setting(target, name, value)
    if problem:
        app.show_error(problem)


def main_menu() -> MenuScreen:
    """Menu, in the desk phone's order; the SIP trace (ours, not the phone's) comes last."""
    from tuiphone.screens.capture import CaptureScreen
    from tuiphone.screens.direct_ip import DirectIpScreen
    from tuiphone.screens.features import CallFeaturesScreen
    from tuiphone.screens.history import HistoryScreen
    from tuiphone.screens.messages import MessagesScreen
    from tuiphone.screens.page import PageScreen
    from tuiphone.screens.phonebook import PhonebookScreen
    from tuiphone.screens.settings import open_settings
    from tuiphone.screens.trace import TraceScreen

    return MenuScreen("menu.title", lambda: (
        MenuEntry("menu.history", lambda app: HistoryScreen()),
        MenuEntry("menu.phonebook", lambda app: PhonebookScreen()),
        MenuEntry("menu.direct_ip", lambda app: DirectIpScreen()),
        MenuEntry("menu.messages", lambda app: MessagesScreen()),
        MenuEntry("menu.features", lambda app: CallFeaturesScreen()),
        MenuEntry("menu.status", lambda app: status_menu()),
        MenuEntry("menu.preferences", lambda app: preferences_menu()),
        MenuEntry("menu.settings", lambda app: open_settings(app)),
        MenuEntry("menu.trace", lambda app: TraceScreen()),
        MenuEntry("menu.capture", lambda app: CaptureScreen()),
        MenuEntry("menu.page", lambda app: PageScreen()),     # eleventh: 0 keeps picking the tenth
    ))


def status_menu() -> MenuScreen:
    from tuiphone.screens.network import NetworkStatusScreen
    from tuiphone.screens.status import AccountsStatusScreen, SystemStatusScreen

    return MenuScreen("menu.status", lambda: (
        MenuEntry("menu.status_accounts", lambda app: AccountsStatusScreen()),
        MenuEntry("menu.status_network", lambda app: NetworkStatusScreen()),
        MenuEntry("menu.status_system", lambda app: SystemStatusScreen()),
    ))


def preferences_menu() -> MenuScreen:
    from tuiphone.screens.datetime_prefs import date_time_menu
    from tuiphone.screens.ringtone import ringtone_menu

    return MenuScreen("menu.preferences", lambda: (
        MenuEntry("menu.language", lambda app: language_menu()),
        MenuEntry("menu.date_time", lambda app: date_time_menu()),
        MenuEntry("menu.ringtone", lambda app: ringtone_menu()),
        MenuEntry("menu.screen_lock", lambda app: screen_lock_menu()),
    ))


def screen_lock_menu() -> MenuScreen:
    """Lock now; holding * to lock on or off; the unlock password."""
    from tuiphone.screens.prompt import TextPromptScreen

    def ask_password(app: App) -> None:
        """The new password, then the same again; an empty one (Enter unlocks) is not asked twice."""
        def save(text: str | None) -> None:
            if text is not None:
                apply_setting(app, app.config.features, "lock_password", text)

        def again(first: str | None) -> None:
            if first is None:
                return
            if not first:
                save(first)
                return
            same = lambda text: "" if text == first else t("lock.not_the_same")  # noqa: E731
            app.push_screen(TextPromptScreen(t("lock.ask_password_again"), password=True, check=same), save)

        check = lambda text: "" if text.isdigit() or not text else t("lock.digits_only")  # noqa: E731
        app.push_screen(TextPromptScreen(t("lock.ask_password"), password=True, check=check,
                                         help_text=t("lock.password_help")), again)

    def entries(app: App) -> tuple[MenuEntry, ...]:
        f = app.config.features
        return (
            MenuEntry("lock.lock_now", lambda a: a.action_lock()),
            MenuEntry(t("lock.star_key", seconds=f.lock_hold_seconds,
                        state=t("features.on") if f.star_key_lock else t("features.off")),
                      lambda a: apply_setting(a, a.config.features, "star_key_lock", not f.star_key_lock),
                      literal=True),
            MenuEntry(t("lock.password_state", state=t("lock.password_set") if f.lock_password
                        else t("lock.password_none")), ask_password, literal=True),
        )

    menu = MenuScreen("menu.screen_lock", lambda: entries(menu.app))
    return menu


def language_menu() -> MenuScreen:
    """Each language under its own name; the one in use is marked."""
    return MenuScreen("menu.language", lambda: tuple(
        MenuEntry(("● " if code == language() else "  ") + name,
                  lambda app, code=code: app.switch_language(code), literal=True)
        for code, name in LANGUAGES.items()))
