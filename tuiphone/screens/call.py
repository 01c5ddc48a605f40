"""The call screen: every line with a call, soft keys by the selected line's state, DTMF, transfers."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from tuiphone.engine.events import LineState
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen, keypad_bindings, line_key_bindings
from tuiphone.screens.keys import ask_forward_call, open_forwarding, press_key
from tuiphone.widgets.call_panel import CallPanel, party
from tuiphone.widgets.line_keys import LineKeys
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

QUALITY_POLL_SECONDS = 1.0
_IN_CALL = (LineState.TALKING, LineState.HELD)


class CallScreen(PhoneScreen):
    """Shows the lines with calls; the selected line is the one the keys act on."""

    BINDINGS = [
        *keypad_bindings(),
        *line_key_bindings(),
        Binding("h", "hold_or_resume", "Hold", show=False, id="hold"),
        Binding("t", "transfer", "Transfer", show=False, id="transfer"),
        Binding("u", "mute", "Mute", show=False, id="mute"),
        Binding("c", "conference", "Conference", show=False, id="conference"),
        Binding("r", "record", "Record", show=False, id="record"),
        Binding("escape", "end", "End", show=False, id="end"),
        Binding("enter", "send", "Send", show=False, id="send"),
        Binding("backspace", "delete", "Delete", show=False, id="delete"),
        Binding("up", "move(-1)", "Previous line", show=False, id="previous-line"),
        Binding("down", "move(1)", "Next line", show=False, id="next-line"),
        Binding("m", "open_menu", "Menu", show=False, id="menu"),
        Binding("d", "app.toggle_dnd", "DND", show=False, id="dnd"),
        Binding("f", "forward", "Forward", show=False, id="forward"),
    ]
    DEFAULT_CSS = """
    CallScreen #call-body { height: 1fr; }
    CallScreen #calls { width: 1fr; height: 1fr; }
    CallScreen #conference-members { height: auto; padding: 0 1; color: $accent; text-style: bold; display: none; }
    CallScreen #conference-members.-open { display: block; }
    CallScreen #transfer-entry { height: auto; border: round $warning; padding: 0 1; display: none; }
    CallScreen #transfer-entry.-open { display: block; }
    """

    def __init__(self, selected: int | None = None) -> None:
        super().__init__()
        self.selected = selected
        self.transferring = False
        self.transfer_digits = ""

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal(id="call-body"):
            yield LineKeys(self.app.phone.max_lines, blink=self.app.blink, selected=self.selected)
            with Vertical(id="calls-column"):
                yield Static("", id="conference-members", markup=False)
                yield VerticalScroll(id="calls")
                yield Static("", id="transfer-entry", markup=False)
                yield Static(t("call.hint"), classes="hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.app.lines_changed.subscribe(self, lambda _: self.redraw())
        self.set_interval(QUALITY_POLL_SECONDS, self.poll)
        self.redraw()

    async def relabel(self) -> None:
        await super().relabel()
        self.redraw()

    def on_screen_resume(self) -> None:
        self.redraw()

    # ----- state ---------------------------------------------------------------------------------
    def view(self):
        return self.app.lines.get(self.selected) if self.selected is not None else None

    def _pick_selected(self) -> None:
        lines = self.app.lines
        if self.selected in lines:
            return
        talking = [n for n, v in sorted(lines.items()) if v.call.state == LineState.TALKING]
        active = self.app.active_lines()
        self.selected = (talking or active or sorted(lines) or [None])[0]
        self.transferring = False

    def select_line(self, line: int) -> None:
        if line in self.app.lines:
            self.selected = line
            self.transferring = False
            self.redraw()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        view = self.view()
        if view is None:
            return ()
        if self.transferring:
            return (SoftKey("key.send", "send"), SoftKey("key.delete", "delete") if self.transfer_digits else None,
                    None, SoftKey("key.cancel", "end"))
        state = view.call.state
        if state == LineState.RINGING:
            return (SoftKey("key.answer", "answer"), SoftKey("key.reject", "reject"))
        if state not in _IN_CALL:
            return (None, None, None, SoftKey("key.end", "end"))
        mute = SoftKey("key.unmute" if view.call.muted else "key.mute", "mute")
        if view.call.conference:
            members = self.members()
            held = all(v.call.state == LineState.HELD for v in members)
            return (SoftKey("key.resume_conf" if held else "key.hold_conf", "hold_conference"),
                    SoftKey("key.split", "split_conference"), SoftKey("key.end_conf", "end_conference"),
                    SoftKey("key.leave_conf", "leave_conference"), mute)
        hold = SoftKey("key.resume", "hold_or_resume") if state == LineState.HELD else SoftKey("key.hold",
                                                                                             "hold_or_resume")
        if len([v for v in self.app.lines.values() if v.call.state in _IN_CALL]) >= 2:
            return (hold, SoftKey("key.conf", "conference"), SoftKey("key.end", "end"),
                    SoftKey("key.transfer", "transfer"), mute)
        return (hold, SoftKey("key.transfer", "transfer"), mute, SoftKey("key.end", "end"))

    def members(self) -> list:
        """The lines in the local conference."""
        return [v for _, v in sorted(self.app.lines.items()) if v.call.conference]

    def redraw(self) -> None:
        """Draw every line from the app's state; leave when no call is left."""
        if not self.app.active_lines():
            if self.app.screen is self:
                self.dismiss()
            return
        self._pick_selected()
        now = self.app.clock()
        box = self.query_one("#calls", VerticalScroll)
        panels = {p.line: p for p in box.query(CallPanel)}
        for line in list(panels):
            if line not in self.app.lines:
                panels.pop(line).remove()
        for line, view in sorted(self.app.lines.items()):
            panel = panels.get(line)
            if panel is None:
                panel = CallPanel(line)
                box.mount(panel)
            panel.show(view, now, line == self.selected)
        self.query_one(LineKeys).select(self.selected)
        members = self.members()
        conference = self.query_one("#conference-members", Static)
        conference.set_class(bool(members), "-open")
        if members:
            conference.update(t("call.conference", count=len(members) + 1,
                                names=", ".join(party(v.call, self.app.name_for(v.call.remote_number))
                                                for v in members)))
        entry = self.query_one("#transfer-entry", Static)
        entry.set_class(self.transferring, "-open")
        if self.transferring:
            entry.update(t("call.transfer_entry", line=self.selected, number=self.transfer_digits or "_"))
        self.refresh_soft_keys()

    def poll(self) -> None:
        """Once a second: ask the engine for each talking call's quality, and redraw the durations."""
        for line, view in list(self.app.lines.items()):
            if view.call.state == LineState.TALKING:    # a held call has no media: keep its last numbers
                self.app.command(self.app.phone.quality(line), done=lambda q, n=line: self._got_quality(n, q),
                                 failed=lambda _: None)    # the call ended meanwhile: nothing to show
        self.redraw()

    def _got_quality(self, line: int, quality) -> None:
        view = self.app.lines.get(line)
        if view is not None and quality is not None:
            view.quality = quality
            self.redraw()

    # ----- keys ----------------------------------------------------------------------------------
    def _run(self, future) -> None:
        self.app.command(future)

    def action_digit(self, digit: str) -> None:
        view = self.view()
        if view is None:
            return
        if self.transferring:
            self.transfer_digits += digit
            self.redraw()
        elif view.call.state == LineState.TALKING:
            view.dtmf_sent += digit
            self._run(self.app.phone.send_dtmf(view.call.line, digit))
            self.redraw()

    def action_hold_or_resume(self) -> None:
        view = self.view()
        if view is None:
            return
        if view.call.state == LineState.TALKING:
            self._run(self.app.phone.hold(view.call.line))
        elif view.call.state == LineState.HELD:
            self._run(self.app.phone.resume(view.call.line))

    def action_mute(self) -> None:
        view = self.view()
        if view is not None and view.call.state in _IN_CALL:
            self._run(self.app.phone.mute(view.call.line, not view.call.muted))

    def action_transfer(self) -> None:
        view = self.view()
        if view is not None and view.call.state in _IN_CALL:
            self.transferring = True
            self.transfer_digits = ""
            self.redraw()

    def action_send(self) -> None:
        """Enter: in a transfer, send it (blind) to the number typed."""
        view = self.view()
        if not self.transferring or view is None or not self.transfer_digits:
            return
        line, target = view.call.line, self.transfer_digits
        self.transferring = False
        view.transfer_to = target       # for the call's history entry
        self.redraw()
        self._run(self.app.phone.blind_transfer(line, target))

    def action_delete(self) -> None:
        if self.transferring and self.transfer_digits:
            self.transfer_digits = self.transfer_digits[:-1]
            self.redraw()

    def action_end(self) -> None:
        """Escape / END: leave the transfer entry, else hang up the selected line."""
        if self.transferring:
            self.transferring = False
            self.redraw()
            return
        view = self.view()
        if view is not None:
            self._run(self.app.phone.hangup(view.call.line))

    def action_answer(self) -> None:
        view = self.view()
        if view is not None and view.call.state == LineState.RINGING:
            self._run(self.app.phone.answer(view.call.line))

    def action_reject(self) -> None:
        view = self.view()
        if view is not None and view.call.state == LineState.RINGING:
            self._run(self.app.phone.reject(view.call.line, 486))

    def action_move(self, step: int) -> None:
        lines = sorted(self.app.lines)
        if lines and self.selected in lines:
            self.select_line(lines[(lines.index(self.selected) + step) % len(lines)])

    def action_line_key(self, position: int) -> None:
        """alt+N or a click: key N of the column does what its mode says."""
        press_key(self.app, position, self.press_line)

    def press_line(self, line: int) -> None:
        """A line key: attended transfer to it while transferring, else switch to it (the others hold)."""
        view = self.app.lines.get(line)
        current = self.view()
        if self.transferring and current is not None and view is not None and line != current.call.line:
            self.transferring = False
            self.redraw()
            view.transfer_to = party(current.call, self.app.name_for(current.call.remote_number))
            # REFER goes to the held party (the transferee), Replaces names our call with the target
            self._run(self.app.phone.attended_transfer(line, current.call.line))
            return
        if view is None:
            from tuiphone.screens.dialer import DialerScreen

            if not self.app.locked:     # a locked phone takes calls but makes none
                self.app.push_screen(DialerScreen(off_hook=True))
            return
        self.select_line(line)
        if view.call.state == LineState.HELD:
            self._run(self.app.phone.resume(line))
        elif view.call.state == LineState.RINGING:
            self._run(self.app.phone.answer(line))

    def action_record(self) -> None:
        """r: record the selected call to WAV, or stop; the engine says where the file went."""
        view = self.view()
        if view is not None and view.call.state in _IN_CALL:
            on = not view.call.recording
            self.app.command(self.app.phone.record(view.call.line, on),
                             done=lambda path: self.app.notify(t("call.recorded", path=path), markup=False)
                             if path and not on else None)

    # ----- conference (seed 2.14–2.16) ------------------------------------------------------------------
    def action_conference(self) -> None:
        """CONF: join every call (talking or held) into one local conference."""
        self.app.command(self.app.phone.conference(None))

    def action_split_conference(self) -> None:
        """Split: each member on its own line again; the chosen one stays talking, the others hold."""
        self._run(self.app.phone.split_conference(self.selected))

    def action_hold_conference(self) -> None:
        members = self.members()
        if members:
            self._run(self.app.phone.hold_conference(any(v.call.state == LineState.TALKING for v in members)))

    def action_end_conference(self) -> None:
        self._run(self.app.phone.end_conference())

    def action_leave_conference(self) -> None:
        """Leave the other two talking to each other (the engine transfers them)."""
        self._run(self.app.phone.leave_conference())

    def action_forward(self) -> None:
        """f: send the selected ringing call elsewhere; with no call ringing, the forwarding settings."""
        view = self.view()
        if view is not None and view.call.state == LineState.RINGING:
            ask_forward_call(self.app, view.call.line)
        elif not self.app.locked:
            open_forwarding(self.app)

    def action_open_menu(self) -> None:
        from tuiphone.screens.menu import main_menu

        if not self.app.locked:
            self.app.push_screen(main_menu())

    def on_line_keys_pressed(self, message: LineKeys.Pressed) -> None:
        self.action_line_key(message.line)
