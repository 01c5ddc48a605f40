"""Status › Accounts (registration of each account, live) and Status › System (versions, OS, uptime, the config
file and the data folder)."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tuiphone import __version__
from tuiphone.engine.events import RegState
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen, StateScreen
from tuiphone.widgets.call_panel import format_duration
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import FAILED, REGISTERED, StatusBar, account_label, registration_mark


def account_state(account, reg: RegState | None) -> str:
    """One sentence-like cell: why an account is or is not registered."""
    if not account.enabled:
        return t("status.disabled")
    if not account.sip_server:
        return t("status.no_server")
    if not account.register:
        return t("status.calls_only")
    mark = registration_mark(reg)
    if mark == REGISTERED:
        return t("status.registered")
    if mark == FAILED and reg is not None:       # FAILED is a server's answer, so there is one
        return t("status.failed", status=reg.sip_status, reason=reg.reason)
    return t("status.not_registered")


GHOST_SOURCES_SHOWN = 5


def ghost_call_text(counts: dict[str, int]) -> str:
    """Ghost-call protection (seed 3.4): how many INVITEs it refused, the busiest sources first."""
    counts = dict(counts)      # the SIP thread adds to it
    if not counts:
        return t("status.ghost_none")
    busiest = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:GHOST_SOURCES_SHOWN]
    sources = ", ".join(t("status.ghost_source", count=n, source=source) for source, n in busiest)
    return t("status.ghost_refused", total=sum(counts.values()), sources=sources)


class AccountsStatusScreen(StateScreen):
    """A row per account: name, user, registrar in use, state, expiry; F1 registers the chosen one again."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    AccountsStatusScreen DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("menu.status_accounts"), classes="screen-title")
        yield DataTable(id="accounts-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="ghost-calls", markup=False)
        yield SoftKeyBar()

    def fill(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(t("status.col_account"), t("status.col_user"), t("status.col_server"),
                          t("status.col_state"), t("status.col_expires"))
        for index, account in enumerate(self.app.config.accounts):
            reg = self.app.registrations.get(index)
            server = reg.server if reg is not None and reg.server else account.sip_server
            expires = f"{reg.expires} s" if reg is not None and reg.registered else "-"
            table.add_row(f"{index + 1} {account_label(index, account)}", account.user_id or "-", server or "-",
                          account_state(account, reg), expires, key=str(index))
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self.query_one("#ghost-calls", Static).update(ghost_call_text(getattr(self.app.phone, "ghost_calls", {})))
        self.refresh_soft_keys()

    def chosen_account(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        index = table.cursor_row
        account = self.app.config.accounts[index]
        return index if account.enabled and account.sip_server and account.register else None

    def soft_keys(self) -> Sequence[SoftKey | None]:
        register = SoftKey("key.register", "register") if self.chosen_account() is not None else None
        return (register, None, None, SoftKey("key.back", "back"))

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_soft_keys()

    def action_register(self) -> None:
        index = self.chosen_account()
        if index is not None:
            self.app.command(self.app.phone.register(index, True),
                             done=lambda _: self.app.notify(t("status.registering", number=index + 1)))

    def action_back(self) -> None:
        self.dismiss()


def system_facts(uptime_s: float) -> list[tuple[str, str]]:
    """(label key, value) pairs for Status › System."""
    def version_of(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return t("status.not_installed")

    return [
        ("status.tuiphone", __version__),
        ("status.pjsip", version_of("pjsua2-python")),
        ("status.python", platform.python_version()),
        ("status.textual", version_of("textual")),
        ("status.os", platform.platform()),
        ("status.uptime", format_duration(uptime_s)),
    ]


def file_facts(app) -> list[tuple[str, str]]:
    """Where this phone keeps its config file and its data (history, recordings, logs, captures)."""
    config = str(app.config_path) if app.config_path is not None else t("status.no_config_file")
    data = getattr(app.phone, "data_dir", None)
    return [("status.config_file", config), ("status.data_dir", str(data) if data else "-")]


class SystemStatusScreen(PhoneScreen):
    """Versions and OS, like the phone's Status › System page (seed 2.17)."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    SystemStatusScreen #system-facts { padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("menu.status_system"), classes="screen-title")
        yield Static("", id="system-facts", markup=False)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.fill()
        self.set_interval(1.0, self.fill)

    async def relabel(self) -> None:
        await super().relabel()
        self.fill()

    def fill(self) -> None:
        facts = system_facts(self.app.clock() - self.app.started) + file_facts(self.app)
        width = max(cell_len(t(key)) for key, _ in facts)
        # pad by terminal cells, not characters, so Chinese labels line up too
        self.query_one("#system-facts", Static).update(
            "\n".join(f"{t(key)}{' ' * (width - cell_len(t(key)))}  {value}" for key, value in facts))

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (None, None, None, SoftKey("key.back", "back"))

    def action_back(self) -> None:
        self.dismiss()
