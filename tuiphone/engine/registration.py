"""Accounts and their registration: adding them to the stack, failover between registrar/proxy pairs with
a doubling retry, the OPTIONS keep-alive to the registrar, live reconfiguration and leaving (un-REGISTER).

Runs on the SIP thread, like the rest of the phone logic.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuiphone.engine.backend import AccountSettings
from tuiphone.engine.dialing import account_plan
from tuiphone.engine.dialplan import DialPlan, DialPlanError
from tuiphone.engine.events import Notice, RegState
from tuiphone.engine.phone_error import PhoneError
from tuiphone.engine.phone_part import PhonePart
from tuiphone.engine.registrar_health import RegistrarWatch

if TYPE_CHECKING:
    from tuiphone.config import AccountConfig
    from tuiphone.engine.phone import Phone

log = logging.getLogger(__name__)
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0
_AUTH_FAILURES = {401, 403, 407}
LEAVE_TIMEOUT_S = 5.0         # how long a disabled account may wait for the answer to its un-REGISTER
UNREGISTER_WAIT_S = 2.0       # at stop: how long to wait for the answers to the un-REGISTERs


def resolve_hosts(hostports: Iterable[str]) -> frozenset[str]:
    """IP addresses of host[:port] strings (the SIP servers an account may hear from)."""
    addrs: set[str] = set()
    for hp in hostports:
        host = hp[1:].split("]", 1)[0] if hp.startswith("[") else hp.rsplit(":", 1)[0] if hp.count(":") == 1 else hp
        try:
            addrs.update(str(info[4][0]) for info in socket.getaddrinfo(host, None))
        except OSError:
            log.warning("cannot resolve %s: calls from it will count as ghost calls", host)
    return frozenset(addrs)


@dataclass
class Registration:
    """One account's registration and failover state."""
    index: int
    candidates: list[tuple[str, str]]         # (registrar, outbound proxy) in failover order
    current: int = 0
    registered: bool = False
    sip_status: int = 0
    reason: str = ""
    expires: int = 0
    wanted: bool = True
    backoff: float = RETRY_MIN_S
    retry: object | None = None
    lost_pings: int = 0
    keepalive: RegistrarWatch | None = None  # OPTIONS to the registrar (engine/registrar_health.py)
    leave_timer: object | None = None         # removing a disabled account once its un-REGISTER is answered

    @property
    def server(self) -> str:
        return self.candidates[self.current][0]

    @property
    def proxy(self) -> str:
        return self.candidates[self.current][1]


class Registrations(PhonePart):
    """The accounts the stack has: their registrations, dial plans and the servers they may hear from."""

    def __init__(self, phone: Phone) -> None:
        super().__init__(phone)
        self.regs: dict[int, Registration] = {}
        self.leaving: dict[int, Registration] = {}      # disabled accounts waiting for their un-REGISTER
        self.plans: dict[int, DialPlan] = {}
        self.server_addrs: dict[int, frozenset[str]] = {}

    def add_all(self) -> None:
        for index in range(len(self.config.accounts)):
            self.add(index)

    def add(self, index: int, replacing: bool = False) -> None:
        """Give the stack account `index` as configured; `replacing`: the stack still has an older one there,
        which set_account swaps for the new one without registering it, so register here."""
        acc = self.config.accounts[index]
        if not acc.enabled:
            return
        try:
            self.plans[index] = account_plan(acc)
        except DialPlanError as exc:
            self.phone._notice(f"Account {index + 1}: {exc}; numbers on this account cannot be dialed.", "error")
        if not acc.sip_server:
            return
        cands = [(acc.sip_server, acc.outbound_proxy)]
        if acc.backup_outbound_proxy:
            cands.append((acc.sip_server, acc.backup_outbound_proxy))
        if acc.secondary_sip_server:
            cands.append((acc.secondary_sip_server, acc.outbound_proxy))
            if acc.backup_outbound_proxy:
                cands.append((acc.secondary_sip_server, acc.backup_outbound_proxy))
        if acc.accept_only_from_server:      # only guarding accounts need the servers' addresses
            self.server_addrs[index] = resolve_hosts(h for pair in cands for h in pair if h)
        reg = Registration(index=index, candidates=cands, wanted=acc.register)
        self.regs[index] = reg
        self.backend.set_account(self.account_settings(reg))
        if replacing and acc.register:
            self.backend.register(index, True)
        if acc.register and acc.options_keepalive:
            self._start_keepalive(reg)

    def replace(self, index: int, account: AccountConfig) -> None:
        """Put `account` in place of config.accounts[index] (or add it at the end) and apply it now."""
        accounts = self.config.accounts
        if not 0 <= index <= len(accounts):
            raise PhoneError(f"There is no account {index + 1} to change: the config has {len(accounts)}, "
                             f"so a new one is account {len(accounts) + 1}.", "failed")
        old = self.regs.pop(index, None)
        leaving = self.leaving.pop(index, None)
        for reg in (old, leaving):
            if reg is not None:
                self._retire(reg)
        if index == len(accounts):
            accounts.append(account)
        else:
            accounts[index] = account
        self.plans.pop(index, None)
        self.server_addrs.pop(index, None)
        self.add(index, replacing=old is not None or leaving is not None)
        if index not in self.regs:
            gone = old or leaving
            if gone is not None:
                self._leave(gone)

    def _retire(self, reg: Registration) -> None:
        """Stop what keeps an account's registration going: its retry timer and its OPTIONS keep-alive."""
        reg.wanted = False
        self._cancel_retry(reg)
        if reg.keepalive is not None:
            reg.keepalive.stop()
        if reg.leave_timer is not None:
            self.backend.cancel(reg.leave_timer)
            reg.leave_timer = None

    def _leave(self, reg: Registration) -> None:
        """Unregister an account that is no longer used, then remove it from the stack (bounded wait)."""
        if not reg.registered:
            self.backend.remove_account(reg.index)
            reg.sip_status, reg.reason, reg.expires = 0, "account disabled", 0
            self.phone._emit(self.event(reg))
            return
        self.leaving[reg.index] = reg
        reg.leave_timer = self.backend.schedule(LEAVE_TIMEOUT_S, lambda: self._left(reg))
        self.backend.register(reg.index, False)

    def _left(self, reg: Registration) -> None:
        if self.leaving.get(reg.index) is not reg:
            return       # enabled again meanwhile: the stack's account is the new one now
        del self.leaving[reg.index]
        reg.leave_timer = None
        self.backend.remove_account(reg.index)
        if reg.registered:       # the server never answered the un-REGISTER: say it is gone all the same
            reg.registered, reg.sip_status, reg.reason, reg.expires = False, 0, "account disabled", 0
            self.phone._emit(self.event(reg))

    def account_settings(self, reg: Registration) -> AccountSettings:
        acc = self.config.accounts[reg.index]
        return AccountSettings(
            index=reg.index, user_id=acc.user_id, auth_id=acc.auth_id or acc.user_id, password=acc.password,
            display_name=acc.display_name, domain=acc.sip_server, registrar=reg.server if acc.register else "",
            mwi=acc.mwi,
            proxy=reg.proxy, transport=acc.transport, srtp=acc.srtp, reg_expires=acc.reg_expires,
            register=acc.register and reg.wanted,
        )

    # ----- registering -----------------------------------------------------------------------------
    def register(self, account: int, on: bool) -> None:
        reg = self.regs.get(account)
        if reg is None:
            raise PhoneError(f"Account {account + 1} has no SIP server to register with.")
        reg.wanted = on
        reg.backoff = RETRY_MIN_S
        self._cancel_retry(reg)
        self.backend.register(account, on)

    def states(self) -> dict[int, RegState]:
        return {i: self.event(r) for i, r in self.regs.items()}

    def event(self, reg: Registration) -> RegState:
        return RegState(account=reg.index, registered=reg.registered, sip_status=reg.sip_status,
                        reason=reg.reason, expires=reg.expires, server=reg.server)

    def on_reg_state(self, account: int, sip_status: int, reason: str, expires: int) -> None:
        reg = self.regs.get(account)
        if reg is None:
            leaving = self.leaving.get(account)
            if leaving is not None:      # the answer to a disabled account's un-REGISTER
                leaving.sip_status, leaving.reason = sip_status, reason
                leaving.registered, leaving.expires = False, 0
                self.phone._emit(self.event(leaving))
                # not inside the stack's own registration callback: remove the account on the next turn
                self.backend.schedule(0.0, lambda: self._left(leaving))
            return
        reg.sip_status, reg.reason = sip_status, reason
        ok = 200 <= sip_status < 300
        was = reg.registered
        reg.registered = ok and expires > 0
        if reg.registered != was:
            log.info("Account %d: %s %s (%s %s)", account + 1, "registered with" if reg.registered else
                     "not registered with", reg.server, sip_status, reason)
        reg.expires = expires if ok else 0
        self.phone._emit(self.event(reg))
        if ok or not reg.wanted:
            reg.backoff = RETRY_MIN_S
            return
        # Failed: a wrong password will not be cured by another server; anything else fails over.
        if sip_status not in _AUTH_FAILURES and len(reg.candidates) > 1:
            reg.current = (reg.current + 1) % len(reg.candidates)
            self.phone._notice(f"Account {account + 1}: registration failed ({sip_status} {reason}); "
                               f"trying {reg.server}" + (f" via {reg.proxy}" if reg.proxy else "") + ".", "warning")
            self.backend.set_account(self.account_settings(reg))
            delay = 0.0 if reg.backoff <= RETRY_MIN_S else reg.backoff
        else:
            delay = reg.backoff
        self._schedule_retry(reg, delay)

    def _schedule_retry(self, reg: Registration, delay: float) -> None:
        self._cancel_retry(reg)

        def retry() -> None:
            reg.retry = None
            if reg.wanted and not reg.registered:
                self.backend.register(reg.index, True)
        reg.retry = self.backend.schedule(delay, retry)
        reg.backoff = min(RETRY_MAX_S, reg.backoff * 2)

    def _cancel_retry(self, reg: Registration) -> None:
        if reg.retry is not None:
            self.backend.cancel(reg.retry)
            reg.retry = None

    # ----- keep-alive --------------------------------------------------------------------------------
    def _start_keepalive(self, reg: Registration) -> None:
        acc = self.config.accounts[reg.index]
        reg.keepalive = RegistrarWatch(self.backend, acc.options_interval, lambda: reg.proxy or reg.server,
                                       acc.transport, self.phone._bind, lambda ok: self.on_keepalive(reg, ok),
                                       name=f"keepalive{reg.index}")
        reg.keepalive.start()

    def on_keepalive(self, reg: Registration, answered: bool) -> None:
        acc = self.config.accounts[reg.index]
        hop = reg.proxy or reg.server
        if answered:
            lost, reg.lost_pings = reg.lost_pings, 0
            if lost and reg.wanted:
                # The server is back, and may have restarted and forgotten us (Kamailio's usrloc in memory
                # does): register again now, not when the backoff or the expiry says. An answer after answers
                # says nothing new and leaves the backoff alone (a server may answer OPTIONS and refuse REGISTER).
                log.info("Account %d: %s answers again after %d lost keep-alive%s; registering again.",
                         reg.index + 1, hop, lost, "" if lost == 1 else "s")
                self._cancel_retry(reg)
                reg.backoff = RETRY_MIN_S
                self.backend.register(reg.index, True)
            return
        reg.lost_pings += 1
        if reg.lost_pings == acc.options_max_lost and reg.wanted:
            text = (f"Account {reg.index + 1}: {hop} stopped answering ({reg.lost_pings} keep-alives lost); "
                    "not registered until it answers again.")
            log.info("%s", text)
            self.phone._emit(Notice(text, "warning"))
            self.on_reg_state(reg.index, 408, f"{hop} does not answer OPTIONS", 0)

    # ----- stopping ------------------------------------------------------------------------------------
    def stop_keepalives(self) -> None:
        for reg in self.regs.values():
            if reg.keepalive is not None:
                reg.keepalive.stop()

    def unregister_all(self) -> None:
        """Unregister the registered accounts and wait (at most UNREGISTER_WAIT_S) for the registrar's answers:
        the stack gives up an unanswered un-REGISTER (a digest challenge needs a second one) when it is
        destroyed, and the registrar would keep sending calls to a contact that is gone."""
        def job() -> list[int]:
            leaving = [reg for reg in self.regs.values() if reg.registered]
            for reg in leaving:
                reg.wanted = False
                self._cancel_retry(reg)
                self.backend.register(reg.index, False)
            return [reg.index for reg in leaving]
        try:
            leaving = self.backend.submit(job).result(UNREGISTER_WAIT_S)
        except Exception:          # a SIP thread that is gone or stuck: the stop goes on
            return
        deadline = time.monotonic() + UNREGISTER_WAIT_S
        while time.monotonic() < deadline and any(i in self.regs and self.regs[i].registered for i in leaving):
            time.sleep(0.02)
