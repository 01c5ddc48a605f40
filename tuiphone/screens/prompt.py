"""Small dialogs over any screen: ask for a line of text, or pick one of a few choices."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tuiphone.i18n import t
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 64; max-width: 100%; height: auto; border: thick $accent; background: $surface;
                     padding: 1 2; }}
{name} .dialog-title {{ text-style: bold; }}
{name} SoftKeyBar {{ dock: none; margin-top: 1; }}
"""


class TextPromptScreen(ModalScreen[str | None]):
    """A question and one line of text; Enter (F1) gives the text once `check` finds nothing wrong, Esc gives None.

    `check(text)` returns "" or a sentence saying what is wrong; the dialog stays open until it returns "".
    It may also do the job itself (save the text), so a refusal is shown where the user typed. A refused
    password is cleared.
    """

    BINDINGS = [
        Binding("f1", "ok", "OK", show=False, id="soft-key-1"),
        Binding("escape", "cancel", "Cancel", show=False, id="prompt-cancel"),
        Binding("f4", "cancel", "Cancel", show=False, id="soft-key-4"),
    ]
    DEFAULT_CSS = _DIALOG_CSS.format(name="TextPromptScreen") + """
    TextPromptScreen Input { margin-top: 1; }
    """

    def __init__(self, title: str, *, value: str = "", placeholder: str = "", password: bool = False,
                 check: Callable[[str], str] | None = None, help_text: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.password = password
        self.check = check
        self.help_text = help_text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.help_text:
                yield Static(self.help_text, classes="hint", markup=False)
            yield Input(self.value, placeholder=self.placeholder, password=self.password, id="prompt-input")
            yield Static("", id="prompt-error", classes="message -error", markup=False)
            yield SoftKeyBar()

    def on_mount(self) -> None:
        self.query_one(SoftKeyBar).show_keys([SoftKey("key.ok", "ok"), None, None, SoftKey("key.cancel", "cancel")])
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_ok()

    def action_ok(self) -> None:
        text = self.query_one(Input).value.strip()
        problem = self.check(text) if self.check is not None else ""
        if problem:
            self.query_one("#prompt-error", Static).update(problem)
            if self.password:       # a wrong password is typed again from the start, not after the old dots
                self.query_one(Input).value = ""
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_soft_key_bar_pressed(self, message: SoftKeyBar.Pressed) -> None:
        self.action_ok() if message.index == 1 else self.action_cancel()


class ChoiceScreen(ModalScreen[int | None]):
    """Pick one of a few lines (a digit or Enter); dismisses with its index, or None on Esc."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False, id="choice-cancel"),
        Binding("f4", "cancel", "Cancel", show=False, id="soft-key-4"),
        Binding("f1", "select", "Select", show=False, id="soft-key-1"),
        *[Binding(str(n), f"pick({n})", show=False, id=f"keypad-{n}") for n in range(1, 10)],
    ]
    DEFAULT_CSS = _DIALOG_CSS.format(name="ChoiceScreen") + """
    ChoiceScreen OptionList { height: auto; max-height: 12; margin-top: 1; border: none; }
    """

    def __init__(self, title: str, choices: Sequence[str]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield OptionList(*[Option(f"{n}. {c}", id=str(n)) for n, c in enumerate(self.choices, 1)])
            yield SoftKeyBar()

    def on_mount(self) -> None:
        self.query_one(SoftKeyBar).show_keys([SoftKey("key.select", "select"), None, None,
                                              SoftKey("key.cancel", "cancel")])
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(message.option_index)

    def action_select(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None:
            self.dismiss(index)

    def action_pick(self, number: int) -> None:
        if 1 <= number <= len(self.choices):
            self.dismiss(number - 1)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_soft_key_bar_pressed(self, message: SoftKeyBar.Pressed) -> None:
        self.action_select() if message.index == 1 else self.action_cancel()


def check_target(text: str) -> str:
    """"" when `text` looks like something to dial (a number, a feature code or a SIP address), else why not."""
    if not text:
        return t("prompt.need_number")
    if re.fullmatch(r"[0-9*#+]+|(sips?:)?[^\s@]+@[^\s@]+|sips?:[^\s]+", text):
        return ""
    return t("prompt.bad_number", text=text)
