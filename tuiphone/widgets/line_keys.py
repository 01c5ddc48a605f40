"""The line keys (the GXP1760W's multi-purpose keys) with their lights.

With no `[[keys]]` in the config every key is a line key: idle dark, ringing blinking, talking steady, held
blinking another colour. With `[[keys]]` each entry is one key in file order: a `line` key shows the next line,
a `blf` key the monitored extension (idle, ringing blinking, busy, offline), the other modes their label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, cast

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tuiphone.engine.events import CallState, LineState
from tuiphone.i18n import t
from tuiphone.widgets.call_panel import party

BLINK_SECONDS = 0.5
BLF_STATES = ("idle", "ringing", "busy", "offline")
_LIGHTS = tuple(f"-{s.value}" for s in LineState) + tuple(f"-blf-{s}" for s in (*BLF_STATES, "unknown")) + (
    "-feature", "-on")
BLINKING = ("-ringing", "-held", "-blf-ringing")
_LIT_MODES = ("dnd", "forward", "paging")         # the keys key_lit lights (they follow the status)


@dataclass(frozen=True)
class KeySpec:
    """One key of the column: its place (alt+place presses it) and what it is for."""

    position: int                 # 1-based place in the column
    mode: str                     # a KeyConfig mode: line, speed_dial, blf, paging, ...
    line: int | None = None       # a line key's line
    index: int | None = None      # its [[keys]] entry (0-based); None for the plain line keys
    label: str = ""
    value: str = ""
    account: int | None = None    # 0-based account it uses


def key_layout(config, max_lines: int) -> list[KeySpec]:
    """The keys the phone shows: one line key per line, or the `[[keys]]` entries in file order."""
    if not config.keys:
        return [KeySpec(n, "line", line=n) for n in range(1, max_lines + 1)]
    specs, lines = [], 0
    for index, key in enumerate(config.keys):
        line = None
        if key.mode == "line":
            lines += 1
            line = lines
        specs.append(KeySpec(index + 1, key.mode, line=line, index=index, label=key.label, value=key.value,
                             account=key.account - 1))
    return specs


def line_caption(number: int, call: CallState | None, phonebook_name: str = "") -> str:
    """What a line key reads: its number, then the state and the other party when there is a call."""
    if call is None:
        return f"{number} {t('line.idle')}"
    return f"{number} {t('line.' + call.state.value)} {party(call, phonebook_name)}"


def key_name(spec: KeySpec) -> str:
    """A key's label, or the name of its mode (with its number for speed dial, BLF and intercom)."""
    if spec.label:
        return spec.label
    name = t(f"keys.mode_{spec.mode}")
    return f"{name} {spec.value}" if spec.mode in ("speed_dial", "blf", "intercom") else name


def key_lit(app, spec: KeySpec) -> bool:
    """Whether a feature key's light is on: DND while it is on, forward while calls are forwarded, a paging key
    while it sends its page."""
    if spec.mode == "dnd":
        return app.dnd_on()
    if spec.mode == "forward":
        return bool(app.features_now().forward_always)
    if spec.mode == "paging":
        pager = getattr(app.phone, "pager", None)
        return pager is not None and getattr(pager, "sending", None) == spec.value
    return False


class LineKey(Static):
    """One key. Its CSS classes say the light's state (`-ringing`, `-blink-off`, ...); the light is drawn from
    the column's component styles of the same names (`line-key--ringing`, ...: LineKeys), so a key that lights,
    blinks or goes dark repaints its one row and restyles nothing (a restyle of one key, Textual matching the
    app's every rule, was ~1.4 ms: twice a call and at each blink)."""

    DEFAULT_CSS = """
    LineKey { height: 1; width: 100%; background: $surface; text-wrap: nowrap; text-overflow: ellipsis; }
    LineKey:hover { text-style: underline; }
    """

    def __init__(self, spec: KeySpec | int) -> None:
        spec = spec if isinstance(spec, KeySpec) else KeySpec(spec, "line", line=spec)
        super().__init__("", id=f"line-key-{spec.position}", markup=False)
        self.spec = spec
        self.number = spec.position
        self.state = LineState.IDLE
        self.text = ""
        self.light = ""
        if spec.mode == "line":       # drawn idle from the start: the first frame is whole
            self.show_call(None, False)

    def show(self, text: str, light: str, selected: bool = False) -> None:
        """Set the caption and the light (classes named in COMPONENT_CLASSES); nothing is redrawn when neither
        changed."""
        if (text, light, selected) == (self.text, self.light, self.has_class("-selected")) and self.text:
            return
        self.remove_class(*_LIGHTS, update=False)      # markers only: no CSS rule reads them (see the class)
        self.add_class(*light.split(), update=False)
        self.set_class(selected, "-selected", update=False)
        self.text, self.light = text, light
        self.refresh()                          # one row of a fixed width: no layout of the screen for it

    def set_dark(self, dark: bool) -> None:
        """A blinking key's dark half (or lit again)."""
        if dark != self.has_class("-blink-off"):
            self.set_class(dark, "-blink-off", update=False)
            self.refresh()

    def render(self) -> Text:
        """The caption, a cell of margin each side, in the light's colours across the key's whole width."""
        names = [f"line-key-{name}" for name in self.light.split()]
        if self.has_class("-blink-off"):
            names.append("line-key--blink-off")
        if self.has_class("-selected"):
            names.append("line-key--selected")
        style = Style()
        column = cast(Widget, self.parent)         # LineKeys: the lights are its component styles
        for name in names:
            style += column.get_component_rich_style(name, partial=True)
        width = self.size.width
        text = Text(f" {self.text}", style=style, no_wrap=True, end="")
        if width > 1:
            text.truncate(width - 1, overflow="ellipsis")       # in cells: a Chinese character takes two
            text.pad_right(width - text.cell_len)
        return text

    def show_call(self, call: CallState | None, selected: bool, phonebook_name: str = "") -> None:
        """A line key: the line's state and who is on it."""
        self.state = call.state if call is not None else LineState.IDLE
        spec = self.spec
        if spec.label or spec.position != spec.line:     # a [[keys]] line key reads as the user named it
            text = line_caption(spec.position, call, phonebook_name).replace(
                f"{spec.position} ", f"{spec.position} {spec.label or t('call.line', line=spec.line)} ", 1)
        else:
            text = line_caption(spec.position, call, phonebook_name)
        self.show(text, f"-{self.state.value}", selected)

    def show_blf(self, state: str) -> None:
        """A BLF key: the watched extension's state ("unknown" until the server says)."""
        known = state if state in BLF_STATES else "unknown"
        word = t(f"blf.{known}") if known != "unknown" else ""
        self.show(f"{self.spec.position} {key_name(self.spec)} {word}".rstrip(), f"-blf-{known}")

    def show_feature(self, on: bool = False) -> None:
        """Any other key: its label; lit while what it turns on is on (DND, forwarding, a page being sent)."""
        self.show(f"{self.spec.position} {key_name(self.spec)}", "-feature -on" if on else "-feature")

    def on_click(self) -> None:
        self.post_message(LineKeys.Pressed(self.number))


class LineKeys(Vertical):
    """The column of keys; it reads the app's lines and BLF states and blinks ringing and held keys.

    The lights are its component styles, not each key's: Textual styles a widget's component classes at every
    restyle of it (the screen's mount and resume), 16 lights for each of six keys was ~100 styled nodes a pass
    and the most of the first screen's styling; the column has them once."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"line-key-{name}" for name in (*_LIGHTS, "-blink-off", "-selected")}
    DEFAULT_CSS = """
    LineKeys { width: 26; height: auto; padding: 0 1 0 0; }
    LineKeys > .line-key--calling { background: $success-darken-2; }
    LineKeys > .line-key--talking { background: $success; color: $text; text-style: bold; }
    LineKeys > .line-key--ringing { background: $success; color: $text; text-style: bold; }
    LineKeys > .line-key--held { background: $warning-darken-1; color: $text; }
    LineKeys > .line-key--blf-idle { background: $success-darken-2; }
    LineKeys > .line-key--blf-ringing { background: $error; color: $text; text-style: bold; }
    LineKeys > .line-key--blf-busy { background: $error-darken-1; color: $text; }
    LineKeys > .line-key--blf-offline, LineKeys > .line-key--blf-unknown { color: $text-muted; }
    LineKeys > .line-key--feature { color: $text-muted; }
    LineKeys > .line-key--on { background: $accent-darken-1; color: $text; }
    LineKeys > .line-key--blink-off { background: $surface; }
    LineKeys > .line-key--selected { text-style: bold reverse; }
    """

    class Pressed(Message):
        """A key was clicked (`line` is its place in the column, as alt+N)."""

        def __init__(self, line: int) -> None:
            super().__init__()
            self.line = line

    def __init__(self, count: int, *, blink: bool = True, selected: int | None = None) -> None:
        super().__init__(id="line-keys")
        self.count = count
        self.blink = blink
        self.blink_off = False
        self.selected = selected

    def compose(self) -> ComposeResult:
        for spec in key_layout(self.app.config, self.count):
            yield LineKey(spec)

    def on_mount(self) -> None:
        self.app.lines_changed.subscribe(self, lambda line: self.redraw(line=line))
        self.app.status_changed.subscribe(self, lambda _: self.redraw(modes=_LIT_MODES))   # DND, forward, paging
        self.app.keys_changed.subscribe(self, lambda _: self.redraw(modes=("blf",)))     # BLF states
        if self.blink:
            self.set_interval(BLINK_SECONDS, self._blink)
        self.redraw()

    def _blink(self) -> None:
        """Ringing and held keys go dark and light again; only they are repainted."""
        self.blink_off = not self.blink_off
        for key in self.query(LineKey):
            key.set_dark(self.blink_off and not key.classes.isdisjoint(BLINKING))

    def select(self, line: int | None) -> None:
        self.selected = line
        self.redraw()

    def redraw(self, *, line: int | None = None, modes: tuple[str, ...] | None = None) -> None:
        """Every key, or only the keys of one line (what changed on it), or only the keys of some modes."""
        app = self.app
        calls = app.calls()
        for key in self.query(LineKey):
            spec = key.spec
            if (line is not None and spec.line != line) or (modes is not None and spec.mode not in modes):
                continue
            if spec.mode == "line":
                call = calls.get(spec.line) if spec.line is not None else None
                name = app.name_for(call.remote_number) if call is not None else ""
                key.show_call(call, spec.line is not None and spec.line == self.selected, name)
            elif spec.mode == "blf":
                key.show_blf(app.blf.get(spec.index, "unknown"))
            else:
                key.show_feature(key_lit(app, spec))
