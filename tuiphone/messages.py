"""Textual messages that carry engine events into the UI.

The engine hands events to subscribers on the SIP thread; `EngineBridge` turns each into one of
these messages and `post_message`s it to the app (thread-safe), so no UI code runs on the SIP thread.
"""

from __future__ import annotations

import logging
from typing import Callable

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


class RegistrationChanged(Message):
    """An account registered, unregistered or failed."""

    def __init__(self, event: RegState) -> None:
        super().__init__()
        self.event = event


class LineChanged(Message):
    """A line changed state (calling, talking, held, ended...)."""

    def __init__(self, event: CallState) -> None:
        super().__init__()
        self.event = event


class CallArrived(Message):
    """A call is ringing on a line (the engine already sent 180)."""

    def __init__(self, event: IncomingCall) -> None:
        super().__init__()
        self.event = event


class DtmfHeard(Message):
    """The far end sent a DTMF digit."""

    def __init__(self, event: DtmfReceived) -> None:
        super().__init__()
        self.event = event


class TransferUpdated(Message):
    """News of a transfer we started (NOTIFY sipfrag)."""

    def __init__(self, event: TransferProgress) -> None:
        super().__init__()
        self.event = event


class SipMessageSeen(Message):
    """One SIP message in or out, for the trace screen."""

    def __init__(self, event: SipMessage) -> None:
        super().__init__()
        self.event = event


class FeaturesUpdated(Message):
    """DND, forwarding or call waiting changed (from a key, a feature code or the CTI)."""

    def __init__(self, event: FeaturesChanged) -> None:
        super().__init__()
        self.event = event


class NoticePosted(Message):
    """A sentence from the engine for the user."""

    def __init__(self, event: Notice) -> None:
        super().__init__()
        self.event = event


class CallBegan(Message):
    """A call got a line: its history row is written now (a crash cannot lose it)."""

    def __init__(self, event: CallStarted) -> None:
        super().__init__()
        self.event = event


class CallLogged(Message):
    """A call finished (or was turned away): a line for the call history."""

    def __init__(self, event: CallLogEntry) -> None:
        super().__init__()
        self.event = event


class VoicemailChanged(Message):
    """Message waiting (MWI) for one account changed."""

    def __init__(self, event: Mwi) -> None:
        super().__init__()
        self.event = event


class GhostCallRefused(Message):
    """An INVITE the ghost-call checks refused; it never rang."""

    def __init__(self, event: GhostCall) -> None:
        super().__init__()
        self.event = event


class BlfChanged(Message):
    """The extension a BLF key watches changed state (idle, ringing, busy, offline)."""

    def __init__(self, event: Blf) -> None:
        super().__init__()
        self.event = event


class PageChanged(Message):
    """A page started or ended: one we send, or one from a group we listen to."""

    def __init__(self, event: PageState) -> None:
        super().__init__()
        self.event = event


_WRAPPERS: dict[type, Callable[[Event], Message]] = {
    RegState: RegistrationChanged,
    CallState: LineChanged,
    IncomingCall: CallArrived,
    DtmfReceived: DtmfHeard,
    TransferProgress: TransferUpdated,
    SipMessage: SipMessageSeen,
    Notice: NoticePosted,
    FeaturesChanged: FeaturesUpdated,
    CallStarted: CallBegan,
    CallLogEntry: CallLogged,
    Mwi: VoicemailChanged,
    GhostCall: GhostCallRefused,
    PageState: PageChanged,
    Blf: BlfChanged,
}


def message_for(event: Event) -> Message | None:
    """The message that carries `event`, or None for an event the UI does not show."""
    wrap = _WRAPPERS.get(type(event))
    return wrap(event) if wrap is not None else None


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
