"""The local conference (seed 2.14–2.16): lines mixed in pjsua's bridge, split, held, ended or left.

Runs on the SIP thread, like the rest of the phone logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuiphone.engine.events import LineState
from tuiphone.engine.lines import Line
from tuiphone.engine.phone_error import PhoneError
from tuiphone.engine.phone_part import PhonePart

if TYPE_CHECKING:
    from tuiphone.engine.phone import Phone


class Conference(PhonePart):
    def __init__(self, phone: Phone) -> None:
        super().__init__(phone)
        self.table = phone.line_table

    def members(self) -> list[Line]:
        return [ln for ln in self.table.numbers.values() if ln.conference]

    def join(self, lines: list[int] | None) -> list[int]:
        """Join lines (default: every talking or held line) into one local conference and talk to all of them."""
        table = self.table
        members = [table.get(n) for n in lines] if lines is not None else [
            ln for ln in table.numbers.values() if ln.state in (LineState.TALKING, LineState.HELD)]
        members += [ln for ln in table.numbers.values() if ln.conference and ln not in members]
        if len(members) < 2:
            raise PhoneError("A conference needs at least two calls: hold one and call another.", "failed")
        limit = self.phone.config.features.conference_max
        if len(members) + 1 > limit:
            raise PhoneError(f"A conference holds at most {limit} parties (features.conference_max).", "failed")
        for ln in members:
            if ln.state not in (LineState.TALKING, LineState.HELD):
                raise PhoneError(f"Line {ln.number} is not in a call yet.", "failed")
        # a talking member stays up: holding it and resuming it at once raced two re-INVITEs, and the
        # resume could lose (the member then sat on hold, hearing no one)
        table.hold_others(None, spare=frozenset(ln.number for ln in members))
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                self.backend.link(a.cid, b.cid, True)
        for ln in members:
            ln.conference = True
            if ln.state == LineState.HELD:
                self.backend.unhold(ln.cid)
                ln.state = LineState.TALKING
            self.phone._emit(ln.snapshot())
        return sorted(ln.number for ln in members)

    def split(self, keep: int | None) -> None:
        """Break the conference into separate lines; `keep` stays talking (talk to one member alone), the rest hold."""
        members = self.members()
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                self.backend.link(a.cid, b.cid, False)
        for ln in members:
            ln.conference = False
            if ln.number != keep and ln.state == LineState.TALKING:
                self.backend.hold(ln.cid)
                ln.state = LineState.HELD
            self.phone._emit(ln.snapshot())

    def hold(self, on: bool) -> None:
        """Hold (or resume) every member at once; they keep hearing each other? No: held calls carry no audio."""
        for ln in self.members():
            if on and ln.state == LineState.TALKING:
                self.backend.hold(ln.cid)
                ln.state = LineState.HELD
            elif not on and ln.state == LineState.HELD:
                self.backend.unhold(ln.cid)
                ln.state = LineState.TALKING
            self.phone._emit(ln.snapshot())
        if not on:
            self.table.hold_others(next((ln.number for ln in self.members()), None))

    def end(self) -> None:
        for ln in self.members():
            self.backend.hangup(ln.cid)

    def leave(self) -> None:
        """The initiator leaves and the other two keep talking (an attended transfer between them)."""
        members = self.members()
        if len(members) != 2:
            raise PhoneError("Leaving a conference keeps the others talking only when two others are left; "
                             "end it or split it instead.", "failed")
        a, b = members
        self.phone.transfers.attended(a, b)
