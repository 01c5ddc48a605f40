"""Line keys 1..N with their lights: idle dark, ringing blinking, talking steady, held blinking another colour."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tuiphone.engine.events import CallState, LineState
from tuiphone.i18n import t
from tuiphone.widgets.call_panel import party

BLINK_SECONDS = 0.5


def line_caption(number: int, call: CallState | None, phonebook_name: str = "") -> str:
    """What a line key reads: its number, then the state and the other party when there is a call."""
    if call is None:
        return f"{number} {t('line.idle')}"
    return f"{number} {t('line.' + call.state.value)} {party(call, phonebook_name)}"


class LineKey(Static):
    """One line key; its CSS class carries the light's state."""

    DEFAULT_CSS = """
    LineKey { height: 1; width: 100%; padding: 0 1; background: $surface; text-wrap: nowrap;
              text-overflow: ellipsis; }
    LineKey.-calling { background: $success-darken-2; }
    LineKey.-talking { background: $success; color: $text; text-style: bold; }
    LineKey.-ringing { background: $success; color: $text; text-style: bold; }
    LineKey.-held { background: $warning-darken-1; color: $text; }
    LineKeys.-blink-off LineKey.-ringing, LineKeys.-blink-off LineKey.-held { background: $surface; }
    LineKey.-selected { text-style: bold reverse; }
    LineKey:hover { text-style: underline; }
    """

    def __init__(self, number: int) -> None:
        super().__init__("", id=f"line-key-{number}", markup=False)
        self.number = number
        self.state = LineState.IDLE
        self.text = ""

    def show_call(self, call: CallState | None, selected: bool, phonebook_name: str = "") -> None:
        state = call.state if call is not None else LineState.IDLE
        text = line_caption(self.number, call, phonebook_name)
        if (state, text, selected) == (self.state, self.text, self.has_class("-selected")) and self.text:
            return
        for old in LineState:
            self.remove_class(f"-{old.value}")
        self.add_class(f"-{state.value}")
        self.set_class(selected, "-selected")
        self.state = state
        self.text = text
        self.update(text)

    def on_click(self) -> None:
        self.post_message(LineKeys.Pressed(self.number))


class LineKeys(Vertical):
    """The column of line keys; it reads the app's lines and blinks ringing and held keys."""

    DEFAULT_CSS = """
    LineKeys { width: 26; height: auto; padding: 0 1 0 0; }
    """

    class Pressed(Message):
        """A line key was clicked."""

        def __init__(self, line: int) -> None:
            super().__init__()
            self.line = line

    def __init__(self, count: int, *, blink: bool = True, selected: int | None = None) -> None:
        super().__init__(id="line-keys")
        self.count = count
        self.blink = blink
        self.selected = selected

    def compose(self) -> ComposeResult:
        for number in range(1, self.count + 1):
            yield LineKey(number)

    def on_mount(self) -> None:
        self.app.lines_changed.subscribe(self, lambda _: self.redraw())
        if self.blink:
            self.set_interval(BLINK_SECONDS, lambda: self.toggle_class("-blink-off"))
        self.redraw()

    def select(self, line: int | None) -> None:
        self.selected = line
        self.redraw()

    def redraw(self) -> None:
        calls = self.app.calls()
        for key in self.query(LineKey):
            call = calls.get(key.number)
            name = self.app.name_for(call.remote_number) if call is not None else ""
            key.show_call(call, key.number == self.selected, name)
