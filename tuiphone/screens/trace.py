"""The SIP trace: the phone's own SIP messages grouped by dialog (Call-ID), like sngrep but with what went over
TLS too; Enter on a dialog draws its ladder, Enter on an arrow shows the whole message."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Static

from tuiphone.engine.events import SipMessage
from tuiphone.engine.sip_trace import Dialog, dialogs
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.ladder import LadderView, clock_time
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

METHODS_FIRST = ("INVITE", "REGISTER", "SUBSCRIBE", "NOTIFY", "OPTIONS", "MESSAGE", "REFER")


def dialog_row(dialog: Dialog) -> tuple[str, str, str, str, str, str]:
    """(time, method, from → to, peer, messages, what became of it) of one dialog."""
    sender, receiver = dialog.parties
    peers = dialog.peers
    where = peers[0] + (f" +{len(peers) - 1}" if len(peers) > 1 else "")
    return (clock_time(dialog.started)[:8], dialog.method, f"{sender} → {receiver}", where,
            str(len(dialog.messages)), dialog.last)


class TraceScreen(PhoneScreen):
    """The SIP messages since the phone started (up to the app's limit), one row per dialog (Call-ID), newest
    last; typing finds calls, F3 (Tab) picks a method, Enter opens the dialog's ladder."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("up", "move(-1)", "Up", show=False, id="trace-up"),
        Binding("down", "move(1)", "Down", show=False, id="trace-down"),
        Binding("tab", "next_method(1)", "Method", show=False, id="trace-next-method"),
        Binding("shift+tab", "next_method(-1)", "Method", show=False, id="trace-previous-method"),
        Binding("end", "follow", "Follow", show=False, id="trace-follow"),
    ]
    DEFAULT_CSS = """
    TraceScreen #trace-search { margin: 0 1; }
    TraceScreen #trace-methods { height: 1; padding: 0 1; }
    TraceScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.method = ""                        # "" = every method
        self.dialogs: dict[str, Dialog] = {}
        self.shown: list[Dialog] = []           # the rows of the table, in order
        self._have: set[int] = set()            # id() of the messages in `dialogs` (a signal may repeat one)

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("trace.title"), classes="screen-title", id="trace-title")
        yield Input(placeholder=t("trace.search"), id="trace-search")
        yield Static(id="trace-methods")
        table: DataTable[object] = DataTable(id="trace-table", cursor_type="row", zebra_stripes=True)
        table.can_focus = False                 # typing goes to the search; ↑↓ move the cursor from there
        yield table
        yield Static(t("trace.hint"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        super().on_mount()
        self.app.trace_added.subscribe(self, self.add)
        self.fill()

    async def relabel(self) -> None:
        search = self.query_one(Input).value
        await super().relabel()
        self.query_one(Input).value = search
        self.fill()

    @property
    def methods(self) -> list[str]:
        """The methods that began a dialog in the trace, the common ones first: what F3 goes through."""
        present = {d.method for d in self.dialogs.values()}
        return ["", *[m for m in METHODS_FIRST if m in present], *sorted(present - set(METHODS_FIRST) - {""})]

    def wanted(self, dialog: Dialog) -> bool:
        return (not self.method or dialog.method == self.method) and dialog.matches(self.query_one(Input).value)

    def fill(self) -> None:
        """Group the app's trace by dialog again and show those the filters let through."""
        self.dialogs = {d.call_id: d for d in dialogs(list(self.app.trace))}
        self._have = {id(m) for d in self.dialogs.values() for m in d.messages}
        self.show()

    def show(self) -> None:
        table = self.query_one(DataTable)
        keep = self.shown[table.cursor_row].call_id if 0 <= table.cursor_row < len(self.shown) else None
        following = keep is None or table.cursor_row >= table.row_count - 1
        if table.columns:
            table.clear()       # the columns stay as wide as they were: they do not jump while a search is typed
        else:                   # (a table composed anew, as after a change of language, gets them here)
            table.add_columns(t("trace.col_time"), t("trace.col_method"), t("trace.col_parties"),
                              t("trace.col_remote"), "#", t("trace.col_last"))
        self.shown = [d for d in self.dialogs.values() if self.wanted(d)]
        for dialog in self.shown:
            table.add_row(*dialog_row(dialog), key=dialog.call_id)
        rows = [d.call_id for d in self.shown]
        row = len(rows) - 1 if following or keep not in rows else rows.index(keep)
        table.move_cursor(row=max(0, row))
        self.query_one("#trace-methods", Static).update(self._method_bar())
        count = t("trace.count", shown=len(self.shown), total=len(self.dialogs))
        self.query_one("#trace-title", Static).update(f"{t('trace.title')} · {count}")
        self.refresh_soft_keys()

    def _method_bar(self) -> Text:
        text = Text()
        for method in self.methods:
            style = "reverse bold" if method == self.method else "dim"
            text.append(f" {method or t('trace.all_methods')} ", style=style)
            text.append(" ")
        return text

    def add(self, msg: SipMessage) -> None:
        """A new message: into its dialog's row, or a new row; the cursor follows the end when it was there."""
        if id(msg) in self._have:
            return                      # already read from the app's trace when the screen filled
        dialog = self.dialogs.get(msg.call_id)
        if dialog is None or len(self._have) >= self.app.trace.maxlen * 1.1:
            self.fill()                 # a new dialog (its method may be new too), or old ones to forget
            return
        dialog.messages.append(msg)
        self._have.add(id(msg))
        if any(d is dialog for d in self.shown) and self.wanted(dialog):
            table = self.query_one(DataTable)
            for column, value in zip(table.ordered_columns, dialog_row(dialog), strict=False):
                table.update_cell(dialog.call_id, column.key, value)
            self.refresh_soft_keys()
        else:
            self.show()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_open()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        show = SoftKey("key.open", "open") if self.shown else None
        return (show, None, SoftKey("key.method", "next_method(1)"), SoftKey("key.back", "back"))

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        self.action_open()

    def action_move(self, step: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    def action_next_method(self, step: int) -> None:
        methods = self.methods
        self.method = methods[(methods.index(self.method) + step) % len(methods)] if self.method in methods else ""
        self.show()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if 0 <= table.cursor_row < len(self.shown):
            self.app.push_screen(LadderScreen(self.shown[table.cursor_row]))

    def action_follow(self) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, table.row_count - 1))

    def action_back(self) -> None:
        self.dismiss()


class LadderScreen(PhoneScreen):
    """One dialog as a ladder, growing live; Enter shows the message under the cursor in full."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]

    def __init__(self, dialog: Dialog) -> None:
        super().__init__()
        self.dialog = Dialog(dialog.call_id, list(dialog.messages))

    def compose(self) -> ComposeResult:
        sender, receiver = self.dialog.parties
        yield StatusBar()
        yield Static(t("trace.ladder_title", method=self.dialog.method, sender=sender, receiver=receiver,
                       call_id=self.dialog.call_id), classes="screen-title", markup=False)
        yield LadderView(self.dialog.messages, id="ladder")
        yield Static(t("trace.ladder_hint"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        super().on_mount()
        self.app.trace_added.subscribe(self, self.add)

    def add(self, msg: SipMessage) -> None:
        if msg.call_id == self.dialog.call_id and not any(m is msg for m in self.dialog.messages[-20:]):
            self.dialog.messages.append(msg)
            self.query_one(LadderView).add(msg)

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.open", "open"), None, None, SoftKey("key.back", "back"))

    def on_ladder_view_chosen(self, message: LadderView.Chosen) -> None:
        self.app.push_screen(SipMessageScreen(message.msg, message.number))

    def action_open(self) -> None:
        view = self.query_one(LadderView)
        if view.chosen is not None and view.chosen < len(view.messages):
            self.app.push_screen(SipMessageScreen(view.messages[view.chosen], view.chosen + 1))

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
