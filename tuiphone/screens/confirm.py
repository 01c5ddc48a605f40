"""A yes/no question over any screen; it dismisses with True or False."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar


class ConfirmScreen(ModalScreen[bool]):
    """Enter or F1 says yes, Escape or F4 says no."""

    BINDINGS = [
        Binding("enter", "answer(True)", "Yes", show=False, id="confirm-yes"),
        Binding("f1", "answer(True)", "Yes", show=False, id="soft-key-1"),
        Binding("escape", "answer(False)", "No", show=False, id="confirm-no"),
        Binding("f4", "answer(False)", "No", show=False, id="soft-key-4"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 60; height: auto; border: thick $warning; background: $surface;
                               padding: 1 2; }
    ConfirmScreen SoftKeyBar { dock: none; margin-top: 1; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question", markup=False)
            yield SoftKeyBar()

    def on_mount(self) -> None:
        self.query_one(SoftKeyBar).show_keys([SoftKey("key.yes", "answer(True)"), None, None,
                                              SoftKey("key.no", "answer(False)")])

    def on_soft_key_bar_pressed(self, message: SoftKeyBar.Pressed) -> None:
        self.dismiss(message.index == 1)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
