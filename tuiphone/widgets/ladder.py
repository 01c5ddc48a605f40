"""The ladder of one dialog: a lane for the phone and one for each far end, an arrow per SIP message.

    12:00:00.100  This phone                 UDP 127.0.0.1:5070
    12:00:00.101      │──────── INVITE ─────────▶│
    12:00:00.103      │◀─────── 100 Trying ──────│

Each arrow is a row of an OptionList: ↑↓ move between messages, Enter sends `LadderView.Chosen` for one.
"""

from __future__ import annotations

import datetime as dt

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tuiphone.engine.events import SipMessage
from tuiphone.engine.sip_trace import label, peer
from tuiphone.i18n import t

TIME_WIDTH = 13         # "HH:MM:SS.mmm "
OUT_STYLE, IN_STYLE = "bold green", "bold cyan"


def clock_time(when: float) -> str:
    """HH:MM:SS.mmm in local time."""
    return dt.datetime.fromtimestamp(when).strftime("%H:%M:%S.%f")[:-3]


def lane_positions(width: int, count: int) -> list[int]:
    """Where each lane's line is, in a drawing `width` cells wide: the ends a little in, the rest spread."""
    margin = max(2, min(12, width // (2 * count)))
    if count == 1:
        return [margin]
    span = max(count, width - 2 * margin - 1)
    return [margin + round(i * span / (count - 1)) for i in range(count)]


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    out = ""
    for char in text:
        if cell_len(out + char) > width - 1:
            break
        out += char
    return out + "…"


def header_line(peers: list[str], width: int) -> Text:
    """The lane names over the lanes, each centred on its line and cut to the room it has."""
    names = [t("trace.this_phone"), *peers]
    xs = lane_positions(width - TIME_WIDTH, len(names))
    room = (xs[1] - xs[0] - 1) if len(xs) > 1 else width
    line = Text(" " * TIME_WIDTH)
    used = TIME_WIDTH
    for x, name in zip(xs, names, strict=False):
        if cell_len(name) > room and " " in name and name.split(" ", 1)[0] in ("UDP", "TCP", "TLS"):
            name = name.split(" ", 1)[1]            # the address tells more than the transport
        name = _fit(name, room)
        start = max(used, TIME_WIDTH + x - cell_len(name) // 2)
        start = min(start, max(used, width - cell_len(name)))
        line.append(" " * (start - used))
        line.append(name, style="bold")
        used = start + cell_len(name)
    return line


def arrow_line(msg: SipMessage, peers: list[str], width: int) -> Text:
    """One message: its time, the lanes, and an arrow with its method or status between the phone and its peer."""
    lanes = 1 + len(peers)
    draw = width - TIME_WIDTH
    xs = lane_positions(draw, lanes)
    cells = [" "] * max(draw, xs[-1] + 1)
    for x in xs:
        cells[x] = "│"
    a, b = xs[0], xs[1 + peers.index(peer(msg))]
    for x in range(a + 1, b):
        cells[x] = "┼" if x in xs else "─"          # crossing the lanes of the peers in between
    out = msg.direction == "out"
    if b - a > 1:
        cells[b - 1 if out else a + 1] = "▶" if out else "◀"
    name = _fit(f" {label(msg)} ", b - a - 3)
    start = a + 2 + max(0, (b - a - 3 - len(name)) // 2)
    cells[start:start + len(name)] = list(name)
    line = Text(clock_time(msg.time).ljust(TIME_WIDTH), style="dim")
    body = Text("".join(cells))
    body.stylize(OUT_STYLE if out else IN_STYLE, a + 1, b)
    if name.strip():
        body.stylize("bold", start, start + len(name))
    line.append_text(body)
    return line


class LadderView(Vertical):
    """The ladder of a list of messages (one dialog); `add()` grows it, following the end when it was there."""

    DEFAULT_CSS = """
    LadderView { height: 1fr; }
    LadderView #ladder-head { height: 1; }
    LadderView OptionList { height: 1fr; border: none; padding: 0; }
    LadderView OptionList:focus { border: none; }
    """

    class Chosen(Message):
        """Enter on a message of the ladder: `number` is its place in the dialog, from 1."""

        def __init__(self, msg: SipMessage, number: int) -> None:
            super().__init__()
            self.msg, self.number = msg, number

    def __init__(self, messages: list[SipMessage], **kwargs) -> None:
        super().__init__(**kwargs)
        self.messages = list(messages)
        self._width = 0

    def compose(self) -> ComposeResult:
        yield Static(id="ladder-head")
        yield OptionList(id="ladder-rows")

    @property
    def peers(self) -> list[str]:
        return list(dict.fromkeys(peer(m) for m in self.messages))

    def on_mount(self) -> None:
        self.draw()
        rows = self.query_one(OptionList)
        rows.highlighted = 0 if self.messages else None
        rows.focus()

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self.draw()

    def draw(self) -> None:
        """Lay the ladder out again for the present width (and peers), keeping the highlighted message."""
        self._width = self.size.width or 80
        width = max(40, self._width - 2)          # the scroll bar's room
        peers = self.peers
        self.query_one("#ladder-head", Static).update(header_line(peers, width))
        rows = self.query_one(OptionList)
        keep = rows.highlighted
        rows.clear_options()
        rows.add_options([Option(arrow_line(m, peers, width)) for m in self.messages])
        if keep is not None and self.messages:
            rows.highlighted = min(keep, len(self.messages) - 1)

    def add(self, msg: SipMessage) -> None:
        rows = self.query_one(OptionList)
        following = rows.highlighted is None or rows.highlighted >= len(self.messages) - 1
        new_peer = peer(msg) not in self.peers
        self.messages.append(msg)
        if new_peer:
            self.draw()                            # a new lane: every row moves
        else:
            rows.add_option(Option(arrow_line(msg, self.peers, max(40, self._width - 2))))
        if following:
            rows.highlighted = len(self.messages) - 1

    @property
    def chosen(self) -> int | None:
        return self.query_one(OptionList).highlighted

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(self.messages[event.option_index], event.option_index + 1))
