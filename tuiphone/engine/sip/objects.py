"""The pjsua2 objects the phone subclasses: the log writer, a call, an account, a buddy (a BLF key's presence
subscription). Their callbacks run on the SIP thread and hand what happened to the backend."""

from __future__ import annotations

import ctypes
import logging
import re
import time
import weakref
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from tuiphone.engine.backend import CallMedia, IncomingInfo
from tuiphone.engine.events import SipMessage
from tuiphone.engine.sip.frames import _FramePort
from tuiphone.engine.sip.thread import _guarded, _noise, _OnlyDestroyedOnSipThread
from tuiphone.engine.sipuri import request_user, split_name_uri
from tuiphone.engine.wiretext import from_wire

if TYPE_CHECKING:
    from tuiphone.engine.sip.state import _BackendState

_PJ_LINE_RE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}\s+(\S+)\s+[.!]*\s*")
DIRECT = -1                  # account index of the built-in direct-IP account
SOCKETS_PER_CALL = 2         # RTP + RTCP: the INVITE gate (capacity.py) trims offers to one audio stream
_MSG_RE = re.compile(
    r"(?P<dir>TX|RX) \d+ bytes (?:Request|Response) msg \S+ \(\w+\) (?:to|from) "
    r"(?P<tp>\w+) (?P<addr>\[[^\]]*\]:\d+|[^:\s]+:\d+):\r?\n(?P<body>.*)",
    re.S,
)


class _LogWriter(pj.LogWriter):  # type: ignore[misc]  # pjsua2 has no stubs
    """Turns pjsip's message log into SipMessage events (this also sees what went over TLS)."""

    def __init__(self, backend: _BackendState):
        super().__init__()
        self._backend = backend

    @_guarded
    def write(self, entry: Any) -> None:
        text = from_wire(entry.msg)
        m = _MSG_RE.search(text[:400])
        if not m:
            if entry.level <= 2:     # the phone reports failures as sentences; pjsip's own words are detail
                # a bad packet makes pjsip say so (with the packet): one short line, a few per minute and sender
                head = _PJ_LINE_RE.match(text)
                sender = head.group(1) if head else "pjsip"
                _noise.info(f"pjsip {sender}", "pjsip: %s: %s", sender, text[head.end() if head else 0:])
            return
        body = text[m.start("body"):]
        end = body.find("\n--end msg--")
        body = body[:end] if end >= 0 else body
        first = body.split("\r\n", 1)[0].split("\n", 1)[0]
        cid = re.search(r"^(?:Call-ID|i):\s*(\S+)", body, re.M | re.I)
        msg = SipMessage(time=time.time(), direction="out" if m.group("dir") == "TX" else "in",
                         transport=m.group("tp"), remote=m.group("addr"), first_line=first,
                         call_id=cid.group(1) if cid else "", text=body)
        self._backend._post(lambda: self._backend.listener.on_sip_message(msg))


_CALL_ID_OFFSET = 2 * ctypes.sizeof(ctypes.c_void_p)


class _Call(_OnlyDestroyedOnSipThread, pj.Call):  # type: ignore[misc]  # pjsua2 has no stubs
    live: weakref.WeakSet[_Call] = weakref.WeakSet()

    def __init__(self, backend: _BackendState, acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        _Call.live.add(self)
        self.backend = backend
        self.media = CallMedia()
        self.port: _FramePort | None = None
        self.connected_media: Any = None
        self.local = False                  # joined to the phone's local audio port
        self.links: set[int] = set()        # call ids it is conferenced with
        self.muted = False                  # kept for a port made later (see _attach_port)
        self.media_since = 0.0              # monotonic time pjsua last (re)built this call's audio stream
        self.want_hold = False              # what the last hold/resume asked (see PjsuaBackend._want_hold)
        self.reinviting = False             # a hold/resume re-INVITE is waiting to go out

    @_guarded
    def onCallState(self, prm: Any) -> None:
        self.backend._on_call_state(self)

    def forget_id(self) -> None:
        """After DISCONNECTED pjsua may give this call's id to a new call at once, but pj::Call keeps it, and
        its destructor would then unlink and hang up the new call (a ghost line, a 603 to the new caller).
        Set the C++ object's id to PJSUA_INVALID_ID (pj::Call: vptr, Account&, id); when its layout is not
        the expected one, leak the C++ object instead."""
        cid = self.getId()
        try:
            field = ctypes.c_int.from_address(int(self.this) + _CALL_ID_OFFSET)
            if field.value == cid:
                field.value = pj.PJSUA_INVALID_ID
                if self.getId() == pj.PJSUA_INVALID_ID:
                    return
                field.value = cid
        except Exception:
            pass
        self.thisown = False

    @_guarded
    def onCallMediaState(self, prm: Any) -> None:
        self.backend._on_media_state(self)

    @_guarded
    def onDtmfDigit(self, prm: Any) -> None:
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc2833"
        cid, digit = self.getId(), prm.digit
        self.backend._post(lambda: self.backend.listener.on_dtmf(cid, digit, method))

    @_guarded
    def onCallTransferStatus(self, prm: Any) -> None:
        prm.cont = True
        cid, code, reason, final = self.getId(), prm.statusCode, from_wire(prm.reason), prm.finalNotify
        self.backend._post(lambda: self.backend.listener.on_transfer_status(cid, code, reason, final))

    @_guarded
    def onCallTransferRequest(self, prm: Any) -> None:
        # The far end asked us to call someone else (REFER): accept, and track the new call.
        acc = self.backend._account_of(self)
        new = _Call(self.backend, acc)
        prm.newCall = new
        prm.statusCode = 202
        self.backend._pending_new.append((new, self.backend._index_of(acc), from_wire(prm.dstUri), None))

    @_guarded
    def onCallReplaced(self, prm: Any) -> None:
        # An INVITE with Replaces took this call's place (attended transfer, transferee's target side).
        acc = self.backend._account_of(self)
        new = _Call(self.backend, acc, prm.newCallId)
        prm.newCall = new
        # adopt now: pjsua disconnects the replaced call right after this callback returns
        self.backend._calls[prm.newCallId] = new
        info = new.getInfo()
        self.backend._budget.confirm(_budget_key(info.callIdString), SOCKETS_PER_CALL, time.monotonic())
        uri = split_name_uri(from_wire(info.remoteUri))[1]
        self.backend.listener.on_new_call(prm.newCallId, self.backend._index_of(acc), uri, self.getId())


class _Account(_OnlyDestroyedOnSipThread, pj.Account):  # type: ignore[misc]  # pjsua2 has no stubs
    def __init__(self, backend: _BackendState, index: int):
        super().__init__()
        self.backend = backend
        self.index = index

    @_guarded
    def onRegState(self, prm: Any) -> None:
        idx, code, reason, expires = self.index, prm.code, from_wire(prm.reason), prm.expiration
        if 200 <= code < 300 and expires > 0:
            self.backend._registered.add(idx)
        else:
            self.backend._registered.discard(idx)
        self.backend._post(lambda: self.backend.listener.on_reg_state(idx, code, reason, expires))

    @_guarded
    def onMwiInfo(self, prm: Any) -> None:
        body = from_wire(prm.rdata.wholeMsg).split("\r\n\r\n", 1)[-1] if prm.rdata else ""
        idx = None if self.index == DIRECT else self.index
        self.backend._post(lambda: self.backend.listener.on_mwi(idx, body))

    def onIncomingCall(self, prm: Any) -> None:
        call = _Call(self.backend, self, prm.callId)
        self.backend._calls[prm.callId] = call
        self.backend._in_incoming = prm.callId
        try:
            ci = call.getInfo()
            self.backend._budget.confirm(_budget_key(ci.callIdString), SOCKETS_PER_CALL, time.monotonic())
            name, uri, number = split_name_uri(from_wire(ci.remoteUri))
            whole = from_wire(prm.rdata.wholeMsg)
            info = IncomingInfo(remote_uri=uri, remote_name=name, remote_number=number,
                                request_user=request_user(whole.split("\r\n", 1)[0]),
                                source=from_wire(prm.rdata.srcAddress), headers=_parse_headers(whole),
                                call_id=from_wire(ci.callIdString))
            account = None if self.index == DIRECT else self.index
            self.backend.listener.on_incoming_call(prm.callId, account, info)
        except Exception as exc:     # a call nobody took up must not ring on unseen: refuse it (500)
            _noise.failed("callback onIncomingCall", f"incoming call {prm.callId} (refused)", exc, logging.WARNING)
            try:
                self.backend.answer(prm.callId, 500)
            except Exception:
                pass
        finally:
            self.backend._in_incoming = None


_PRESENCE = {pj.PJSUA_BUDDY_STATUS_ONLINE: "online", pj.PJSUA_BUDDY_STATUS_OFFLINE: "offline"}
_ACTIVITY = {pj.PJRPID_ACTIVITY_BUSY: "busy", pj.PJRPID_ACTIVITY_AWAY: "away"}


class _Buddy(_OnlyDestroyedOnSipThread, pj.Buddy):  # type: ignore[misc]  # pjsua2 has no stubs
    """A presence subscription to one extension, for a BLF key."""

    def __init__(self, backend: _BackendState, handle: int):
        super().__init__()
        self.backend = backend
        self.handle = handle

    @_guarded
    def onBuddyState(self) -> None:
        try:
            info = self.getInfo()
        except pj.Error:
            return
        pres = info.presStatus
        status = _PRESENCE.get(pres.status, "unknown")
        activity = _ACTIVITY.get(pres.activity, "")
        note = from_wire(pres.note or pres.statusText or "")
        handle = self.handle
        self.backend._post(lambda: self.backend.listener.on_buddy_state(handle, status, activity, note))


def _budget_key(call_id: str) -> str:
    """A Call-ID as the INVITE gate keys it (the header's bytes read as latin-1): pjsua2 hands non-UTF-8
    bytes over as lone surrogates, which this turns back into those bytes."""
    try:
        return call_id.encode("utf-8", "surrogateescape").decode("latin-1")
    except UnicodeError:
        return call_id

def _parse_headers(whole: str) -> dict[str, str]:
    head = whole.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    out: dict[str, str] = {}
    for line in head:
        if ":" in line:
            k, v = line.split(":", 1)
            out.setdefault(k.strip().lower(), v.strip())
    return out
