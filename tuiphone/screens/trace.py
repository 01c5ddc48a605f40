"""The SIP trace: a live ladder of the phone's own SIP messages; Enter shows the whole message."""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tuiphone.engine.events import SipMessage
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar


def clock_time(when: float) -> str:
    """HH:MM:SS.mmm in local time."""
    return dt.datetime.fromtimestamp(when).strftime("%H:%M:%S.%f")[:-3]


def ladder_row(msg: SipMessage) -> tuple[str, Text, str, str]:
    """(time, arrow, remote, first line): out → green, in ← blue, as in a ladder diagram."""
    arrow = Text("→", style="bold green") if msg.direction == "out" else Text("←", style="bold cyan")
    return clock_time(msg.time), arrow, f"{msg.transport} {msg.remote}", msg.first_line


class TraceScreen(PhoneScreen):
    """Every SIP message the phone sent or received since it started (up to the app's limit)."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("end", "follow", "Follow", show=False, id="trace-follow"),
    ]
    DEFAULT_CSS = """
    TraceScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[SipMessage] = []
        self.row_keys: list[str] = []
        self.added = 0

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("trace.title"), classes="screen-title")
        yield DataTable(id="trace-table", cursor_type="row", zebra_stripes=True)
        yield Static(t("trace.hint"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.app.trace_added.subscribe(self, self.add)
        self.fill()

    async def relabel(self) -> None:
        await super().relabel()
        self.fill()

    def fill(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(t("trace.col_time"), "", t("trace.col_remote"), t("trace.col_message"))
        self.shown, self.row_keys = [], []
        for msg in list(self.app.trace):
            self._append(table, msg)
        table.move_cursor(row=max(0, table.row_count - 1))
        self.refresh_soft_keys()

    def _append(self, table: DataTable, msg: SipMessage) -> None:
        self.added += 1
        key = str(self.added)
        table.add_row(*ladder_row(msg), key=key)
        self.shown.append(msg)
        self.row_keys.append(key)

    def add(self, msg: SipMessage) -> None:
        """A new message: add its row; keep following the end when the cursor was on the last row."""
        table = self.query_one(DataTable)
        following = table.cursor_row >= table.row_count - 1
        while len(self.shown) >= self.app.trace.maxlen:
            self.shown.pop(0)
            table.remove_row(self.row_keys.pop(0))
        self._append(table, msg)
        if following:
            table.move_cursor(row=table.row_count - 1)
        self.refresh_soft_keys()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        show = SoftKey("key.open", "open") if self.shown else None
        return (show, None, None, SoftKey("key.back", "back"))

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if 0 <= table.cursor_row < len(self.shown):
            self.app.push_screen(SipMessageScreen(self.shown[table.cursor_row], table.cursor_row + 1))

    def action_follow(self) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, table.row_count - 1))

    def action_back(self) -> None:
        self.dismiss()


class SipMessageScreen(PhoneScreen):
    """One SIP message in full, as it went over the wire."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    SipMessageScreen #sip-message { height: 1fr; padding: 0 1; }
    """

    def __init__(self, msg: SipMessage, number: int) -> None:
        super().__init__()
        self.msg = msg
        self.number = number

    def compose(self) -> ComposeResult:
        msg = self.msg
        way = "trace.sent_to" if msg.direction == "out" else "trace.received_from"
        yield StatusBar()
        yield Static(t(way, number=self.number, remote=msg.remote, transport=msg.transport,
                       time=clock_time(msg.time)), classes="screen-title", markup=False)
        with VerticalScroll(id="sip-message"):
            yield Static(msg.text.replace("\r\n", "\n").rstrip("\n"), markup=False)
        yield SoftKeyBar()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (None, None, None, SoftKey("key.back", "back"))

    def action_back(self) -> None:
        self.dismiss()
