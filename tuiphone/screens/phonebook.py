"""Phonebook: groups, contacts with several numbers, search as you type (names in Chinese too), edit, dial, block."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.widgets.select import NoSelection

from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.screens.confirm import ConfirmScreen
from tuiphone.screens.prompt import ChoiceScreen, TextPromptScreen, check_target
from tuiphone.store import NUMBER_KINDS, Contact, Group, Number, StoreError, plain_number
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar
from tuiphone.widgets.table import fill_table

NO_GROUP = -1             # Select needs a value for "no group"
MAX_NUMBERS = 6


def number_label(number: Number) -> str:
    return f"{t(f'phonebook.kind_{number.kind}')}: {number.number}"


def numbers_cell(contact: Contact) -> str:
    """The first number, and how many more there are."""
    if not contact.numbers:
        return "-"
    more = len(contact.numbers) - 1
    return contact.numbers[0].number + (f"  (+{more})" if more else "")


def with_number(app, contact: Contact, title: str, then: Callable[[Number], None]) -> None:
    """Run `then` with the contact's only number, or with the one the user picks."""
    if len(contact.numbers) == 1:
        then(contact.numbers[0])
    elif contact.numbers:
        app.push_screen(ChoiceScreen(title, [number_label(n) for n in contact.numbers]),
                        lambda i: then(contact.numbers[i]) if i is not None else None)


class PhonebookScreen(PhoneScreen):
    """Type to search; ↑↓ choose; Enter dials; Tab changes the group; soft keys add, edit, delete, block."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("up", "move(-1)", "Up", show=False, id="phonebook-up"),
        Binding("down", "move(1)", "Down", show=False, id="phonebook-down"),
        Binding("pageup", "move(-10)", "Page up", show=False, id="phonebook-page-up"),
        Binding("pagedown", "move(10)", "Page down", show=False, id="phonebook-page-down"),
        Binding("tab", "next_group(1)", "Next group", show=False, priority=True, id="phonebook-next-group"),
        Binding("shift+tab", "next_group(-1)", "Previous group", show=False, priority=True,
                id="phonebook-previous-group"),
    ]
    DEFAULT_CSS = """
    PhonebookScreen #phonebook-search { margin: 0 1; }
    PhonebookScreen #phonebook-groups { height: 1; padding: 0 1; }
    PhonebookScreen DataTable { height: 1fr; }
    PhonebookScreen #phonebook-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.group_id: int | None = None
        self.groups: list[Group] = []
        self.contacts: list[Contact] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("phonebook.title"), classes="screen-title")
        yield Input(placeholder=t("phonebook.search"), id="phonebook-search")
        yield Static("", id="phonebook-groups")
        table: DataTable[object] = DataTable(id="phonebook-table", cursor_type="row", zebra_stripes=True)
        table.can_focus = False     # typing always goes to the search; ↑↓ move the cursor from there
        yield table
        yield Static("", id="phonebook-empty", markup=False)
        yield Static(t("phonebook.hint"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.app.phonebook_changed.subscribe(self, lambda _: self.fill())
        self.query_one(Input).focus()
        self.fill()

    def on_screen_resume(self) -> None:
        self.fill()      # a table filled while another screen was on top is drawn afresh

    async def relabel(self) -> None:
        search = self.query_one(Input).value
        await super().relabel()
        self.query_one(Input).value = search
        self.query_one(Input).focus()
        self.fill()

    def fill(self) -> None:
        app = self.app
        chosen = self.chosen()
        problem = ""
        self.contacts = []
        if app.store is None:
            problem = t("history.no_store")
        else:
            try:
                self.groups = app.store.groups()
                if self.group_id not in {g.id for g in self.groups}:
                    self.group_id = None
                self.contacts = app.store.contacts(self.query_one(Input).value, self.group_id)
            except StoreError as exc:
                problem = str(exc)
        names: dict[int | None, str] = {g.id: g.name for g in self.groups}
        table = self.query_one(DataTable)
        fill_table(table, [t("phonebook.col_name"), t("phonebook.col_numbers"), t("phonebook.col_group")],
                   [(c.name, numbers_cell(c), names.get(c.group_id, "")) for c in self.contacts])
        ids = [c.id for c in self.contacts]
        if chosen is not None and chosen.id in ids:
            table.move_cursor(row=ids.index(chosen.id))
        self.query_one("#phonebook-groups", Static).update(self._group_bar())
        empty = self.query_one("#phonebook-empty", Static)
        empty.update(problem or ("" if self.contacts else t("phonebook.empty")))
        empty.display = not self.contacts
        table.display = bool(self.contacts)
        self.refresh_soft_keys()

    def _group_bar(self) -> Text:
        text = Text()
        for group_id, name in [(None, t("phonebook.all_groups"))] + [(g.id, g.name) for g in self.groups]:
            text.append(f" {name} ", style="bold reverse" if group_id == self.group_id else "")
            text.append(" ")
        return text

    def chosen(self) -> Contact | None:
        if not self.is_mounted or not self.contacts:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.contacts[row] if 0 <= row < len(self.contacts) else None

    def soft_keys(self) -> Sequence[SoftKey | None]:
        add, back = SoftKey("key.add", "add"), SoftKey("key.back", "back")
        groups = SoftKey("key.groups", "groups")
        if self.chosen() is None:
            return (None, add, groups, back)
        return (SoftKey("key.dial", "dial"), add, SoftKey("key.edit", "edit"),
                SoftKey("key.delete", "delete"), SoftKey("key.block", "block"), groups,
                back)

    def on_input_changed(self, _: Input.Changed) -> None:
        self.fill()      # search as you type

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_dial()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_soft_keys()

    # ----- actions ---------------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        table = self.query_one(DataTable)
        if self.contacts:
            table.move_cursor(row=max(0, min(len(self.contacts) - 1, table.cursor_row + step)))

    def action_next_group(self, step: int) -> None:
        ids: list[int | None] = [None] + [g.id for g in self.groups]
        self.group_id = ids[(ids.index(self.group_id) + step) % len(ids)]
        self.fill()

    def action_dial(self) -> None:
        contact = self.chosen()
        if contact is not None:
            with_number(self.app, contact, t("phonebook.which_number", name=contact.name),
                        lambda n: self.app.place_call(plain_number(n.number)))

    def action_add(self) -> None:
        if self.app.store is not None:
            self.app.push_screen(ContactEditScreen(Contact(name="", numbers=[], group_id=self.group_id)))

    def action_edit(self) -> None:
        contact = self.chosen()
        if contact is not None:
            self.app.push_screen(ContactEditScreen(contact))

    def action_delete(self) -> None:
        contact = self.chosen()
        if contact is None:
            return

        def delete(yes: bool | None) -> None:
            if yes:
                try:
                    self.app.store.delete_contact(contact.id)
                except StoreError as exc:
                    self.app.show_error(str(exc))
                self.app.reload_names()
        self.app.push_screen(ConfirmScreen(t("phonebook.delete_confirm", name=contact.name)), delete)

    def action_block(self) -> None:
        contact = self.chosen()
        if contact is not None:
            with_number(self.app, contact, t("phonebook.which_block", name=contact.name),
                        lambda n: self.app.command(self.app.phone.block(plain_number(n.number))))

    def action_groups(self) -> None:
        if self.app.store is not None:
            self.app.push_screen(GroupsScreen())

    def action_back(self) -> None:
        search = self.query_one(Input)
        if search.value:
            search.value = ""      # Esc first clears the search, then leaves
        else:
            self.dismiss()


class NumberRow(Horizontal):
    """One number of a contact: its kind and the number."""

    DEFAULT_CSS = """
    NumberRow { height: 3; }
    NumberRow Select { width: 18; }
    NumberRow Input { width: 1fr; }
    """

    def __init__(self, number: Number) -> None:
        super().__init__()
        self.number = number

    def compose(self) -> ComposeResult:
        yield Select([(t(f"phonebook.kind_{k}"), k) for k in NUMBER_KINDS], value=self.number.kind,
                     allow_blank=False, classes="number-kind")
        yield Input(self.number.number, placeholder=t("phonebook.number_placeholder"), classes="number-input")

    def value(self) -> Number:
        return Number(self.query_one(Input).value.strip(), str(self.query_one(Select).value))


class ContactEditScreen(PhoneScreen):
    """Add or edit one contact: name, group, numbers (one row each). F1 or Enter saves, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False, id="back"),
    ]
    DEFAULT_CSS = """
    ContactEditScreen #contact-form { height: 1fr; padding: 0 1; }
    ContactEditScreen .field-label { height: 1; color: $text-muted; }
    ContactEditScreen #contact-group { width: 40; }
    """

    def __init__(self, contact: Contact) -> None:
        super().__init__()
        self.contact = contact
        self.error = ""

    def compose(self) -> ComposeResult:
        contact = self.contact
        groups = self.app.store.groups() if self.app.store is not None else []
        yield StatusBar()
        yield Static(t("phonebook.edit_title" if contact.id is not None else "phonebook.add_title"),
                     classes="screen-title")
        with VerticalScroll(id="contact-form"):
            yield Static(t("phonebook.col_name"), classes="field-label")
            yield Input(contact.name, id="contact-name")
            yield Static(t("phonebook.col_group"), classes="field-label")
            group_ids = {g.id for g in groups}
            yield Select([(t("phonebook.no_group"), NO_GROUP)] + [(g.name, g.id) for g in groups],
                         value=contact.group_id if contact.group_id in group_ids else NO_GROUP,
                         allow_blank=False, id="contact-group")
            yield Static(t("phonebook.col_numbers"), classes="field-label")
            for number in contact.numbers or [Number("")]:
                yield NumberRow(number)
            yield Static(self.error, id="contact-error", classes="message -error", markup=False)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.query_one("#contact-name", Input).focus()
        self.refresh_soft_keys()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        more = SoftKey("key.add_number", "add_number") if len(self.query(NumberRow)) < MAX_NUMBERS else None
        return (SoftKey("key.save", "save"), more, None, SoftKey("key.cancel", "cancel"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    async def action_add_number(self) -> None:
        rows = list(self.query(NumberRow))
        if len(rows) >= MAX_NUMBERS:
            return
        row = NumberRow(Number("", "mobile"))
        await self.query_one("#contact-form").mount(row, before=self.query_one("#contact-error"))
        row.query_one(Input).focus()        # before the next key: what is typed after F2 goes into the new row
        self.refresh_soft_keys()

    def edited(self) -> Contact:
        group = self.query_one("#contact-group", Select).value
        assert not isinstance(group, NoSelection)      # allow_blank=False: a group or NO_GROUP is always chosen
        return Contact(name=self.query_one("#contact-name", Input).value,
                       numbers=[row.value() for row in self.query(NumberRow) if row.value().number],
                       group_id=None if group == NO_GROUP else int(group), id=self.contact.id)

    def action_save(self) -> None:
        contact = self.edited()
        # people type numbers with spaces and dashes; what is dialed is the number without them
        problem = next((t("prompt.bad_number", text=n.number) for n in contact.numbers
                        if check_target(plain_number(n.number))), "")
        if not problem:
            try:
                self.app.store.save_contact(contact)
            except StoreError as exc:
                problem = str(exc)
        if problem:
            self.query_one("#contact-error", Static).update(problem)
            return
        self.app.reload_names()
        self.app.notify(t("phonebook.saved", name=contact.name), markup=False)
        self.dismiss(contact.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class GroupsScreen(PhoneScreen):
    """The phonebook's groups: add, rename, delete (a deleted group's contacts stay, in no group)."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    GroupsScreen OptionList { height: 1fr; border: none; padding: 0 1; }
    GroupsScreen #groups-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[Group] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("phonebook.groups_title"), classes="screen-title")
        yield OptionList(id="groups-list")
        yield Static(t("phonebook.no_groups"), id="groups-empty")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.fill()

    async def relabel(self) -> None:
        await super().relabel()
        self.fill()

    def fill(self) -> None:
        self.groups = self.app.store.groups()
        options = self.query_one(OptionList)
        at = options.highlighted or 0
        options.clear_options()
        options.add_options([Option(g.name, id=str(g.id)) for g in self.groups])
        if self.groups:
            options.highlighted = min(at, len(self.groups) - 1)
        options.focus()
        self.query_one("#groups-empty").display = not self.groups
        self.refresh_soft_keys()

    def chosen(self) -> Group | None:
        at = self.query_one(OptionList).highlighted
        return self.groups[at] if at is not None and 0 <= at < len(self.groups) else None

    def soft_keys(self) -> Sequence[SoftKey | None]:
        if self.chosen() is None:
            return (SoftKey("key.add", "add"), None, None, SoftKey("key.back", "back"))
        return (SoftKey("key.add", "add"), SoftKey("key.rename", "rename"), SoftKey("key.delete", "delete"),
                SoftKey("key.back", "back"))

    def on_option_list_option_highlighted(self, _: OptionList.OptionHighlighted) -> None:
        self.refresh_soft_keys()

    def _changed(self) -> None:
        self.fill()
        self.app.phonebook_changed.publish(None)

    def _ask_name(self, value: str, store_it: Callable[[str], object]) -> None:
        """Ask for a group name; a name the store refuses keeps the question open with the reason."""
        def accept(name: str) -> str:
            try:
                store_it(name)
            except StoreError as exc:
                return str(exc)
            return ""
        self.app.push_screen(TextPromptScreen(t("phonebook.group_name"), value=value, check=accept),
                             lambda name: self._changed() if name is not None else None)

    def action_add(self) -> None:
        self._ask_name("", self.app.store.add_group)

    def action_rename(self) -> None:
        group = self.chosen()
        if group is not None:
            self._ask_name(group.name, lambda name: self.app.store.rename_group(group.id, name))

    def action_delete(self) -> None:
        group = self.chosen()
        if group is None:
            return

        def delete(yes: bool | None) -> None:
            if yes:
                try:
                    self.app.store.delete_group(group.id)
                except StoreError as exc:
                    self.app.show_error(str(exc))
                self._changed()
        self.app.push_screen(ConfirmScreen(t("phonebook.group_delete_confirm", name=group.name)), delete)

    def action_back(self) -> None:
        self.dismiss()
