"""Call History: All / Missed / Incoming / Outgoing; details; dial; add to phonebook; block; delete; clear."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tuiphone.engine.directip import display_form, is_direct_ip
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.store import HISTORY_FILTERS, IN_PROGRESS, INTERRUPTED, CallRecord, Contact, Number, StoreError
from tuiphone.widgets.call_panel import format_duration
from tuiphone.widgets.clock import zone_for
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar, account_label
from tuiphone.widgets.table import fill_table


def call_icon(record: CallRecord) -> Text:
    """↙ answered incoming, ↗ outgoing, ✕ missed (red), ⊘ turned away (rejected, blocked, forwarded…),
    ● in progress now, ! interrupted (the phone stopped during the call)."""
    if record.disposition == IN_PROGRESS:
        return Text("●", style="bold green")
    if record.disposition == INTERRUPTED:
        return Text("!", style="bold yellow")
    if record.missed:
        return Text("✕", style="bold red")
    if record.direction == "out":
        return Text("↗", style="green" if record.disposition == "answered" else "yellow")
    if record.disposition == "answered":
        return Text("↙", style="cyan")
    return Text("⊘", style="grey62")


def when(started: float, time_format: str, timezone: str) -> str:
    """MM-DD HH:MM in the phone's zone and format (12h adds AM/PM)."""
    zone = zone_for(timezone)
    moment = dt.datetime.fromtimestamp(started, tz=zone) if zone else dt.datetime.fromtimestamp(started)
    if time_format == "12h":
        mark = t("clock.am") if moment.hour < 12 else t("clock.pm")
        return f"{moment:%m-%d} {moment.hour % 12 or 12}:{moment.minute:02d} {mark}"
    return f"{moment:%m-%d %H:%M}"


def who(record: CallRecord, phonebook_name: str) -> str:
    """The phonebook's name, else the name the caller sent, with the number; or the number alone."""
    name = phonebook_name or record.remote_name
    number = record.remote_number or record.remote_uri
    if is_direct_ip(number):      # kept as typed on the keypad by older versions: show it as an address
        number = display_form(number)
    return f"{name} ({number})" if name and name != number else number


def account_name(app, index: int | None) -> str:
    """The account a call went through, by its label; a direct call says so."""
    accounts = app.config.accounts
    if index is None:
        return t("history.direct")
    return account_label(index, accounts[index]) if index < len(accounts) else str(index + 1)


def dial_target(record: CallRecord) -> str:
    """What to dial to call back: the number through its account; a direct call's address as it was."""
    if record.account is None:
        return record.remote_uri or record.remote_number
    return record.remote_number or record.remote_uri


class HistoryScreen(PhoneScreen):
    """The call list of one filter; ←/→ (or Tab) change the filter; Enter calls back."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("enter", "dial", "Dial", show=False, id="history-dial"),
        Binding("right,tab", "next_filter(1)", "Next", show=False, id="history-next-filter"),
        Binding("left,shift+tab", "next_filter(-1)", "Previous", show=False, id="history-previous-filter"),
        Binding("i", "details", "Details", show=False, id="history-details"),
        Binding("a", "add_contact", "Add to phonebook", show=False, id="history-add"),
        Binding("delete", "delete", "Delete", show=False, id="history-delete"),
        Binding("b", "block", "Block", show=False, id="history-block"),
    ]
    DEFAULT_CSS = """
    HistoryScreen #history-filters { height: 1; padding: 0 1; }
    HistoryScreen DataTable { height: 1fr; }
    HistoryScreen #history-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, kind: str = "all") -> None:
        super().__init__()
        self.kind = kind
        self.records: list[CallRecord] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("history.title"), classes="screen-title")
        yield Static("", id="history-filters")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="history-empty", markup=False)
        yield Static(t("history.hint"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.app.history_changed.subscribe(self, lambda _: self.fill())
        self.app.phonebook_changed.subscribe(self, lambda _: self.fill())
        self._seen()
        self.fill()

    def on_screen_resume(self) -> None:
        self._seen()
        self.fill()

    def _seen(self) -> None:
        if self.app.missed_unseen:
            self.app.missed_unseen = 0       # the user has looked: the idle screen stops counting them
            self.app.status_changed.publish(None)

    async def relabel(self) -> None:
        await super().relabel()
        self.fill()

    def fill(self) -> None:
        """Read the filter's calls again and redraw, keeping the cursor where it was."""
        app = self.app
        self.query_one("#history-filters", Static).update(self._filter_bar())
        problem = ""
        self.records = []
        if app.store is None:
            problem = t("history.no_store")
        else:
            try:
                self.records = app.store.calls(self.kind)
            except StoreError as exc:
                problem = str(exc)
        phone = app.config.phone
        table = self.query_one(DataTable)
        fill_table(table, ["", t("history.col_who"), t("history.col_account"), t("history.col_time"),
                           t("history.col_duration")],
                   [(call_icon(r), who(r, app.name_for(r.remote_number)), account_name(app, r.account),
                     when(r.started, phone.time_format, phone.timezone),
                     format_duration(r.duration_s) if r.duration_s else "-") for r in self.records])
        empty = self.query_one("#history-empty", Static)
        empty.update(problem or ("" if self.records else t("history.empty")))
        empty.display = not self.records
        table.display = bool(self.records)
        self.refresh_soft_keys()

    def _filter_bar(self) -> Text:
        text = Text()
        for kind in HISTORY_FILTERS:
            style = "bold reverse" if kind == self.kind else ""
            text.append(f" {t(f'history.filter_{kind}')} ", style=style)
            text.append(" ")
        return text

    def chosen(self) -> CallRecord | None:
        table = self.query_one(DataTable)
        if not self.records or not 0 <= table.cursor_row < len(self.records):
            return None
        return self.records[table.cursor_row]

    def soft_keys(self) -> Sequence[SoftKey | None]:
        back = SoftKey("key.back", "back")
        if self.chosen() is None:
            return (None, SoftKey("key.filter", "next_filter(1)"), None, back)
        return (SoftKey("key.dial", "dial"), SoftKey("key.details", "details"), SoftKey("key.filter", "next_filter(1)"),
                SoftKey("key.save_contact", "add_contact"), SoftKey("key.delete", "delete"),
                SoftKey("key.clear", "clear"), SoftKey("key.block", "block"), None, back)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_soft_keys()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_dial()     # Enter on the list: the table takes the key, we call back

    # ----- actions ---------------------------------------------------------------------------------
    def action_next_filter(self, step: int) -> None:
        self.kind = HISTORY_FILTERS[(HISTORY_FILTERS.index(self.kind) + step) % len(HISTORY_FILTERS)]
        self.fill()

    def action_dial(self) -> None:
        record = self.chosen()
        if record is not None:
            dial_record(self.app, record)

    def action_details(self) -> None:
        record = self.chosen()
        if record is not None:
            self.app.push_screen(CallDetailsScreen(record))

    def action_add_contact(self) -> None:
        record = self.chosen()
        if record is not None:
            add_to_phonebook(self.app, record)

    def action_block(self) -> None:
        record = self.chosen()
        if record is not None and record.remote_number:
            self.app.command(self.app.phone.block(record.remote_number))

    def action_delete(self) -> None:
        record = self.chosen()
        if record is not None:
            delete_record(self.app, record)

    def action_clear(self) -> None:
        from tuiphone.screens.confirm import ConfirmScreen

        if self.app.store is None or not self.records:
            return
        question = t("history.clear_confirm", count=len(self.records), filter=t(f"history.filter_{self.kind}"))
        self.app.push_screen(ConfirmScreen(question), self._clear)

    def _clear(self, yes: bool | None) -> None:
        if not yes:
            return
        try:
            self.app.store.clear_calls(self.kind)
        except StoreError as exc:
            self.app.show_error(str(exc))
        self.app.history_changed.publish(None)

    def action_back(self) -> None:
        self.dismiss()


def dial_record(app, record: CallRecord) -> None:
    """Call back through the call's own account when it can still dial, else the first that can."""
    account = record.account if record.account in app.usable_accounts() else None
    app.place_call(dial_target(record), account)


def add_to_phonebook(app, record: CallRecord) -> None:
    from tuiphone.screens.phonebook import ContactEditScreen

    name = app.name_for(record.remote_number) or record.remote_name
    app.push_screen(ContactEditScreen(Contact(name=name, numbers=[Number(dial_target(record))])))


def delete_record(app, record: CallRecord) -> None:
    try:
        app.store.delete_call(record.id)
    except StoreError as exc:
        app.show_error(str(exc))
    app.history_changed.publish(None)


def summary_rows(quality: str) -> list[tuple[str, str]]:
    """The call's quality numbers and transfer as rows of the details (from the history's quality JSON)."""
    import json

    try:
        q = json.loads(quality) if quality else {}
    except ValueError:
        return []
    rows = []
    if "mos" in q:
        rows.append(("history.quality", t("history.quality_numbers", codec=q.get("codec") or "-", mos=q["mos"],
                                         loss=q.get("loss_pct", 0), jitter=q.get("jitter_ms", 0),
                                         rtt=q.get("rtt_ms", 0))))
    if "transfer_to" in q:
        status = q.get("transfer_status")
        result = (t("history.transfer_pending") if status is None else
                  t("history.transfer_done") if 200 <= status < 300 else
                  t("history.transfer_failed", status=status, reason=q.get("transfer_reason", "")))
        rows.append(("history.transfer", t("history.transfer_to", target=q["transfer_to"] or "?", result=result)))
    return rows


class CallDetailsScreen(PhoneScreen):
    """Everything the history knows of one call."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("enter", "dial", "Dial", show=False, id="history-dial"),
    ]
    DEFAULT_CSS = """
    CallDetailsScreen #call-details { padding: 1 2; height: 1fr; }
    """

    def __init__(self, record: CallRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("history.details"), classes="screen-title")
        with VerticalScroll(id="call-details"):
            yield Static(self.details(), markup=False)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.refresh_soft_keys()

    def details(self) -> str:
        from rich.cells import cell_len

        r, app = self.record, self.app
        phone = app.config.phone
        rows = [
            ("history.col_who", who(r, app.name_for(r.remote_number))),
            ("history.address", r.remote_uri),
            ("history.direction", t(f"history.dir_{r.direction}")),
            ("history.result", t(f"history.disp_{r.disposition}")),
            ("history.col_account", account_name(app, r.account)),
            ("history.col_time", when(r.started, phone.time_format, phone.timezone)),
            ("history.col_duration", format_duration(r.duration_s)),
        ]
        if r.reason:
            rows.append(("history.sip_reason", r.reason))
        rows += summary_rows(self.summary())
        width = max(cell_len(t(key)) for key, _ in rows)
        # pad by terminal cells, so Chinese labels line up too
        return "\n".join(f"{t(key)}{' ' * (width - cell_len(t(key)))}  {value}" for key, value in rows)

    def summary(self) -> str:
        """The call's quality and transfer as the history keeps them ("" when not known)."""
        store = self.app.store
        try:
            return store.call_summary(self.record.id) if store is not None else ""
        except StoreError:
            return ""

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.dial", "dial"), SoftKey("key.save_contact", "add_contact"),
                SoftKey("key.delete", "delete"), SoftKey("key.back", "back"))

    def action_dial(self) -> None:
        dial_record(self.app, self.record)

    def action_add_contact(self) -> None:
        add_to_phonebook(self.app, self.record)

    def action_delete(self) -> None:
        delete_record(self.app, self.record)
        self.dismiss()

    def action_back(self) -> None:
        self.dismiss()
