"""Settings (behind `phone.admin_password`): Accounts (view, edit, enable/disable, register again), Call features
(settings of [features] the engine reads as it goes), Network & Wi-Fi. Every change is validated by the config
schema and saved atomically into the user's file (only the changed keys; backups config.toml.bak.1-5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tuiphone.i18n import t
from tuiphone.screens.account_form import AccountEditScreen, delete_account
from tuiphone.screens.base import StateScreen
from tuiphone.screens.menu_list import MenuEntry, MenuScreen, apply_setting
from tuiphone.screens.prompt import TextPromptScreen
from tuiphone.screens.status import account_state
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label
from tuiphone.widgets.table import fill_table


def open_settings(app: App, screen: Callable[[], Screen] | None = None) -> None:
    """Settings (or one of its screens), after the admin password when one is set; once typed right it is
    not asked again until the phone is locked (or the password changes)."""
    app.editable_config()     # attached: the schema's models from here on (the screens below change them)
    password = app.config.phone.admin_password
    opened = screen or settings_menu
    if not password or app.screen_lock.admin_unlocked == password:
        app.push_screen(opened())
        return

    def unlocked(text: str | None) -> None:
        if text is not None:
            app.screen_lock.admin_unlocked = password
            app.push_screen(opened())
    app.push_screen(TextPromptScreen(t("settings.ask_admin"), password=True,
                                     check=lambda text: "" if text == password else t("settings.wrong_admin")),
                    unlocked)


def settings_menu() -> MenuScreen:
    from tuiphone.screens.audio_test import AudioTestScreen
    from tuiphone.screens.network_settings import NetworkSettingsScreen

    return MenuScreen("menu.settings", lambda: (
        MenuEntry("settings.accounts", lambda app: AccountsSettingsScreen()),
        MenuEntry("settings.features", lambda app: feature_settings_menu()),
        MenuEntry("settings.wifi", lambda app: NetworkSettingsScreen()),
        MenuEntry("settings.audio", lambda app: AudioTestScreen()),
    ))


def ask_number(app: App, target: Any, name: str, title: str) -> None:
    def check(text: str) -> str:
        if not text.strip().isdigit():
            return t("settings.whole_number")
        return app.change_setting(target, name, int(text))
    app.push_screen(TextPromptScreen(title, value=str(getattr(target, name)), check=check))


def feature_settings_menu() -> MenuScreen:
    """[features] settings that take effect at once; DND and forwarding live in Menu › Call features."""
    from tuiphone.screens.features import CallFeaturesScreen, on_off

    def entries(app: App) -> tuple[MenuEntry, ...]:
        f = app.config.features
        modes = ("off", "manual", "auto")

        def flip(name: str) -> Callable[[App], None]:
            return lambda a: apply_setting(a, f, name, not getattr(f, name))
        return (
            MenuEntry("settings.features_engine", lambda a: CallFeaturesScreen()),
            MenuEntry(t("settings.no_answer_delay", seconds=f.forward_no_answer_delay),
                      lambda a: ask_number(a, f, "forward_no_answer_delay", t("settings.ask_no_answer_delay")),
                      literal=True),
            MenuEntry(t("settings.call_waiting_tone", state=on_off(f.call_waiting_tone)), flip("call_waiting_tone"),
                      literal=True),
            MenuEntry(t("settings.auto_attended", state=on_off(f.auto_attended_transfer)),
                      flip("auto_attended_transfer"), literal=True),
            MenuEntry(t("settings.record", mode=t(f"settings.record_{f.record}")),
                      lambda a: apply_setting(a, f, "record", modes[(modes.index(f.record) + 1) % len(modes)]),
                      literal=True),
            MenuEntry(t("settings.conference_max", count=f.conference_max),
                      lambda a: ask_number(a, f, "conference_max", t("settings.ask_conference_max")), literal=True),
        )

    menu = MenuScreen("settings.features", lambda: entries(menu.app))
    return menu


class AccountsSettingsScreen(StateScreen):
    """Every account with its state; F1 edits, F2 enables or disables, F3 registers again; on the next page
    (F4 More) Add and Delete. With no accounts F1 adds one."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    AccountsSettingsScreen DataTable { height: 1fr; }
    AccountsSettingsScreen #accounts-empty { padding: 1 2; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("settings.accounts"), classes="screen-title")
        yield DataTable(id="settings-accounts", cursor_type="row", zebra_stripes=True)
        yield Static(t("settings.no_accounts"), id="accounts-empty")
        yield SoftKeyBar()

    def on_screen_resume(self) -> None:
        self.fill()

    def fill(self) -> None:
        app = self.app
        accounts = app.config.accounts
        fill_table(self.query_one(DataTable),
                   ["#", t("status.col_account"), t("status.col_user"), t("status.col_server"), t("status.col_state")],
                   [(str(i + 1), account_label(i, a), a.user_id or "-", a.sip_server or "-",
                     account_state(a, app.registrations.get(i))) for i, a in enumerate(accounts)])
        self.query_one("#accounts-empty").display = not accounts
        self.refresh_soft_keys()

    def chosen(self) -> int | None:
        row = self.query_one(DataTable).cursor_row
        return row if 0 <= row < len(self.app.config.accounts) else None

    def soft_keys(self) -> Sequence[SoftKey | None]:
        index = self.chosen()
        if index is None:
            return (SoftKey("key.add", "add"), None, None, SoftKey("key.back", "back"))
        account = self.app.config.accounts[index]
        toggle = SoftKey("key.disable" if account.enabled else "key.enable", "toggle_account")
        register = SoftKey("key.register", "register") if account.enabled and account.register else None
        return (SoftKey("key.edit", "edit"), toggle, register,
                SoftKey("key.add", "add"), SoftKey("key.delete", "delete"), SoftKey("key.back", "back"))

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_soft_keys()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        index = self.chosen()
        if index is not None:
            self.app.push_screen(AccountEditScreen(index))

    def action_add(self) -> None:
        self.app.push_screen(AccountEditScreen(len(self.app.config.accounts)))

    def action_delete(self) -> None:
        from tuiphone.screens.confirm import ConfirmScreen

        index = self.chosen()
        if index is None:
            return
        account = self.app.config.accounts[index]

        def answered(yes: bool | None) -> None:
            if yes and index < len(self.app.config.accounts) and self.app.config.accounts[index] is account:
                problem = delete_account(self.app, index)
                if problem:
                    self.app.show_error(problem)
                self.fill()
        self.app.push_screen(ConfirmScreen(t("settings.confirm_delete", number=index + 1,
                                             name=account.name or account.user_id or "-")), answered)

    def action_toggle_account(self) -> None:
        """Enable or disable the account now: it registers or unregisters, and the config keeps it."""
        index = self.chosen()
        if index is None:
            return
        account = self.app.config.accounts[index]
        on = not account.enabled
        problem = self.app.change_setting(account, "enabled", on)
        if problem:
            self.app.show_error(problem)
            return
        if account.sip_server and account.register:
            known = index in self.app.phone.registrations()
            if known:
                self.app.command(self.app.phone.register(index, on))
            else:     # the engine set up no account for it at start
                self.app.notify(t("settings.applies_at_start", number=index + 1), markup=False)
        self.fill()

    def action_register(self) -> None:
        index = self.chosen()
        if index is not None:
            self.app.command(self.app.phone.register(index, True),
                             done=lambda _: self.app.notify(t("status.registering", number=index + 1)))

    def action_back(self) -> None:
        self.dismiss()
