"""Settings (behind `phone.admin_password`): Accounts (view, edit, enable/disable, register again), Call features
(settings of [features] the engine reads as it goes), Network & Wi-Fi. Every change is validated by the config
schema and saved atomically (with config.toml.bak) through the app."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from pydantic import ValidationError
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select, Static

from tuiphone.config import AccountConfig, validation_problems
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen, StateScreen
from tuiphone.screens.menu import MenuEntry, MenuScreen, apply_setting
from tuiphone.screens.prompt import TextPromptScreen
from tuiphone.screens.status import account_state
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label
from tuiphone.widgets.table import fill_table

# fields of an account the engine reads only when it starts: a change takes effect at the next start
_SIP_FIELDS = ("sip_server", "user_id", "auth_id", "password", "transport", "outbound_proxy", "dial_plan")
# (field, label key, kind): the account form
_ACCOUNT_FORM: tuple[tuple[str, str, str], ...] = (
    ("name", "settings.acc_name", "text"),
    ("sip_server", "settings.acc_server", "text"),
    ("user_id", "settings.acc_user", "text"),
    ("auth_id", "settings.acc_auth", "text"),
    ("password", "settings.acc_password", "password"),
    ("display_name", "settings.acc_display", "text"),
    ("voicemail", "settings.acc_voicemail", "text"),
    ("transport", "settings.acc_transport", "udp|tcp|tls"),
    ("dial_plan", "settings.acc_dial_plan", "text"),
    ("no_key_timeout", "settings.acc_no_key_timeout", "int"),
    ("call_log", "settings.acc_call_log", "all|answered|off"),
)


def choice_label(field: str, value: str) -> str:
    """How a form shows one choice of a field: in words when the string table has them (call_log: all ->
    "All calls"), else as the config writes it (udp)."""
    key = f"settings.choice_{field}_{value}"
    text = t(key)
    return value if text == key else text


def open_settings(app: App, screen: Callable[[], Screen] | None = None) -> None:
    """Settings (or one of its screens), after the admin password when one is set; once typed right it is
    not asked again until the phone is locked (or the password changes)."""
    password = app.config.phone.admin_password
    opened = screen or settings_menu
    if not password or app.admin_unlocked == password:
        app.push_screen(opened())
        return

    def unlocked(text: str | None) -> None:
        if text is not None:
            app.admin_unlocked = password
            app.push_screen(opened())
    app.push_screen(TextPromptScreen(t("settings.ask_admin"), password=True,
                                     check=lambda text: "" if text == password else t("settings.wrong_admin")),
                    unlocked)


def settings_menu() -> MenuScreen:
    from tuiphone.screens.audio_test import AudioTestScreen
    from tuiphone.screens.wifi import WifiScreen

    return MenuScreen("menu.settings", lambda: (
        MenuEntry("settings.accounts", lambda app: AccountsSettingsScreen()),
        MenuEntry("settings.features", lambda app: feature_settings_menu()),
        MenuEntry("settings.wifi", lambda app: WifiScreen()),
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
    """Every account with its state; F1 edits, F2 enables or disables, F3 registers again."""

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
            return (None, None, None, SoftKey("key.back", "back"))
        account = self.app.config.accounts[index]
        toggle = SoftKey("key.disable" if account.enabled else "key.enable", "toggle")
        register = SoftKey("key.register", "register") if account.enabled and account.register else None
        return (SoftKey("key.edit", "edit"), toggle, register, SoftKey("key.back", "back"))

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_soft_keys()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        index = self.chosen()
        if index is not None:
            self.app.push_screen(AccountEditScreen(index))

    def action_toggle(self) -> None:
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


class AccountEditScreen(PhoneScreen):
    """One account's fields; F1 checks them against the config schema and saves, Esc leaves them as they were."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False, id="back")]
    DEFAULT_CSS = """
    AccountEditScreen #account-form { height: 1fr; padding: 0 1; }
    AccountEditScreen .field-label { height: 1; color: $text-muted; }
    AccountEditScreen Select { width: 30; }
    """

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def compose(self) -> ComposeResult:
        account = self.app.config.accounts[self.index]
        yield StatusBar()
        yield Static(t("settings.edit_account", number=self.index + 1), classes="screen-title")
        yield Static("", id="account-error", classes="message -error", markup=False)
        with VerticalScroll(id="account-form"):
            for name, label, kind in _ACCOUNT_FORM:
                yield Static(t(label), classes="field-label")
                value = getattr(account, name)
                if "|" in kind:
                    yield Select([(choice_label(name, c), c) for c in kind.split("|")], value=value,
                                 allow_blank=False, id=f"acc-{name}")
                else:
                    yield Input(str(value), password=kind == "password", id=f"acc-{name}")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.refresh_soft_keys()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.save", "save"), None, None, SoftKey("key.cancel", "cancel"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def form(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for name, _, kind in _ACCOUNT_FORM:
            widget = self.query_one(f"#acc-{name}")
            raw = widget.value
            if kind == "int":
                text = str(raw).strip()
                values[name] = int(text) if text.lstrip("-").isdigit() else text    # the schema names a bad one
            else:
                values[name] = raw.strip() if isinstance(raw, str) and kind != "password" else raw
        return values

    def action_save(self) -> None:
        config = self.app.config
        old = config.accounts[self.index]
        try:
            new = AccountConfig.model_validate({**old.model_dump(), **self.form()})
        except ValidationError as exc:
            self._error("\n".join(validation_problems(exc, ("accounts", self.index))))
            return
        config.accounts[self.index] = new
        problem = self.app.save_settings()
        if problem:
            config.accounts[self.index] = old
            self._error(problem)
            return
        self._apply(new, old)
        self.app.status_changed.publish(None)
        self.dismiss()

    def _apply(self, new: AccountConfig, old: AccountConfig) -> None:
        """Hand the saved account to the engine at once: it registers again with the new settings."""
        app, index = self.app, self.index
        reconfigure = getattr(app.phone, "reconfigure_account", None)
        if reconfigure is None:      # an engine that reads accounts only at start
            restart = [f for f in _SIP_FIELDS if getattr(new, f) != getattr(old, f)]
            app.notify(t("settings.saved_restart" if restart else "settings.saved", number=index + 1), markup=False)
            return
        app.command(reconfigure(index, new),
                    done=lambda _: app.notify(t("settings.saved_applied", number=index + 1), markup=False),
                    failed=lambda text: app.show_error(t("settings.apply_failed", number=index + 1, error=text)))

    def _error(self, text: str) -> None:
        self.query_one("#account-error", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss()
