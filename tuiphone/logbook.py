"""What the phone's UI writes down as calls and registrations go: a line in tuiphone.log per change, the
quality and transfer kept with a call in the history, and the last number dialed (for Redial after a restart).

No UI imports: it works on the engine's events and the app's LineView (anything with `call`, `quality`,
`talking_since`, `transfer` and `transfer_to`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from tuiphone.engine.events import CallState, LineState, RegState

log = logging.getLogger(__name__)


def log_registration(before: RegState | None, event: RegState) -> None:
    """One line when an account's registration changes (not on every refresh)."""
    if before is not None and (before.registered, before.sip_status) == (event.registered, event.sip_status):
        return
    number = event.account + 1
    if event.registered:
        log.info("account %d: registered with %s (%d %s, expires in %d s)", number, event.server, event.sip_status,
                 event.reason, event.expires)
    elif event.sip_status >= 300 or (event.sip_status == 0 and before is not None and before.registered):
        log.warning("account %d: not registered with %s: %s %s", number, event.server,
                    event.sip_status or "no answer", event.reason)
    else:
        log.info("account %d: unregistered from %s (%s %s)", number, event.server, event.sip_status, event.reason)


def log_call(call: CallState, before: Any, now: float) -> None:
    """One line per change of a call's state (not per mute or codec update); `before` is its LineView or None."""
    if before is not None and before.call.state == call.state:
        return
    who = call.remote_uri or call.remote_number
    if call.state == LineState.ENDED:
        if before is not None and before.talking_since is not None:
            log.info("line %d: call with %s ended after %.0f s (%s %s)", call.line, who, now - before.talking_since,
                     call.sip_status, call.reason)
        else:
            log.info("line %d: call %s %s ended unanswered (%s %s)", call.line,
                     "to" if call.direction == "out" else "from", who, call.sip_status, call.reason)
    elif before is None:
        account = f"account {call.account + 1}" if call.account is not None else "no account"
        log.info("line %d: %s %s (%s)", call.line, "calling" if call.direction == "out" else "call from", who,
                 account)
    else:
        log.info("line %d: %s with %s%s", call.line, call.state.value, who, f" ({call.codec})" if call.codec else "")


def call_summary(entry: Any, views: Iterable[Any]) -> str:
    """What the call screen last knew of the call the engine logs (it is logged just before its line ends):
    quality numbers and a transfer, as JSON for the history; "" when nothing is known."""
    found = [v for v in views if v.call.remote_uri == entry.remote_uri and v.call.direction == entry.direction]
    if not found:
        return ""
    view = found[0]
    summary: dict[str, Any] = {}
    if view.quality is not None:
        q = view.quality
        summary.update(codec=q.codec, mos=round(q.mos, 2), loss_pct=round(q.rx_loss_pct, 2),
                       jitter_ms=round(q.jitter_ms, 1), rtt_ms=round(q.rtt_ms, 1))
    if view.transfer_to or view.transfer is not None:
        summary["transfer_to"] = view.transfer_to
        if view.transfer is not None:
            summary.update(transfer_status=view.transfer.sip_status, transfer_reason=view.transfer.reason)
    return json.dumps(summary, ensure_ascii=False) if summary else ""


def last_dialed(store: Any, config: Any) -> tuple[str, int | None] | None:
    """Redial after a restart: the newest outgoing call in the history, as (what to dial, account)."""
    from tuiphone.store import StoreError

    if store is None:
        return None
    try:
        calls = store.calls("outgoing", limit=1)
    except StoreError:
        return None
    if not calls:
        return None
    record = calls[0]
    target = record.remote_uri or record.remote_number if record.account is None else \
        record.remote_number or record.remote_uri          # as the history's call back dials it
    usable = [i for i, a in enumerate(config.accounts) if a.enabled and a.sip_server]
    return target, record.account if record.account in usable else None
