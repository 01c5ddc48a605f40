"""The phone's lines: one Line per call, the table of them (by line number and by call id), one active line,
and the history rows the lines leave (CallStarted when a line takes a call, CallLogEntry when it ends).

SIP thread only, like the rest of the phone logic.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tuiphone.engine.backend import CallMedia, SipBackend
from tuiphone.engine.events import (
    CallLogEntry,
    CallStarted,
    CallState,
    Event,
    LineState,
)
from tuiphone.engine.phone_error import PhoneError


@dataclass
class Line:
    number: int
    cid: int
    direction: str
    account: int | None
    remote_uri: str
    remote_name: str = ""
    remote_number: str = ""
    state: LineState = LineState.CALLING
    sip_status: int = 0
    reason: str = ""
    remote_hold: bool = False
    muted: bool = False
    codec: str = ""
    media: CallMedia = field(default_factory=CallMedia)
    started: float = field(default_factory=time.monotonic)
    wall_start: float = field(default_factory=time.time)
    answered: float | None = None
    forwarded: bool = False
    conference: bool = False
    recording: bool = False
    call_id: str = ""
    dtmf_received: list[str] = field(default_factory=list)
    history_key: str = field(default_factory=lambda: uuid.uuid4().hex)   # one history row per call
    end_reason: str = ""          # why the phone itself ended the call (dead media), for the screen and history

    def snapshot(self) -> CallState:
        return CallState(line=self.number, state=self.state, direction=self.direction, account=self.account,
                         remote_uri=self.remote_uri, remote_name=self.remote_name,
                         remote_number=self.remote_number, sip_status=self.sip_status, reason=self.reason,
                         remote_hold=self.remote_hold, muted=self.muted, codec=self.codec,
                         conference=self.conference, recording=self.recording, call_id=self.call_id)


class LineTable:
    """The lines in use, by line number (`numbers`) and by the stack's call id (`cids`)."""

    def __init__(self, backend: SipBackend, max_lines: int, emit: Callable[[Event], None]) -> None:
        self.backend = backend
        self.max_lines = max_lines
        self._emit = emit
        self.numbers: dict[int, Line] = {}
        self.cids: dict[int, Line] = {}

    def get(self, number: int) -> Line:
        line = self.numbers.get(number)
        if line is None:
            raise PhoneError(f"Line {number} has no call.", "failed")
        return line

    def free(self) -> int | None:
        for n in range(1, self.max_lines + 1):
            if n not in self.numbers:
                return n
        return None

    def add(self, line: Line) -> None:
        self.numbers[line.number] = line
        self.cids[line.cid] = line

    def ringing(self) -> set[int]:
        return {ln.number for ln in self.numbers.values() if ln.state == LineState.RINGING}

    def hold_others(self, keep: int | None, spare: frozenset[int] = frozenset()) -> None:
        """One active line: every other talking line goes on hold (a whole conference, when `keep` is a member;
        never the lines in `spare`)."""
        keep_conf = keep is not None and self.numbers.get(keep) is not None and self.numbers[keep].conference
        for line in self.numbers.values():
            if line.number == keep or line.number in spare or (keep_conf and line.conference):
                continue
            if line.state == LineState.TALKING:
                self.backend.hold(line.cid)
                line.state = LineState.HELD
                self._emit(line.snapshot())

    # ----- history ---------------------------------------------------------------------------------
    def log_call(self, direction: str, account: int | None, uri: str, name: str, number: str, started: float,
                 duration: float, disposition: str, reason: str = "", key: str = "") -> None:
        self._emit(CallLogEntry(direction=direction, account=account, remote_uri=uri, remote_name=name,
                                remote_number=number, started=started, duration_s=round(duration, 2),
                                disposition=disposition, reason=reason, key=key))

    def call_started(self, line: Line) -> None:
        """A line took a call: its history row can be written now (the CallLogEntry at its end has the key)."""
        self._emit(CallStarted(key=line.history_key, line=line.number, direction=line.direction,
                               account=line.account, remote_uri=line.remote_uri, remote_name=line.remote_name,
                               remote_number=line.remote_number, started=line.wall_start))

    def log_line(self, line: Line) -> None:
        if line.forwarded:
            return          # logged when it was forwarded
        talk = time.monotonic() - line.answered if line.answered is not None else 0.0
        if line.answered is not None:
            disposition = "answered"
        elif line.direction == "in":
            disposition = "missed" if line.sip_status in (0, 487) or line.sip_status < 300 else "rejected"
        else:
            disposition = "failed"
        self.log_call(line.direction, line.account, line.remote_uri, line.remote_name, line.remote_number,
                      line.wall_start, talk, disposition,
                      line.end_reason or f"{line.sip_status} {line.reason}".strip(), line.history_key)
