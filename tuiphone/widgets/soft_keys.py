"""The four soft keys under the screen (F1–F4): their labels follow the screen, like the desk phone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

from tuiphone.i18n import key_name, t

SOFT_KEY_COUNT = 4


@dataclass(frozen=True)
class SoftKey:
    """One soft key: the i18n key of its label and the screen action it runs."""

    label: str
    action: str


class SoftKeyButton(Static):
    """One slot of the bar; an empty slot shows nothing and does nothing."""

    DEFAULT_CSS = """
    SoftKeyButton { width: 1fr; height: 1; content-align: center middle; margin: 0 1 0 0; }
    SoftKeyButton.-set { background: $primary-darken-1; color: $text; text-style: bold; }
    SoftKeyButton.-set:hover { background: $primary; }
    SoftKeyButton.-empty { background: $surface; }
    """

    def __init__(self, index: int) -> None:
        super().__init__("", id=f"soft-key-{index}")
        self.index = index
        self.key: SoftKey | None = None
        self.text = ""

    def show_key(self, key: SoftKey | None) -> None:
        text = f"{key_name(f'soft-key-{self.index}')} {t(key.label)}" if key else ""
        if key == self.key and text == self.text and self.has_class("-set" if key else "-empty"):
            return          # unchanged (a screen relabels its keys each time it comes back)
        self.key = key
        self.set_class(key is not None, "-set")
        self.set_class(key is None, "-empty")
        self.text = text
        self.update(text, layout=False)     # a slot of a fixed size: no layout of the screen for a new label

    def on_click(self) -> None:
        if self.key is not None:
            self.post_message(SoftKeyBar.Pressed(self.index))


class SoftKeyBar(Horizontal):
    """F1–F4 along the bottom edge."""

    DEFAULT_CSS = """
    SoftKeyBar { dock: bottom; height: 1; width: 100%; background: $surface; }
    """

    class Pressed(Message):
        """A soft key was clicked with the mouse (keys F1–F4 go through bindings)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, keys: Sequence[SoftKey | None] | None = None) -> None:
        """`keys`: what the keys read from the start (the first frame is whole), else blank until the screen
        says (PhoneScreen.refresh_soft_keys)."""
        super().__init__()
        self.first_keys = keys

    def compose(self) -> ComposeResult:
        buttons = [SoftKeyButton(index) for index in range(1, SOFT_KEY_COUNT + 1)]
        if self.first_keys is not None:
            self._show(buttons, self.first_keys)
        yield from buttons

    def show_keys(self, keys: Sequence[SoftKey | None]) -> None:
        """Label the four keys; missing or None entries leave a key blank."""
        self._show(list(self.query(SoftKeyButton)), keys)

    @staticmethod
    def _show(buttons: list[SoftKeyButton], keys: Sequence[SoftKey | None]) -> None:
        padded = list(keys)[:SOFT_KEY_COUNT] + [None] * (SOFT_KEY_COUNT - len(keys))
        for button, key in zip(buttons, padded, strict=False):
            button.show_key(key)

    def labels(self) -> list[str]:
        """What the four keys read now (for tests and the command palette)."""
        return [b.text for b in self.query(SoftKeyButton)]
