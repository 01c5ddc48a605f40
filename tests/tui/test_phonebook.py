"""Phonebook: add a contact with two numbers, search as you type (Chinese too), dial, groups, edit, delete, block."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.screens.confirm import ConfirmScreen
from tuiphone.screens.phonebook import ContactEditScreen, GroupsScreen, PhonebookScreen
from tuiphone.screens.prompt import ChoiceScreen, TextPromptScreen
from tuiphone.store import Contact, Number, Store


def soft_keys(app) -> str:
    return " | ".join(app.screen.query_one("SoftKeyBar").labels())


def rows(app) -> int:
    return app.screen.query_one("DataTable").row_count


async def test_add_a_contact_with_two_numbers_find_it_by_chinese_name_or_number_and_dial_either():
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")
        assert isinstance(app.screen, PhonebookScreen)
        assert "No contacts here: F2 adds one." in screen_text(app)
        await pilot.press("f2")
        assert isinstance(app.screen, ContactEditScreen)
        await pilot.press(*"张三", "tab", "tab", "tab", *"8001", "f2")     # name, group, kind, number; + Number
        await until(pilot, lambda: len(app.screen.query(".number-input")) == 2)
        assert app.focused is app.screen.query(".number-input")[1]       # the new row, ready to type in
        app.focused.value = "138 0013 8000"
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, PhonebookScreen) and rows(app) == 1)
        assert "张三" in screen_text(app) and "8001  (+1)" in screen_text(app)
        await pilot.press(*"李")
        await until(pilot, lambda: rows(app) == 0)
        await pilot.press("backspace", *"80013")         # part of a number, found without its spaces
        await until(pilot, lambda: rows(app) == 1)
        await pilot.press("enter")
        assert isinstance(app.screen, ChoiceScreen)
        assert "1. Work: 8001" in screen_text(app) and "2. Mobile: 138 0013 8000" in screen_text(app)
        await pilot.press("2")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("call", "13800138000", None)]
        assert app.name_for("13800138000") == "张三"


async def test_a_contact_needs_a_dialable_number_and_a_name():
    app, _ = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p", "f2", "tab", "tab", "tab", *"12 ab!", "f1")
        await until(pilot, lambda: "12 ab! is not a number or a SIP address" in screen_text(app))
        await pilot.press("ctrl+u", *"12", "f1")
        await until(pilot, lambda: "A contact needs a name." in screen_text(app))
        assert app.store.contacts() == []
        await pilot.press("shift+tab", "shift+tab", "shift+tab", *"Bob", "f1")
        await until(pilot, lambda: isinstance(app.screen, PhonebookScreen))
        assert [c.name for c in app.store.contacts()] == ["Bob"]


async def test_groups_filter_the_list_and_contacts_are_edited_deleted_and_blocked():
    store = Store(":memory:")
    work = store.add_group("Work")
    store.save_contact(Contact("Alice", [Number("200")], group_id=work))
    store.save_contact(Contact("Bob", [Number("300")]))
    app, phone = build(store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")
        await until(pilot, lambda: rows(app) == 2)
        await pilot.press("tab")                          # the Work group
        await until(pilot, lambda: rows(app) == 1)
        assert "Alice" in screen_text(app) and "Bob" not in screen_text(app)
        await pilot.press("f3")                           # Edit
        assert isinstance(app.screen, ContactEditScreen)
        await pilot.press("end", *" Smith", "enter")
        await until(pilot, lambda: isinstance(app.screen, PhonebookScreen) and "Alice Smith" in screen_text(app))
        await pilot.press("f4", "f2")                     # More, Block
        await until(pilot, lambda: phone.blocked == ["200"])
        await pilot.press("f4", "f1")                     # More, Delete
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await until(pilot, lambda: [c.name for c in store.contacts()] == ["Bob"])
        await until(pilot, lambda: soft_keys(app) == " | F2 Add | F3 Groups | F4 Back")    # the group is empty
        await pilot.press("f3")
        assert isinstance(app.screen, GroupsScreen)
        await pilot.press("f2")                           # Rename
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press("ctrl+u", *"Office", "enter")
        await until(pilot, lambda: [g.name for g in store.groups()] == ["Office"])
        await pilot.press("f1", *"Office", "enter")
        await until(pilot, lambda: "There is already a group called Office" in screen_text(app))
