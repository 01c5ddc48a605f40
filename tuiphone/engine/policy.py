"""What to do with an incoming call: the desk phone's rules, as one pure function.

Order (first match wins): ghost-call checks (403 / 404), anonymous rejection (433), blocklist (603),
do-not-disturb (forward or 486), forward always (302), busy handling (forward or 486), then ring —
possibly answered automatically (auto-answer / intercom) or forwarded later on no answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tuiphone.engine.backend import IncomingInfo

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
