"""How the phone's UI follows the engine: one handler per type of engine event (PhoneApp inherits them).

Every engine event reaches the app as one EngineEvent message (messages.py), in the engine's order;
`on_engine_event` hands each to its handler here, which updates what the UI knows (lines, registrations,
features, BLF, pages, the trace) and publishes the app's signals the screens listen to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuiphone.engine.events import (
    Blf,
    CallLogEntry,
    CallStarted,
    CallState,
    DtmfReceived,
    FeaturesChanged,
    GhostCall,
    IncomingCall,
    LineState,
    Mwi,
    Notice,
    PageState,
    RegState,
    SipMessage,
    TransferProgress,
)
from tuiphone.engine.quality import CallQuality
from tuiphone.i18n import t
from tuiphone.logbook import call_summary, log_call, log_registration
from tuiphone.messages import EngineEvent
from tuiphone.screens.idle import CallOutcome, IdleScreen
from tuiphone.screens.lock import LockScreen
from tuiphone.store import MISSED
from tuiphone.widgets.call_panel import format_duration, party


@dataclass
class LineView:
    """What the UI knows of one line beyond the engine's CallState."""

    call: CallState
    talking_since: float | None = None
    quality: CallQuality | None = None
    transfer: TransferProgress | None = None
    transfer_to: str = ""           # who the call was transferred to (as the user gave it)
    dtmf_sent: str = ""
    dtmf_heard: str = ""


# PhoneApp.on_engine_event: the method for each type of engine event
_HANDLERS: dict[type, str] = {
    RegState: "_registration_changed",
    CallState: "_line_changed",
    IncomingCall: "_call_arrived",
    DtmfReceived: "_dtmf_heard",
    TransferProgress: "_transfer_updated",
    SipMessage: "_sip_message_seen",
    Notice: "_notice_posted",
    FeaturesChanged: "_features_updated",
    CallStarted: "_call_began",
    CallLogEntry: "_call_logged",
    Mwi: "_voicemail_changed",
    GhostCall: "_ghost_call_refused",
    PageState: "_page_changed",
    Blf: "_blf_changed",
}


class EngineEventHandlers:
    """The engine-event half of PhoneApp: its state lives on the app (see PhoneApp.__init__)."""

    # what these handlers use of the app, set up by PhoneApp
    lines: dict[int, LineView]
    registrations: dict[int, RegState]
    attached: bool
    phone: Any
    call_outcome: CallOutcome | None
    phone_features: FeaturesChanged | None

    def on_engine_event(self, message: EngineEvent) -> None:
        """Every engine event comes here, in the engine's order; each type has its handler below."""
        for event in message.events:
            handle = getattr(self, _HANDLERS[type(event)])
            handle(event)

    def _registration_changed(self, event: RegState) -> None:
        log_registration(self.registrations.get(event.account), event)
        self.registrations[event.account] = event
        self.status_changed.publish(None)

    def _line_changed(self, call: CallState) -> None:
        log_call(call, self.lines.get(call.line), self.clock())
        if self._history is not None and self._history.line_changed(call):
            self.history_changed.publish(None)
        if call.state == LineState.ENDED:
            view = self.lines.pop(call.line, None)
            self._tell_call_ended(call, view)
        else:
            self._update_line(call)
        self.lines_changed.publish(call.line)
        if self.active_lines() and isinstance(self.screen, (IdleScreen, LockScreen)):
            # a call answered from the ringing prompt, or one the engine started (a REFER we accepted)
            self.show_calls(call.line)

    def _call_arrived(self, event: IncomingCall) -> None:
        self._incoming.append(event)
        self._show_next_incoming()

    def _dtmf_heard(self, event: DtmfReceived) -> None:
        view = self.lines.get(event.line)
        if view is not None:
            view.dtmf_heard += event.digit
            self.lines_changed.publish(event.line)

    def _transfer_updated(self, event: TransferProgress) -> None:
        view = self.lines.get(event.line)
        if view is not None:
            view.transfer = event
            self.lines_changed.publish(event.line)
        if event.final:
            ok = 200 <= event.sip_status < 300
            self.notify(t("transfer.done" if ok else "transfer.failed", line=event.line,
                          status=event.sip_status, reason=event.reason),
                        severity="information" if ok else "error", markup=False)

    def _sip_message_seen(self, event: SipMessage) -> None:
        self.trace.append(event)
        self.trace_added.publish(event)

    def _features_updated(self, event: FeaturesChanged) -> None:
        self.phone_features = event
        self._save_blocklist(event.blocklist)
        self.status_changed.publish(None)

    def _ghost_call_refused(self, _: GhostCall) -> None:
        self.status_changed.publish(None)      # Status › Accounts shows the counts

    def _voicemail_changed(self, event: Mwi) -> None:
        self.voicemail[event.account] = (event.waiting, event.new, event.old)
        self.status_changed.publish(None)

    def _blf_changed(self, event: Blf) -> None:
        self.blf[event.key] = event.state
        self.keys_changed.publish(None)

    def _call_began(self, event: CallStarted) -> None:
        """A call's history row is written as it starts, so a crash cannot lose the call."""
        if self._history is not None and self._history.started(event):
            self.history_changed.publish(None)

    def _call_logged(self, entry: CallLogEntry) -> None:
        """Keep a finished call in the history when its account's `call_log` mode says so."""
        if self.attached:       # the phone process writes the row; the history screen reads it
            if entry.direction == "in" and entry.disposition in MISSED:
                self.missed_unseen += 1
                self.status_changed.publish(None)
            self.history_changed.publish(None)
            return
        if self._history is None or not self._history.ended(entry, call_summary(entry, self.lines.values())):
            return      # not kept, or the store failed (said so)
        if entry.direction == "in" and entry.disposition in MISSED:
            self.missed_unseen += 1
            self.status_changed.publish(None)
        self.history_changed.publish(None)

    def _page_changed(self, event: PageState) -> None:
        """A page started or ended: the status bar mark, a notice when one arrives, the end-page key."""
        if event.direction == "in":
            self.page_in = event if event.active else None
            if event.active:
                text = (t("page.arrived", label=event.label, address=event.address) if event.label
                        else t("page.arrived_group", address=event.address))
                self.notify(text, markup=False)
        else:
            self.page_out = event if event.active else None
        self.refresh_bindings()
        self.status_changed.publish(None)

    def _notice_posted(self, event: Notice) -> None:
        severity = {"error": "error", "warning": "warning"}.get(event.level, "information")
        self.notify(event.text, severity=severity, markup=False)

    def _update_line(self, call: CallState) -> None:
        view = self.lines.get(call.line)
        if view is None:
            view = self.lines[call.line] = LineView(call)
        view.call = call
        if call.state == LineState.TALKING and view.talking_since is None:
            # attached mid-call: the timer goes on from when the phone process saw it answered
            info = self.phone.line_info(call.line) if self.attached else None
            view.talking_since = getattr(info, "talking_since", None) or self.clock()

    def _tell_call_ended(self, call: CallState, view: LineView | None) -> None:
        who = party(call, self.name_for(call.remote_number))
        forwarded_to = self._forwarded_to.pop(call.line, "")
        if view is not None and view.talking_since is not None:
            self._tell_outcome(t("call.ended", who=who, duration=format_duration(self.clock() - view.talking_since)))
        elif call.direction == "in" and call.sip_status >= 300:
            # a call that rang here and was turned away: say what happened to it, not that "it failed"
            if 300 <= call.sip_status < 400:
                text = (t("call.forwarded_to", who=who, target=forwarded_to) if forwarded_to
                        else t("call.forwarded", who=who))
            elif call.sip_status == 487:
                text = t("call.missed", who=who)
            else:
                text = t("call.rejected", who=who, status=call.sip_status)
            self._tell_outcome(text)
        elif call.sip_status >= 300:
            self._tell_outcome(t("call.failed", who=who, status=call.sip_status, reason=call.reason), warning=True)

    def _tell_outcome(self, text: str, warning: bool = False) -> None:
        self.call_outcome = CallOutcome(text, warning, self.clock())
        self.call_outcome_changed.publish(None)

