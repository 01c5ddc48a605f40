"""The phone's menu and its submenus (status, preferences, screen lock, language); menu_list.py shows them."""

from __future__ import annotations

from textual.app import App

from tuiphone.i18n import LANGUAGES, language, t
from tuiphone.screens.menu_list import MenuEntry, MenuScreen, apply_setting

__all__ = ["MenuEntry", "MenuScreen", "apply_setting", "language_menu", "main_menu", "preferences_menu",
           "screen_lock_menu", "status_menu"]


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

    menu = MenuScreen("menu.title", lambda: (
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
        # attached to the phone process: q only detaches, this stops the phone itself
        *((MenuEntry("menu.quit_phone", lambda app: app.action_stop_phone()),)
          if getattr(menu.app, "attached", False) else ()),
    ))
    return menu


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
