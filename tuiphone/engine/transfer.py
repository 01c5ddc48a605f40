"""Transfers: blind (REFER), attended (REFER with Replaces), what the far end reports of them (NOTIFY), and
the calls the stack makes for us (a REFER we accepted, an INVITE that Replaces one of ours).

Runs on the SIP thread, like the rest of the phone logic.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tuiphone.engine.events import TransferProgress
from tuiphone.engine.lines import Line
from tuiphone.engine.phone_part import PhonePart
from tuiphone.engine.sipuri import split_name_uri

if TYPE_CHECKING:
    from tuiphone.engine.phone import Phone


class Transfers(PhonePart):
    """The transfers under way: the REFERring call -> its line, and an attended transfer's other leg."""

    def __init__(self, phone: Phone) -> None:
        super().__init__(phone)
        self.line_of: dict[int, int] = {}
        self.consult_leg: dict[int, Line] = {}            # attended transfer: REFER's call -> the other leg

    def blind(self, line: int, target: str) -> None:
        ln = self.phone.line_table.get(line)
        _, uri = self.phone.resolve_target(target, ln.account)
        self.line_of[ln.cid] = line
        self.backend.blind_transfer(ln.cid, uri)

    def attended(self, ln: Line, other: Line) -> None:
        """Connect the party on `ln` with the party on `other` (REFER with Replaces), then leave."""
        self.line_of[ln.cid] = ln.number
        self.consult_leg[ln.cid] = other
        self.backend.attended_transfer(ln.cid, other.cid)

    def forget(self, cid: int) -> None:
        self.line_of.pop(cid, None)
        self.consult_leg.pop(cid, None)

    def on_transfer_status(self, cid: int, sip_status: int, reason: str, final: bool) -> None:
        by_cid = self.phone.line_table.cids
        number = self.line_of.get(cid)
        line = by_cid.get(cid)
        if number is None and line is not None:
            number = line.number
        if number is None:
            return
        self.phone._emit(TransferProgress(line=number, sip_status=sip_status, reason=reason, final=final))
        # a 2xx sipfrag is the transferee's INVITE answered, final even if the subscription stays active
        if 200 <= sip_status < 300 and line is not None:
            # the transfer took: our legs are no longer needed. An attended transfer's target may keep our
            # consultation call (no Replaces support: it took the transferee as a new call), so end it too.
            consult = self.consult_leg.pop(cid, None)
            self.backend.hangup(cid)
            if consult is not None and by_cid.get(consult.cid) is consult:
                self.backend.hangup(consult.cid)

    def on_new_call(self, cid: int, account: int | None, remote_uri: str, replaces: int | None) -> None:
        """A call pjsua made for us: the target of a REFER we accepted, or an INVITE that Replaces one of ours."""
        table = self.phone.line_table
        old = table.cids.pop(replaces, None) if replaces is not None else None
        name, uri, user = split_name_uri(remote_uri)
        self.phone._end_stale(cid)
        if old is not None:
            line = replace(old, cid=cid, remote_uri=uri or old.remote_uri, remote_name=name,
                           remote_number=user or old.remote_number, dtmf_received=[])
            table.numbers[line.number] = line
        else:
            number = table.free()
            if number is None:
                self.backend.hangup(cid, 486)
                return
            # the transfer target we were REFERred to becomes the active line
            table.hold_others(None)
            line = Line(number=number, cid=cid, direction="out", account=account, remote_uri=uri,
                        remote_name=name, remote_number=user)
            table.numbers[number] = line
            table.call_started(line)
        table.cids[cid] = line
        self.phone._emit(line.snapshot())
