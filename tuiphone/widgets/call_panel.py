"""One call on the call screen: who, state, duration, codec, quality, and the mute/hold/transfer marks."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tuiphone.engine.directip import display_form, is_direct_ip
from tuiphone.engine.events import LineState
from tuiphone.i18n import t


def format_duration(seconds: float) -> str:
    """mm:ss, or h:mm:ss past an hour."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def party(call, phonebook_name: str = "") -> str:
    """Who is on the line, in words: the phonebook's name, the name the far end sent, else the number
    (a keypad IP as an address), else the URI."""
    if phonebook_name or call.remote_name:
        return phonebook_name or call.remote_name
    number = call.remote_number
    if number and is_direct_ip(number):
        return display_form(number)
    return number or call.remote_uri


def call_text(view, now: float, phonebook_name: str = "") -> Text:
    """The panel's lines for a LineView at epoch time `now`."""
    call = view.call
    text = Text()
    text.append(f"{t('call.line', line=call.line)}  ", style="bold")
    text.append(t(f"line.{call.state.value}"), style="bold")
    if view.talking_since is not None:
        text.append(f"  {format_duration(now - view.talking_since)}")
    codec = call.codec or (view.quality.codec if view.quality else "")
    if codec:
        text.append(f"  {codec}")
    for on, key, style in ((call.recording, "call.mark_recording", "bold white on red"),
                           (call.conference, "call.mark_conference", "bold white on blue"),
                           (call.muted, "call.mark_muted", "bold white on red"),
                           (call.state == LineState.HELD, "call.mark_held", "bold black on yellow"),
                           (call.remote_hold, "call.mark_remote_hold", "bold black on yellow")):
        if on:
            text.append("  ")
            text.append(f" {t(key)} ", style=style)
    text.append(f"\n{party(call, phonebook_name)}")
    if (phonebook_name or call.remote_name) and call.remote_number:
        text.append(f" <{call.remote_number}>")
    text.append(f"  {call.remote_uri}", style="dim")
    q = view.quality
    if q is not None:
        text.append("\n" + t("call.quality", mos=f"{q.mos:.1f}", loss=f"{q.rx_loss_pct:.1f}",
                             jitter=f"{q.jitter_ms:.1f}", rtt=f"{q.rtt_ms:.0f}"))
    if view.dtmf_sent or view.dtmf_heard:
        text.append("\n" + t("call.dtmf", sent=view.dtmf_sent or "-", heard=view.dtmf_heard or "-"))
    if view.transfer is not None:
        tr = view.transfer
        key = "call.transfer_final" if tr.final else "call.transfer_progress"
        text.append("\n" + t(key, status=tr.sip_status, reason=tr.reason), style="italic")
    return text


class CallPanel(Static):
    """A bordered box for one line; the selected line is highlighted."""

    DEFAULT_CSS = """
    CallPanel { height: auto; border: round $primary-darken-2; padding: 0 1; margin-bottom: 0; }
    CallPanel.-selected { border: round $accent; background: $boost; }
    """

    def __init__(self, line: int) -> None:
        super().__init__("", id=f"call-line-{line}")
        self.line = line
        self.shown = ""

    def show(self, view, now: float, selected: bool) -> None:
        self.set_class(selected, "-selected")
        text = call_text(view, now, self.app.name_for(view.call.remote_number))
        if text.plain != self.shown:     # redrawn every second: only a changed text costs a layout
            self.shown = text.plain
            self.update(text)

    def on_click(self) -> None:
        self.screen.select_line(self.line)
