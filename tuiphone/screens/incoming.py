"""The ringing prompt: a modal over any screen that dismisses with "answer", "reject" or None (caller gone)."""

from __future__ import annotations

from typing import Self

from textual import events
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiphone.engine.events import IncomingCall, LineState
from tuiphone.i18n import t
from tuiphone.screen_updates import repaint_as_drawn, resume_as_left, resumed_as_left, whole_repaint
from tuiphone.screens.base import repaint_now
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import account_label

ANSWER, REJECT, FORWARD = "answer", "reject", "forward"


class IncomingCallScreen(ModalScreen[str | None]):
    """Who calls, on which account and line; Answer (F1, Enter), Reject (F2, Esc), Forward (F3) to a number,
    Silence (F4) the ringer and let it ring on. Never blocks the engine.

    The app keeps one installed and gives it each call with `ring()`: a call then costs new text in lines of a
    fixed size and the push, not composing and laying out a screen while the caller waits."""

    AUTO_FOCUS = ""     # nothing on it takes focus: Textual would search the whole screen at each push

    BINDINGS = [
        Binding("f1", "choose('answer')", "Answer", show=False, id="soft-key-1"),
        Binding("enter", "choose('answer')", "Answer", show=False, id="answer"),
        Binding("f2", "choose('reject')", "Reject", show=False, id="soft-key-2"),
        Binding("escape", "choose('reject')", "Reject", show=False, id="reject"),
        Binding("f3", "forward", "Forward", show=False, id="soft-key-3"),
        Binding("f", "forward", "Forward", show=False, id="forward"),
        Binding("f4", "silence", "Silence", show=False, id="soft-key-4"),
    ]
    # each line is one row whatever its text (a long name or URI ends in "…"), so a new call lays nothing out
    DEFAULT_CSS = """
    IncomingCallScreen { align: center middle; }
    IncomingCallScreen > Vertical { width: 64; height: auto; border: thick $success; background: $surface;
                                    padding: 1 2; }
    IncomingCallScreen Vertical > Static { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    IncomingCallScreen #ring-title { text-style: bold; color: $success; }
    IncomingCallScreen #ring-caller { text-style: bold; margin: 1 0 0 0; }
    IncomingCallScreen #ring-waiting { color: $warning; }
    IncomingCallScreen SoftKeyBar { dock: none; margin-top: 1; }
    """

    def __init__(self, call: IncomingCall | None = None, *, waiting: int = 0) -> None:
        super().__init__()
        self.call = call
        self.waiting = waiting
        self.chosen = call is None       # nothing to choose until a call rings
        self.silenced = False
        self.asking: ModalScreen | None = None     # the Forward question, while it is open

    def ring(self, call: IncomingCall, *, waiting: int = 0) -> None:
        """Show this call (the screen is pushed next); what the last call chose is forgotten."""
        self.call, self.waiting = call, waiting
        self.chosen = self.silenced = False
        self.asking = None
        if self.is_mounted:
            self._show_call()

    def compose(self) -> ComposeResult:
        with Vertical():
            for name in ("title", "caller", "uri", "account", "waiting"):
                yield Static(id=f"ring-{name}", markup=False)
            yield SoftKeyBar()

    def on_mount(self) -> None:
        self._show_call()
        self.app.lines_changed.subscribe(self, self._line_changed)
        self.app.language_changed.subscribe(self, lambda _: self._relabel())

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        """Before Screen's own handler (this class's runs first, and instead of an `on_screen_resume`)."""
        self._line_changed(None)     # the caller may have gone (and the next call taken the line) before it was up
        # it keeps its styles and drawn lines while it waits between calls: its text needs no restyle
        resume_as_left(self, event)

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> Self:
        if whole_repaint(regions, repaint, layout, recompose) and resumed_as_left(self):
            repaint_as_drawn(self)
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _show_call(self) -> None:
        call = self.call
        if call is None:
            return
        for name, text in (("title", t("ring.title", line=call.line)), ("caller", self.caller_text()),
                           ("uri", call.remote_uri), ("account", self.account_text()),
                           ("waiting", self.waiting_text())):
            self.query_one(f"#ring-{name}", Static).update(text, layout=False)
        self._label_keys()

    def soft_keys(self) -> list[SoftKey | None]:
        forward = SoftKey("key.forward", "forward") if self.app.can_forward() else None
        silence = SoftKey("key.silence", "silence") if self.app.can_silence() and not self.silenced else None
        return [SoftKey("key.answer", "choose('answer')"), SoftKey("key.reject", "choose('reject')"), forward, silence]

    def _label_keys(self) -> None:
        self.query_one(SoftKeyBar).show_keys(self.soft_keys())

    async def _relabel(self) -> None:
        await self.recompose()
        self._show_call()
        repaint_now(self)

    def caller_text(self) -> str:
        """The phonebook's name for the number, else the name the caller sent, and the number."""
        call = self.call
        assert call is not None
        name = self.app.name_for(call.remote_number) or call.remote_name
        if name and call.remote_number and name != call.remote_number:
            return f"{name} <{call.remote_number}>"
        return name or call.remote_number or t("ring.unknown")

    def account_text(self) -> str:
        assert self.call is not None
        index = self.call.account
        if index is None or index >= len(self.app.config.accounts):
            return t("ring.direct")
        return t("ring.account", account=account_label(index, self.app.config.accounts[index]))

    def waiting_text(self) -> str:
        return t("ring.waiting", count=self.waiting) if self.waiting else ""

    def set_waiting(self, count: int) -> None:
        self.waiting = count
        if self.is_mounted:
            self.query_one("#ring-waiting", Static).update(self.waiting_text(), layout=False)

    def _line_changed(self, line: int | None) -> None:
        if self.call is None or self.chosen or self not in self.app.screen_stack:
            return      # no call on it now (the prompt waits, installed, for the next)
        view = self.app.lines.get(self.call.line)
        if view is None or view.call.state != LineState.RINGING or not self._same_call(view.call.call_id):
            self.choose(None)    # the caller hung up, or the call was answered elsewhere (CTI)

    def _same_call(self, call_id: str) -> bool:
        """Whether the line still rings with this prompt's call (not the next one on the same line)."""
        assert self.call is not None
        return not (call_id and self.call.call_id) or call_id == self.call.call_id

    def choose(self, choice: str | None) -> None:
        if not self.chosen:
            self.chosen = True
            if self.asking is not None and self.app.screen is self.asking:
                self.asking.dismiss(None)     # dismiss pops the top screen: the question goes first
            self.dismiss(choice)

    def dismiss(self, result: str | None = None) -> AwaitComplete:
        self.chosen = True      # however it closes, this call is done with: the next ring() starts afresh
        return super().dismiss(result)

    def action_choose(self, choice: str) -> None:
        self.choose(choice)

    def action_forward(self) -> None:
        """Ask where to send the call; the engine redirects it (302) and the prompt closes."""
        from tuiphone.screens.prompt import TextPromptScreen, check_target

        if not self.app.can_forward() or self.chosen:
            return
        features = self.app.features_now()
        self.asking = TextPromptScreen(t("ring.forward_to"), value=features.forward_no_answer
                                       or features.forward_busy, check=check_target)
        self.app.push_screen(self.asking, self._forward_to)

    def _forward_to(self, target: str | None) -> None:
        self.asking = None
        if target and not self.chosen and self.call is not None:
            self.app.forward_call(self.call.line, target)
            self.choose(FORWARD)

    def action_silence(self) -> None:
        if self.app.can_silence() and not self.silenced:
            self.silenced = True
            self.app.silence_ringer()
            self._label_keys()

    async def on_soft_key_bar_pressed(self, message: SoftKeyBar.Pressed) -> None:
        key = self.soft_keys()[message.index - 1]
        if key is not None:
            await self.run_action(key.action)
