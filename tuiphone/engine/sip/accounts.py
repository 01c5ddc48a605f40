"""SIP accounts (their configs, registration, the anonymous twins) and presence subscriptions (BLF keys)."""

from __future__ import annotations

import gc

import pjsua2 as pj

from tuiphone.engine.backend import AccountSettings
from tuiphone.engine.sip.objects import DIRECT, _Account, _Buddy, _Call
from tuiphone.engine.sip.state import _BackendState
from tuiphone.engine.sip.thread import log

_SRTP = {"off": pj.PJMEDIA_SRTP_DISABLED, "optional": pj.PJMEDIA_SRTP_OPTIONAL,
         "mandatory": pj.PJMEDIA_SRTP_MANDATORY}


class _Accounts(_BackendState):
    """PjsuaBackend's accounts and buddies (SIP thread)."""

    # ----- accounts --------------------------------------------------------------------------
    def set_account(self, a: AccountSettings) -> None:
        self._drop_anonymous(a.index)          # an anonymous twin made from the old settings
        self._settings_of[a.index] = a
        cfg = self._account_config(a)
        old = self._accounts.get(a.index)
        if old is not None:
            cfg.regConfig.registerOnAdd = False         # the phone registers when it decides to (failover)
            cfg.regConfig.disableRegOnModify = True
            if any(c.getInfo().accId == old.getId() for c in self._calls.values()):
                old.modify(cfg)                         # keep the account its calls belong to
                return
            # A fresh account drops a REGISTER still pending at the old server, which would keep
            # pjsua busy for the 32 s transaction timeout and block registering at the new one.
            self._accounts.pop(a.index)
            old.shutdown()
            # destroy it now: pjsua reuses the account id, and a late destructor would delete the new one
            del old
            gc.collect()
        acc = _Account(self, a.index)
        acc.create(cfg)
        self._accounts[a.index] = acc

    def _account_config(self, a: AccountSettings) -> pj.AccountConfig:
        cfg = pj.AccountConfig()
        tp = f";transport={a.transport}" if a.transport != "udp" else ""
        scheme = "sip"
        name = f'"{a.display_name}" ' if a.display_name else ""
        cfg.idUri = f"{name}<{scheme}:{a.user_id}@{a.domain}>"
        if a.registrar:
            cfg.regConfig.registrarUri = f"{scheme}:{a.registrar}{tp}"
        cfg.regConfig.timeoutSec = a.reg_expires
        cfg.regConfig.retryIntervalSec = 0          # the phone decides retries and failover
        cfg.regConfig.registerOnAdd = a.register and bool(a.registrar)
        cfg.regConfig.dropCallsOnFail = False       # calls in progress survive a registrar outage
        if a.contact:
            cfg.sipConfig.contactForced = a.contact     # e.g. the address of a dispatcher in front of us
        if a.proxy:
            cfg.sipConfig.proxies.append(f"{scheme}:{a.proxy}{tp};lr")
        cred = pj.AuthCredInfo("digest", "*", a.auth_id or a.user_id, 0, a.password)
        cfg.sipConfig.authCreds.append(cred)
        if a.transport in self._transports:
            cfg.sipConfig.transportId = self._transports[a.transport]
        cfg.mediaConfig.srtpUse = _SRTP[a.srtp]
        cfg.mediaConfig.srtpSecureSignaling = 0
        cfg.natConfig.contactRewriteUse = 0
        cfg.natConfig.viaRewriteUse = 0
        cfg.natConfig.sdpNatRewriteUse = 0
        cfg.natConfig.sipOutboundUse = 0
        cfg.mwiConfig.enabled = a.mwi and bool(a.registrar)
        cfg.mwiConfig.expirationSec = a.reg_expires
        self._media_bind(cfg)
        return cfg

    def remove_account(self, index: int) -> None:
        self._drop_anonymous(index)
        self._settings_of.pop(index, None)
        acc = self._accounts.pop(index, None)
        if acc is not None:
            acc.shutdown()

    def _anonymous_account(self, index: int, from_uri: str) -> _Account:
        """A twin of account `index` that never registers and whose Contact user is "anonymous": pjsua builds
        a call's Contact from its account's user, so an anonymous call from the real account would still
        show the user ID there. In-dialog requests still reach us (they match the dialog, not the user)."""
        twin = self._anonymous.get(index)
        if twin is not None:
            return twin
        a = self._settings_of[index]
        cfg = self._account_config(AccountSettings(
            index=index, user_id="anonymous", auth_id=a.auth_id or a.user_id, password=a.password,
            display_name="", domain=a.domain, registrar="", proxy=a.proxy, transport=a.transport, srtp=a.srtp,
            reg_expires=a.reg_expires, register=False, mwi=False))
        # no display name: pjsua copies it into the Contact, where some peers take it for the request target
        cfg.idUri = from_uri[from_uri.find("<"):] if "<" in from_uri else from_uri
        twin = _Account(self, index)
        try:
            twin.create(cfg)
        except pj.Error as exc:
            raise ValueError(f"cannot call anonymously: {exc.reason}") from None
        self._anonymous[index] = twin
        return twin

    def _drop_anonymous(self, index: int) -> None:
        twin = self._anonymous.pop(index, None)
        if twin is None:
            return
        if any(c.getInfo().accId == twin.getId() for c in self._calls.values()):
            self._retired.append(twin)      # its calls go on; it is shut down with the endpoint
            return
        twin.shutdown()
        del twin
        gc.collect()

    def register(self, index: int, on: bool) -> None:
        acc = self._accounts[index]
        try:
            acc.setRegistration(on)
        except pj.Error as exc:
            if exc.status == getattr(pj, "PJSIP_EBUSY", 171001) or "busy" in exc.reason.lower():
                log.info("account %s: a REGISTER is already in progress", index)
                return
            self.listener.on_reg_state(index, 503 if on else 200, exc.reason, 0)

    def _account_of(self, call: _Call) -> _Account:
        acc_id = call.getInfo().accId
        for acc in (*self._accounts.values(), *self._anonymous.values(), *self._retired):
            if acc.getId() == acc_id:
                return acc
        return self._accounts[DIRECT]

    def _index_of(self, acc: _Account) -> int | None:
        return None if acc.index == DIRECT else acc.index

    # ----- presence (BLF keys) ------------------------------------------------------------------
    def watch(self, account: int, uri: str) -> int:
        """Subscribe to the presence of `uri` through `account`; state arrives as on_buddy_state(handle, ...)."""
        handle = len(self._buddies)
        buddy = _Buddy(self, handle)
        cfg = pj.BuddyConfig()
        cfg.uri = uri
        cfg.subscribe = True
        buddy.create(self._accounts[account], cfg)
        self._buddies.append(buddy)
        return handle

    def unwatch(self, handle: int) -> None:
        """End a presence subscription (its buddy is deleted, which unsubscribes); unknown handles are ignored."""
        if 0 <= handle < len(self._buddies) and self._buddies[handle] is not None:
            buddy, self._buddies[handle] = self._buddies[handle], None
            assert buddy is not None        # checked just above
            try:
                buddy.subscribePresence(False)
            except pj.Error:
                pass
            del buddy
            gc.collect()
