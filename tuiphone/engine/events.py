"""Frozen events the engine emits. Subscribers get them on the SIP thread and must not block."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar, cast, dataclass_transform

E = TypeVar("E", bound=type)


class FrozenEvent:
    """What every event is: a dataclass that cannot be changed once made, compared and hashed by its fields
    and shown as a frozen dataclass is (`CallState(line=1, state=...)`).

    Written once here rather than generated for each class: `@dataclass(frozen=True)` compiles six methods a
    class, and for these 14 classes that was ~9 ms of importing this module, the largest single part of every
    front-end's start (bench/attach.py); each class now compiles its `__init__` only.
    tests/engine/test_events.py checks each against the frozen dataclass it stands for."""

    __slots__ = ()
    _shown: tuple[str, ...] = ()        # per class, from its fields (set by @event): those repr shows, those compared
    _compared: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__ or name not in self.__dataclass_fields__:       # type: ignore[attr-defined]
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)          # the dataclass's __init__, once for each field

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._compared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__qualname__}({shown})"


@dataclass_transform(frozen_default=True)
def event(cls: E) -> E:
    """@event: the class as a dataclass on FrozenEvent (its __init__ made; compare, hash, repr and frozen from
    FrozenEvent)."""
    made: Any = dataclass(eq=False, repr=False)(cls)
    made._shown = tuple(f.name for f in fields(made) if f.repr)
    made._compared = tuple(f.name for f in fields(made) if f.compare)
    return cast(E, made)


class LineState(str, Enum):  # noqa: UP042 (a StrEnum would change what str() of a state gives)
    IDLE = "idle"
    DIALING = "dialing"
    CALLING = "calling"      # outgoing, INVITE sent, no answer yet
    RINGING = "ringing"      # incoming, 180 sent
    TALKING = "talking"
    HELD = "held"            # held by us
    ENDED = "ended"


@event
class RegState(FrozenEvent):
    account: int             # 0-based index into config accounts
    registered: bool
    sip_status: int
    reason: str
    expires: int
    server: str              # the registrar in use (primary or secondary)


@event
class CallState(FrozenEvent):
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


@event
class IncomingCall(FrozenEvent):
    line: int
    account: int | None
    remote_uri: str
    remote_name: str
    remote_number: str
    source: str              # "ip:port" the INVITE came from
    ringtone: str = ""       # distinctive ring: the first matching ring rule, else the account's ringtone
    auto_answer: bool = False
    call_id: str = ""


@event
class DtmfReceived(FrozenEvent):
    line: int
    digit: str
    method: str              # "rfc2833" | "info"


@event
class TransferProgress(FrozenEvent):
    line: int
    sip_status: int
    reason: str
    final: bool


@event
class SipMessage(FrozenEvent):
    time: float
    direction: str           # "in" | "out"
    transport: str           # "UDP" | "TCP" | "TLS"
    remote: str              # "ip:port" of the other side
    first_line: str
    call_id: str
    text: str = field(repr=False)


@event
class FeaturesChanged(FrozenEvent):
    """The phone-wide call features (status bar icons, menu state)."""
    dnd: bool
    call_waiting: bool
    forward_always: str
    forward_busy: str
    forward_no_answer: str
    anonymous: tuple[bool, ...]          # per account
    blocklist: tuple[str, ...]


@event
class CallStarted(FrozenEvent):
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


@event
class CallLogEntry(FrozenEvent):
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


@event
class GhostCall(FrozenEvent):
    """An INVITE refused by the ghost-call checks (seed 3.4): it never rang."""
    account: int | None
    source: str
    sip_status: int
    reason: str
    total: int                           # refused so far since start


@event
class Mwi(FrozenEvent):
    """Message waiting (RFC 3842) for one account: the voicemail light and counts."""
    account: int | None
    waiting: bool
    new: int
    old: int


@event
class Blf(FrozenEvent):
    """A BLF key's monitored extension (seed 2.6)."""
    key: int                             # index into config keys
    extension: str
    state: str                           # idle | ringing | busy | offline | unknown


@event
class Notice(FrozenEvent):
    """Something the user should read: a sentence, never a traceback."""
    text: str
    level: str = "info"      # info | warning | error


@event
class PageState(FrozenEvent):
    """A multicast page starting or ending (seed 3.5): sent by us ("out") or played from a group ("in")."""
    direction: str                       # "in" | "out"
    address: str                         # the group, "addr:port"
    label: str                           # the group's or paging key's label; "" when none
    active: bool                         # True while the page plays or is sent


Event = (RegState | CallState | IncomingCall | DtmfReceived | TransferProgress | SipMessage | Notice
         | FeaturesChanged | CallStarted | CallLogEntry | GhostCall | Mwi | Blf
         | PageState)
