"""Frozen events the engine emits. Subscribers get them on the SIP thread and must not block."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class LineState(str, Enum):  # noqa: UP042 (a StrEnum would change what str() of a state gives)
    IDLE = "idle"
    DIALING = "dialing"
    CALLING = "calling"      # outgoing, INVITE sent, no answer yet
    RINGING = "ringing"      # incoming, 180 sent
    TALKING = "talking"
    HELD = "held"            # held by us
    ENDED = "ended"


@dataclass(frozen=True)
class RegState:
    account: int             # 0-based index into config accounts
    registered: bool
    sip_status: int
    reason: str
    expires: int
    server: str              # the registrar in use (primary or secondary)


@dataclass(frozen=True)
class CallState:
    line: int                # 1-based line number
    state: LineState
    direction: str           # "out" | "in"
    account: int | None      # None = direct (no account)
    remote_uri: str
    remote_name: str
    remote_number: str
    sip_status: int = 0
    reason: str = ""
    remote_hold: bool = False
    muted: bool = False
    codec: str = ""
    conference: bool = False     # a member of the local conference
    recording: bool = False
    call_id: str = ""            # the SIP Call-ID


@dataclass(frozen=True)
class IncomingCall:
    line: int
    account: int | None
    remote_uri: str
    remote_name: str
    remote_number: str
    source: str              # "ip:port" the INVITE came from
    ringtone: str = ""       # distinctive ring: the first matching ring rule, else the account's ringtone
    auto_answer: bool = False
    call_id: str = ""


@dataclass(frozen=True)
class DtmfReceived:
    line: int
    digit: str
    method: str              # "rfc2833" | "info"


@dataclass(frozen=True)
class TransferProgress:
    line: int
    sip_status: int
    reason: str
    final: bool


@dataclass(frozen=True)
class SipMessage:
    time: float
    direction: str           # "in" | "out"
    transport: str           # "UDP" | "TCP" | "TLS"
    remote: str              # "ip:port" of the other side
    first_line: str
    call_id: str
    text: str = field(repr=False)


@dataclass(frozen=True)
class FeaturesChanged:
    """The phone-wide call features (status bar icons, menu state)."""
    dnd: bool
    call_waiting: bool
    forward_always: str
    forward_busy: str
    forward_no_answer: str
    anonymous: tuple[bool, ...]          # per account
    blocklist: tuple[str, ...]


@dataclass(frozen=True)
class CallStarted:
    """A call got a line (ringing in, or dialed out): its history row can be written now, so a crash
    cannot lose it. The CallLogEntry that ends the call carries the same `key`."""
    key: str                             # the line's history key, unique per call
    line: int
    direction: str                       # "in" | "out"
    account: int | None
    remote_uri: str
    remote_name: str
    remote_number: str
    started: float                       # wall-clock time the call began


@dataclass(frozen=True)
class CallLogEntry:
    """One finished call for the history: emitted when a line ends or a call is turned away."""
    direction: str                       # "in" | "out"
    account: int | None
    remote_uri: str
    remote_name: str
    remote_number: str
    started: float                       # wall-clock time the call began
    duration_s: float                    # talk time; 0 when never answered
    disposition: str                     # answered | missed | rejected | busy | forwarded | dnd | blocked | failed
    reason: str = ""
    key: str = ""                        # the CallStarted of this call; "" for a call turned away (it had no line)


@dataclass(frozen=True)
class GhostCall:
    """An INVITE refused by the ghost-call checks (seed 3.4): it never rang."""
    account: int | None
    source: str
    sip_status: int
    reason: str
    total: int                           # refused so far since start


@dataclass(frozen=True)
class Mwi:
    """Message waiting (RFC 3842) for one account: the voicemail light and counts."""
    account: int | None
    waiting: bool
    new: int
    old: int


@dataclass(frozen=True)
class Blf:
    """A BLF key's monitored extension (seed 2.6)."""
    key: int                             # index into config keys
    extension: str
    state: str                           # idle | ringing | busy | offline | unknown


@dataclass(frozen=True)
class Notice:
    """Something the user should read: a sentence, never a traceback."""
    text: str
    level: str = "info"      # info | warning | error


@dataclass(frozen=True)
class PageState:
    """A multicast page starting or ending (seed 3.5): sent by us ("out") or played from a group ("in")."""
    direction: str                       # "in" | "out"
    address: str                         # the group, "addr:port"
    label: str                           # the group's or paging key's label; "" when none
    active: bool                         # True while the page plays or is sent


Event = (RegState | CallState | IncomingCall | DtmfReceived | TransferProgress | SipMessage | Notice
         | FeaturesChanged | CallStarted | CallLogEntry | GhostCall | Mwi | Blf
         | PageState)
