"""Incoming calls: the rules that decide what a call gets, forwarding, auto-answer and the echo test.

One home for forwarding: the rules below (`decide`), forwarding now (302 with Diversion), forwarding on no
answer, deflecting a ringing call (`Phone.forward`) and what a forwarding target may be (`forward_target`,
used by engine/featurestate.py when the setting changes).

The rules, in order (first match wins): ghost-call checks (403 / 404), anonymous rejection (433), blocklist
(603), do-not-disturb (forward or 486), forward always (302), busy handling (forward or 486), then ring —
possibly answered automatically (auto-answer / intercom) or forwarded later on no answer.
The Incoming part runs on the SIP thread, like the rest of the phone logic.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tuiphone.engine.backend import CallMedia, IncomingInfo
from tuiphone.engine.dialplan import DialPlan, DialPlanError
from tuiphone.engine.events import GhostCall, IncomingCall, LineState
from tuiphone.engine.lines import Line
from tuiphone.engine.phone_error import PhoneError
from tuiphone.engine.phone_part import PhonePart

if TYPE_CHECKING:
    from tuiphone.engine.phone import Phone

Action = Literal["reject", "forward", "ring"]

_ANSWER_AFTER = re.compile(r"answer-after\s*=\s*0\b", re.I)
_AUTO_ALERT = re.compile(r"auto\s*answer|info\s*=\s*alert-autoanswer|intercom", re.I)


@dataclass(frozen=True)
class Verdict:
    action: Action
    code: int = 0                       # SIP response for reject/forward
    reason: str = ""                    # why, for the log and the missed-call entry
    target: str = ""                    # forward target (a number or URI, before resolving)
    auto_answer: bool = False           # ring, then answer at once after a beep
    forward_after: float | None = None  # ring, then forward to `target` after this many seconds
    ghost: bool = False                 # a scanner-style call that must never ring


@dataclass(frozen=True)
class IncomingContext:
    """Everything the rules look at besides the INVITE itself."""
    account_user: str | None            # the account's user ID; None for direct (no account) calls
    contact_user: str | None
    server_addresses: frozenset[str]    # resolved IPs of the SIP server and proxies
    accept_only_from_server: bool
    check_user_id: bool
    reject_anonymous: bool
    auto_answer: str                    # off | on | intercom
    dnd: bool
    call_waiting: bool
    forward_always: str
    forward_busy: str
    forward_no_answer: str
    forward_no_answer_delay: float
    busy: bool                          # a call is in progress on another line
    free_line: bool
    blocked: bool                       # the caller matches the blocklist
    # every enabled account's user ID: a call that matched no account must name one of them (or none at
    # all, a plain direct-IP call) when check_user_id guards against scanners
    known_users: frozenset[str] = frozenset()


def is_anonymous(info: IncomingInfo) -> bool:
    """A caller who withholds their identity (From anonymous, or Privacy: id)."""
    uri = info.remote_uri.lower()
    privacy = info.headers.get("privacy", "").lower()
    return ("anonymous" in uri or info.remote_number.lower() == "anonymous"
            or "id" in [p.strip() for p in privacy.split(";")])


def wants_intercom(info: IncomingInfo) -> bool:
    return bool(_ANSWER_AFTER.search(info.headers.get("call-info", ""))
                or _AUTO_ALERT.search(info.headers.get("alert-info", "")))


def source_host(source: str) -> str:
    """'1.2.3.4:5060' -> '1.2.3.4'; '[::1]:5060' -> '::1'."""
    if source.startswith("["):
        return source[1:].split("]", 1)[0]
    return source.rsplit(":", 1)[0] if source.count(":") == 1 else source


def decide(info: IncomingInfo, ctx: IncomingContext) -> Verdict:
    caller = info.remote_number or info.remote_uri
    if ctx.accept_only_from_server and source_host(info.source) not in ctx.server_addresses:
        return Verdict("reject", 403, f"INVITE from {info.source}, not from the SIP server", ghost=True)
    if ctx.check_user_id and info.request_user:
        mine = {ctx.account_user, ctx.contact_user} if ctx.account_user is not None else set(ctx.known_users)
        if info.request_user not in mine - {None, ""}:
            whose = "this account" if ctx.account_user is not None else "any account of this phone"
            return Verdict("reject", 404, f"INVITE for user '{info.request_user[:64]}', not {whose}", ghost=True)
    if ctx.reject_anonymous and is_anonymous(info):
        return Verdict("reject", 433, "anonymous caller rejected")
    if ctx.blocked:
        return Verdict("reject", 603, f"{caller} is on the blocklist")
    if ctx.dnd:
        target = ctx.forward_always or ctx.forward_busy
        if target:
            return Verdict("forward", 302, "do not disturb: forwarded", target=target)
        return Verdict("reject", 486, "do not disturb")
    if ctx.forward_always:
        return Verdict("forward", 302, "forward always", target=ctx.forward_always)
    if not ctx.free_line or (ctx.busy and not ctx.call_waiting):
        if ctx.forward_busy:
            return Verdict("forward", 302, "busy: forwarded", target=ctx.forward_busy)
        return Verdict("reject", 486, "busy" if ctx.free_line else "every line is in use")
    auto = ctx.auto_answer == "on" or (ctx.auto_answer == "intercom" and wants_intercom(info))
    auto = auto and not ctx.busy
    forward_after = ctx.forward_no_answer_delay if ctx.forward_no_answer and not auto else None
    return Verdict("ring", reason="ringing", target=ctx.forward_no_answer if forward_after else "",
                   auto_answer=auto, forward_after=forward_after)


# ----- forwarding targets ------------------------------------------------------------------------------
FORWARD_KINDS = ("always", "busy", "no_answer")


class ForwardError(ValueError):
    """A forwarding setting the phone cannot take; the message is for the user."""


def forward_target(kind: str, target: str) -> str:
    """Check a forwarding setting (kind: always | busy | no_answer); the target stripped. Raises ForwardError."""
    if kind not in FORWARD_KINDS:
        raise ForwardError(f"Unknown forwarding '{kind}': use always, busy or no_answer.")
    target = target.strip()
    if any(c.isspace() or ord(c) < 32 for c in target):
        raise ForwardError(f"'{target}' cannot be a forwarding target: give a number or a SIP address.")
    return target


def forward_notice(kind: str, target: str) -> str:
    label = kind.replace("_", " ")
    return f"Forward {label} to {target}." if target else f"Forward {label} is off."


# ----- the phone's part --------------------------------------------------------------------------------
GHOST_SOURCES = 256                 # sources counted one by one; more are counted together (memory stays bounded)
OTHER_SOURCES = "other addresses"
ECHO_USER = "echo"
ECHO_CODE = "*43"                   # dialed: calls the phone's own echo test
ECHO_DELAY_S = 1.0
AUTO_ANSWER_DELAY_S = 0.5     # time for the auto-answer beep


def user_host(uri: str) -> str:
    """'sip:alice@example.com:5060;x' -> 'alice@example.com'."""
    m = re.match(r"sips?:([^@;>]+)@([^;:>]+)", uri)
    return f"{m.group(1)}@{m.group(2)}" if m else ""


class Incoming(PhonePart):
    """What happens to a call that arrives: echo test, turned away, forwarded, or ringing on a free line."""

    def __init__(self, phone: Phone) -> None:
        super().__init__(phone)
        self.service_calls: dict[int, CallMedia] = {}   # echo-test calls: answered, never on a line
        self.ghost_calls: dict[str, int] = {}            # source address -> INVITEs refused

    def on_incoming_call(self, cid: int, account: int | None, info: IncomingInfo) -> None:
        p, table = self.phone, self.phone.line_table
        p._end_stale(cid)
        if p.echo_service and info.request_user == ECHO_USER and account is None:
            from tuiphone.audio.echo import EchoDelay  # numpy: not for the UI that imports this module

            echo = EchoDelay(delay_s=ECHO_DELAY_S)
            media = CallMedia(source=echo, sinks=[echo])
            self.service_calls[cid] = media
            self.backend.answer(cid, 200, media)
            return
        verdict = decide(info, self._context(account, info))
        if verdict.action == "reject":
            self.backend.answer(cid, verdict.code)
            self._turned_away(account, info, verdict)
            return
        if verdict.action == "forward":
            self._forward(cid, account, info, verdict)
            return
        number = table.free()
        assert number is not None      # decide() turns callers away when no line is free
        self.backend.answer(cid, 180)   # ringing at once: the UI hears of the call only afterwards
        line = Line(number=number, cid=cid, direction="in", account=account, remote_uri=info.remote_uri,
                    remote_name=info.remote_name, remote_number=info.remote_number, state=LineState.RINGING,
                    call_id=info.call_id)
        line.wall_start = time.time()
        table.add(line)
        p._emit(line.snapshot())
        table.call_started(line)
        p._emit(IncomingCall(line=number, account=account, remote_uri=info.remote_uri,
                             remote_name=info.remote_name, remote_number=info.remote_number,
                             source=info.source, ringtone=self._ringtone_for(account, info.remote_number),
                             auto_answer=verdict.auto_answer, call_id=info.call_id))
        if verdict.auto_answer:
            self.backend.schedule(AUTO_ANSWER_DELAY_S, lambda: self._auto_answer(line))
        elif verdict.forward_after is not None:
            self.backend.schedule(verdict.forward_after, lambda: self._forward_unanswered(line, verdict.target))

    def _context(self, account: int | None, info: IncomingInfo) -> IncomingContext:
        f = self.config.features
        acc = self.config.accounts[account] if account is not None else None
        lines = self.phone.line_table.numbers.values()
        server_addrs = self.phone.registration.server_addrs
        busy = any(ln.state in (LineState.TALKING, LineState.HELD, LineState.CALLING) for ln in lines)
        if acc is not None and account is not None:
            only_server, servers = acc.accept_only_from_server, server_addrs.get(account, frozenset())
        else:
            # a call that matched no account (direct IP) is still a ghost when any account guards against them
            only_server = any(a.enabled and a.accept_only_from_server for a in self.config.accounts)
            servers = frozenset().union(*server_addrs.values()) if server_addrs else frozenset()
        return IncomingContext(
            account_user=acc.user_id if acc else None, contact_user=acc.user_id if acc else None,
            server_addresses=servers, accept_only_from_server=only_server,
            # a call that matched no account is still checked when any account guards its user ID
            check_user_id=acc.check_user_id if acc else any(
                a.enabled and a.check_user_id for a in self.config.accounts),
            known_users=frozenset(a.user_id for a in self.config.accounts if a.enabled and a.user_id),
            reject_anonymous=acc.reject_anonymous if acc else any(
                a.enabled and a.reject_anonymous for a in self.config.accounts),
            auto_answer=acc.auto_answer if acc else "off", dnd=f.dnd, call_waiting=f.call_waiting,
            forward_always=f.forward_always, forward_busy=f.forward_busy, forward_no_answer=f.forward_no_answer,
            forward_no_answer_delay=f.forward_no_answer_delay, busy=busy,
            free_line=self.phone.line_table.free() is not None,
            blocked=self.phone.features.blocklist.matches(info.remote_number, user_host(info.remote_uri)) is not None,
        )

    def _ringtone_for(self, account: int | None, number: str) -> str:
        for rule in self.config.features.ring_rules:
            try:
                if number and DialPlan.parse("{" + rule.match + "}").allow(number):
                    return rule.ringtone
            except DialPlanError:
                continue
        return self.config.accounts[account].ringtone if account is not None else "ring1"

    def _turned_away(self, account: int | None, info: IncomingInfo, verdict: Verdict) -> None:
        p = self.phone
        caller = info.remote_number or info.remote_uri
        if verdict.ghost:
            source = info.source
            if source not in self.ghost_calls and len(self.ghost_calls) >= GHOST_SOURCES:
                source = OTHER_SOURCES
            self.ghost_calls[source] = self.ghost_calls.get(source, 0) + 1
            total = sum(self.ghost_calls.values())
            p._noise.warning("ghost call", "ghost call: refused INVITE from %s with %d: %s", info.source,
                             verdict.code, verdict.reason)
            p._emit(GhostCall(account=account, source=info.source, sip_status=verdict.code,
                              reason=verdict.reason, total=total))
            return     # scanners fill no history: they are counted and logged
        disposition = {486: "dnd" if self.config.features.dnd else "busy", 603: "blocked"}.get(verdict.code, "rejected")
        p.line_table.log_call("in", account, info.remote_uri, info.remote_name, info.remote_number, time.time(),
                              0.0, disposition, verdict.reason)
        if verdict.code in (603, 486) and disposition in ("blocked", "dnd"):
            p._notice(f"{verdict.reason.capitalize()}: call from {caller} refused.")

    # ----- forwarding --------------------------------------------------------------------------------
    def _forward(self, cid: int, account: int | None, info: IncomingInfo, verdict: Verdict, key: str = "") -> None:
        try:
            _, uri = self.phone.resolve_target(verdict.target, account)
        except PhoneError as exc:
            self.phone._notice(f"Cannot forward to {verdict.target}: {exc}", "warning")
            self.backend.answer(cid, 486)
            return
        reason = {"forward always": "unconditional", "busy: forwarded": "user-busy",
                  "do not disturb: forwarded": "do-not-disturb"}.get(verdict.reason, "no-answer")
        self._redirect(cid, account, info, verdict.target, uri, reason, key=key)

    def _redirect(self, cid: int, account: int | None, info: IncomingInfo, target: str, uri: str,
                  reason: str, started: float | None = None, key: str = "") -> None:
        """Answer 302 with `uri` in Contact and a Diversion (RFC 5806) naming us, and log the call as forwarded."""
        self.backend.answer(cid, 302, headers={"Contact": f"<{uri}>",
                                              "Diversion": f"<{self._own_uri(account)}>;reason={reason}"})
        self.phone.line_table.log_call("in", account, info.remote_uri, info.remote_name, info.remote_number,
                                       time.time() if started is None else started, 0.0, "forwarded",
                                       f"forwarded to {target} ({reason})", key)

    def deflect(self, line: int, target: str) -> str:
        """Send a ringing call elsewhere (302 with a Diversion, reason deflection); the URI."""
        ln = self.phone.line_table.get(line)
        if ln.state != LineState.RINGING or ln.direction != "in":
            raise PhoneError(f"Line {line} is not ringing: only a ringing call can be forwarded.", "failed")
        try:
            _, uri = self.phone.resolve_target(target, ln.account)
        except PhoneError as exc:
            raise PhoneError(f"Cannot forward line {line} to {target.strip() or 'nothing'}: {exc}",
                             exc.result) from None
        info = IncomingInfo(ln.remote_uri, ln.remote_name, ln.remote_number, "", "")
        ln.forwarded = True     # before the 302, which ends the call: logged here as forwarded, not missed
        self._redirect(ln.cid, ln.account, info, target.strip(), uri, "deflection", ln.wall_start,
                       ln.history_key)
        return uri

    def _forward_unanswered(self, line: Line, target: str) -> None:
        if self.phone.line_table.numbers.get(line.number) is not line or line.state != LineState.RINGING:
            return
        info = IncomingInfo(line.remote_uri, line.remote_name, line.remote_number, "", "")
        line.forwarded = True     # before the 302: it ends the call at once, and this call is logged as forwarded
        self._forward(line.cid, line.account, info, Verdict("forward", 302, "no answer", target=target),
                      line.history_key)

    def _own_uri(self, account: int | None) -> str:
        if account is None:
            return f"sip:tuiphone@{self.backend.local_address()}"
        acc = self.config.accounts[account]
        return f"sip:{acc.user_id}@{acc.sip_server}"

    # ----- auto-answer --------------------------------------------------------------------------------
    def _auto_answer(self, line: Line) -> None:
        table = self.phone.line_table
        if table.numbers.get(line.number) is line and line.state == LineState.RINGING:
            table.hold_others(line.number)
            self.backend.answer(line.cid, 200, line.media)
