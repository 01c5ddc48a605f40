"""A menu on screen: numbered entries, Enter or the digit opens one, Escape goes back.

The menus themselves (what entries each has) are in menu.py and in the screens that own them; this module
imports none of them, so any screen can build a menu.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar


@dataclass(frozen=True)
class MenuEntry:
    """One entry: its label (an i18n key, or shown as written when `literal`) and what choosing it does."""

    label: str
    choose: Callable[[App], Screen | None]     # gets the app; returns a screen to open, or None
    literal: bool = False

    def text(self) -> str:
        return self.label if self.literal else t(self.label)


class MenuScreen(PhoneScreen):
    """A list of entries; a chosen entry pushes its screen or runs its action."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        *[Binding(str(n), f"pick({n})", show=False, id=f"keypad-{n}") for n in range(1, 10)],
        Binding("0", "pick(10)", show=False, id="keypad-0"),     # the tenth entry, as on a keypad
    ]
    DEFAULT_CSS = """
    MenuScreen OptionList { height: 1fr; border: none; padding: 0 1; }
    """

    def __init__(self, title: str, entries: Callable[[], Sequence[MenuEntry]]) -> None:
        super().__init__()
        self.title_key = title
        self.entries_of = entries
        self.entries: list[MenuEntry] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t(self.title_key), classes="screen-title")
        self.entries = list(self.entries_of())
        yield OptionList(*self._options(), id="menu-list")
        yield SoftKeyBar()

    def _options(self) -> list[Option]:
        return [Option(f"{n % 10}. {e.text()}" if n <= 10 else f"   {e.text()}", id=str(n))
                for n, e in enumerate(self.entries, 1)]

    def refresh_entries(self) -> None:
        """Read the entries again (their labels show state that changed), keeping the highlight."""
        options = self.query_one(OptionList)
        at = options.highlighted
        self.entries = list(self.entries_of())
        options.clear_options()
        options.add_options(self._options())
        if self.entries:
            options.highlighted = min(at or 0, len(self.entries) - 1)

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self.refresh_soft_keys()
        # entries may show state (DND on, lock password set): read them again when it changes
        self.app.status_changed.subscribe(self, lambda _: self.refresh_entries())

    async def relabel(self) -> None:
        await super().relabel()
        self.query_one(OptionList).highlighted = 0

    def soft_keys(self) -> Sequence[SoftKey | None]:
        return (SoftKey("key.select", "select"), None, None, SoftKey("key.back", "back"))

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        self.action_pick(message.option_index + 1)

    def action_select(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None:
            self.action_pick(index + 1)

    def action_pick(self, number: int) -> None:
        if not 1 <= number <= len(self.entries):
            return
        screen = self.entries[number - 1].choose(self.app)
        if screen is not None:
            self.app.push_screen(screen)

    def action_back(self) -> None:
        self.dismiss()


def apply_setting(app: App, target: object, name: str, value: object) -> None:
    """Change a setting from a menu entry; a refusal (schema or disk) is shown as an error."""
    problem = app.change_setting(target, name, value)
    if problem:
        app.show_error(problem)
