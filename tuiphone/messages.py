"""The Textual message that carries engine events into the UI.

The engine hands events to subscribers on the SIP thread; `EngineBridge` wraps each in one `EngineEvent`
and `post_message`s it to the app (thread-safe), so no UI code runs on the SIP thread. The app's
`on_engine_event` dispatches on the event's type.

The queue is first in, first out, so the app sees a line's events in the order the engine sent them. The
high-rate events merge while they wait there (Textual's `can_replace`, which only ever looks at the next
message in the queue): a BLF key's newer state replaces the older one for the same key, a call's newer
CallState the older one while its state stays the same (a ringing call's 100 Trying, then 180 Ringing), and SIP
messages for the trace screen travel together in one message (none is dropped: the trace keeps every one).
"""

from __future__ import annotations

import logging

from textual.message import Message
from textual.message_pump import MessagePump

from tuiphone.engine.events import (
    Blf,
    CallLogEntry,
    CallStarted,
    CallState,
    DtmfReceived,
    Event,
    FeaturesChanged,
    GhostCall,
    IncomingCall,
    Mwi,
    Notice,
    PageState,
    RegState,
    SipMessage,
    TransferProgress,
)

log = logging.getLogger(__name__)

# the events the UI shows; the others (e.g. the CTI's own) are not posted
SHOWN: tuple[type, ...] = (RegState, CallState, IncomingCall, DtmfReceived, TransferProgress, SipMessage,
                           Notice, FeaturesChanged, CallStarted, CallLogEntry, Mwi, GhostCall, PageState, Blf)


class EngineEvent(Message):
    """One engine event (or a run of SIP messages merged in the queue) for the app."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
        self.earlier: list[Event] = []      # SIP messages merged into this one, oldest first

    @property
    def events(self) -> list[Event]:
        """Every event this message carries, oldest first."""
        return [*self.earlier, self.event]

    def can_replace(self, message: Message) -> bool:
        """Whether `message`, queued right behind this one, may stand in for it (Textual then drops this one)."""
        if not isinstance(message, EngineEvent) or type(message.event) is not type(self.event):
            return False
        if isinstance(self.event, Blf) and isinstance(message.event, Blf):
            return self.event.key == message.event.key     # the key shows only its newest state
        if isinstance(self.event, SipMessage):
            message.earlier[:0] = self.events              # the trace keeps them all
            return True
        if isinstance(self.event, CallState) and isinstance(message.event, CallState):
            older, newer = self.event, message.event          # the line shows only the newest of one state
            return (newer.line, newer.call_id, newer.state) == (older.line, older.call_id, older.state)
        return False


def message_for(event: Event) -> Message | None:
    """The message that carries `event`, or None for an event the UI does not show."""
    return EngineEvent(event) if type(event) in SHOWN else None


class EngineBridge:
    """An engine subscriber that posts every event to `target` as a message; safe on any thread."""

    def __init__(self, target: MessagePump) -> None:
        self.target = target

    def __call__(self, event: Event) -> None:
        message = message_for(event)
        if message is None:
            return
        try:
            self.target.post_message(message)
        except RuntimeError:
            # the app's loop closed while the SIP thread was still reporting: nobody is left to show it
            log.debug("dropped %s: the UI is gone", type(event).__name__)
