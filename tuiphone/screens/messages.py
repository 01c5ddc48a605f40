"""Menu › Messages: voicemail per account (message waiting, new and old counts); F1 or Enter calls the mailbox."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tuiphone.i18n import t
from tuiphone.screens.base import StateScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label
from tuiphone.widgets.table import fill_table


class MessagesScreen(StateScreen):
    """One row per account that can have a mailbox; the counts follow the MWI notifications live."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("v", "call", "Voicemail", show=False, id="voicemail"),
    ]
    DEFAULT_CSS = """
    MessagesScreen DataTable { height: 1fr; }
    MessagesScreen #messages-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.accounts: list[int] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("menu.messages"), classes="screen-title")
        yield DataTable(id="messages-table", cursor_type="row", zebra_stripes=True)
        yield Static(t("messages.no_accounts"), id="messages-empty")
        yield SoftKeyBar()

    def fill(self) -> None:
        app = self.app
        self.accounts = [i for i, a in enumerate(app.config.accounts) if a.enabled and a.sip_server]
        rows = []
        for index in self.accounts:
            account = app.config.accounts[index]
            waiting, new, old = app.voicemail.get(index, (False, 0, 0))
            rows.append((account_label(index, account), t("messages.waiting") if waiting else t("messages.none"),
                         str(new), str(old), account.voicemail or "-"))
        table = self.query_one(DataTable)
        fill_table(table, [t("status.col_account"), t("messages.col_state"), t("messages.col_new"),
                           t("messages.col_old"), t("messages.col_number")], rows)
        table.display = bool(rows)
        self.query_one("#messages-empty").display = not rows
        self.refresh_soft_keys()

    def chosen(self) -> int | None:
        row = self.query_one(DataTable).cursor_row
        return self.accounts[row] if 0 <= row < len(self.accounts) else None

    def soft_keys(self) -> Sequence[SoftKey | None]:
        call = SoftKey("key.voicemail", "call") if self.chosen() is not None else None
        return (call, None, None, SoftKey("key.back", "back"))

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_call()

    def action_call(self) -> None:
        index = self.chosen()
        if index is not None:
            self.app.dial_voicemail(index)

    def action_back(self) -> None:
        self.dismiss()
