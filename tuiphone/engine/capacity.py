"""How much the phone takes on: the media sockets its calls may hold, and the gate that refuses the rest.

pjlib's select ioqueue has a fixed number of handles (64 in the pjsua2 wheel) and aborts the process
(an assertion) when it runs out. Every RTP/RTCP socket of a call takes one, and a closed socket gives its
handle back only 500 ms later (PJ_IOQUEUE_KEY_FREE_DELAY), so a flood of short calls drains the ioqueue
even when few calls are up at once. pjsua opens a call's sockets as soon as the INVITE arrives, before the
phone hears of the call, so the refusal has to come first: `InviteGate` is a pjsip module that sees every
request before the transaction layer does and

- answers a new INVITE 503 (Retry-After) statelessly when its sockets would not fit in `SocketBudget`,
  or 486 when pjsua has no call slot left; no socket is opened for it;
- sets the port of every m-line but one audio stream to 0 in any INVITE's offer (RFC 3264: the answer
  keeps them, with port 0), so one call never opens more than one RTP/RTCP pair.

Everything here runs on the SIP thread. Like localport.py, it reaches pjsip through ctypes on the
library pjsua2 is built into (engine/sip/ passes it): pjsua2 has no Python API for a pjsip module.
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

IOQUEUE_HANDLES = 64          # PJ_IOQUEUE_MAX_HANDLES of the wheel (checked at start: see ioqueue_limits)
HANDLE_MARGIN = 4             # handles kept back for what pjmedia opens on its own
KEY_FREE_DELAY_S = 0.55       # pjlib holds a closed socket's handle 0.5 s (PJ_IOQUEUE_KEY_FREE_DELAY), from the close
SOCKETS_PER_STREAM = 2        # RTP and RTCP
RETRY_AFTER_S = 2
REFUSAL_LOG_EVERY_S = 10.0

SOURCE_SHARE = 0.5            # one source address may hold at most this part of the sockets: a flood from one
                              # place cannot starve calls from others
_PKT_OFFSET_GUESS = 320       # offsetof(pjsip_rx_data, pkt_info.packet) on 64-bit Linux (checked per packet)
_PKT_MAX = 4000               # PJSIP_MAX_PKT_LEN
_SRC_NAME_AFTER = _PKT_MAX + 48    # pkt_info: packet, zero, len, src_addr (28), src_addr_len, src_name[46]
_SRC_PORT_AFTER = _PKT_MAX + 96    # ... src_port
_MOD_PRIORITY = 15            # PJSIP_MOD_PRIORITY_TSX_LAYER - 1: before retransmissions and dialogs are matched


# ----- the socket budget -------------------------------------------------------------------------------
@dataclass
class _Use:
    sockets: int
    source: str = ""                   # "ip:port" the INVITE came from ("" for our own calls)
    released: float | None = None      # monotonic time the call gave its sockets back
    confirmed: bool = False            # pjsua made a call of it (else it gave the sockets back at once)


class SocketBudget:
    """Counts the media ioqueue's handles the phone's calls hold, plus those of calls that ended less than
    `hold_s` ago (pjlib does not reuse them sooner). Keyed by SIP Call-ID."""

    def __init__(self, limit: int = IOQUEUE_HANDLES - HANDLE_MARGIN, hold_s: float = KEY_FREE_DELAY_S):
        self.limit = limit
        self.hold_s = hold_s
        self._uses: dict[str, _Use] = {}

    def in_use(self, now: float) -> int:
        self._forget(now)
        return sum(u.sockets for u in self._uses.values())

    def fits(self, sockets: int, now: float, source: str = "") -> bool:
        """Room for `sockets` more, and (for a call from `source`) within that source's share."""
        if self.in_use(now) + sockets > self.limit:
            return False
        if not source:
            return True
        held = sum(u.sockets for u in self._uses.values() if u.source == source)
        return held + sockets <= max(SOCKETS_PER_STREAM, int(self.limit * SOURCE_SHARE))

    def known(self, call_id: str) -> bool:
        use = self._uses.get(call_id)
        return use is not None and use.released is None

    def take(self, call_id: str, sockets: int, now: float, confirmed: bool = False, source: str = "") -> None:
        """A call (about to be) made with `sockets` media sockets; a second take keeps the larger count."""
        use = self._uses.get(call_id)
        if use is None or use.released is not None:
            self._uses[call_id] = _Use(sockets, source=source, confirmed=confirmed)
        else:
            use.sockets = max(use.sockets, sockets)
            use.confirmed = use.confirmed or confirmed

    def confirm(self, call_id: str, sockets: int, now: float) -> None:
        self.take(call_id, sockets, now, confirmed=True)

    def release(self, call_id: str, now: float) -> None:
        use = self._uses.get(call_id)
        if use is not None and use.released is None:
            use.released = now

    def settle(self, now: float) -> None:
        """INVITEs let through that pjsua did not make a call of (it refused them itself): sockets given back."""
        for use in self._uses.values():
            if not use.confirmed and use.released is None:
                use.released = now

    def _forget(self, now: float) -> None:
        gone = [k for k, u in self._uses.items() if u.released is not None and now - u.released >= self.hold_s]
        for key in gone:
            del self._uses[key]


# ----- reading an INVITE -------------------------------------------------------------------------------
_M_LINE = re.compile(rb"^m=(\w+) +(\d+)(/\d+)? +(\S+)", re.M)
_CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.M | re.I)
_TO = re.compile(rb"^(?:To|t)[ \t]*:([^\r\n]*)", re.M | re.I)
_VIA = re.compile(rb"^(?:Via|v)[ \t]*:[ \t]*SIP/2\.0/\w+[ \t]+([^;,\s]+)", re.M | re.I)
_RTP = (b"RTP/AVP", b"RTP/SAVP", b"RTP/AVPF", b"RTP/SAVPF")


@dataclass(frozen=True)
class Offer:
    """What an INVITE asks for: its Call-ID, whether it starts a dialog, the media streams it offers (m-lines
    with a port) and the byte spans of the ports to set to 0 so that one audio stream is left."""
    call_id: str
    initial: bool
    streams: int
    drop_ports: tuple[tuple[int, int], ...]
    via: str = ""                      # sent-by of the top Via (the source when pjsip's is not readable)

    @property
    def sockets(self) -> int:
        """Media sockets pjsua opens for it once the extra streams are dropped (also one stream with no SDP)."""
        return SOCKETS_PER_STREAM


def read_invite(packet: bytes) -> Offer | None:
    """The Offer of an INVITE's text (None when it is not an INVITE or has no Call-ID)."""
    if not packet.startswith(b"INVITE "):
        return None
    head_end = packet.find(b"\r\n\r\n")
    head = packet if head_end < 0 else packet[:head_end]
    cid = _CALL_ID.search(head)
    if cid is None:
        return None
    to = _TO.search(head)
    initial = to is None or b";tag=" not in to.group(1).replace(b" ", b"").lower()
    body_at = len(packet) if head_end < 0 else head_end + 4
    streams, keep, drops = 0, None, []
    lines = [(m.group(1), m.start(2), m.group(2), m.group(4))
             for m in _M_LINE.finditer(packet, body_at)]
    lines = [(kind, at, port, proto) for kind, at, port, proto in lines if int(port) != 0]
    for kind, at, _port, proto in lines:
        if kind == b"audio" and proto.upper() in _RTP:
            keep = at
            break
    if keep is None:
        keep = next((at for kind, at, _, _ in lines if kind == b"audio"), None)
    for _kind, at, port, _ in lines:
        streams += 1
        if at != keep:
            drops.append((at, len(port)))
    via = _VIA.search(head)
    return Offer(call_id=cid.group(1).decode("latin-1"), initial=initial,
                 streams=streams - len(drops), drop_ports=tuple(drops),
                 via=via.group(1).decode("latin-1") if via else "")


# ----- the pjsip module ----------------------------------------------------------------------------------
class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


_ON_RX = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _Module(ctypes.Structure):
    """struct pjsip_module (sip_module.h)."""
    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("name", _PjStr),
                ("id", ctypes.c_int), ("priority", ctypes.c_int),
                ("load", ctypes.c_void_p), ("start", ctypes.c_void_p), ("stop", ctypes.c_void_p),
                ("unload", ctypes.c_void_p), ("on_rx_request", _ON_RX), ("on_rx_response", ctypes.c_void_p),
                ("on_tx_request", ctypes.c_void_p), ("on_tx_response", ctypes.c_void_p),
                ("on_tsx_state", ctypes.c_void_p)]


def ioqueue_limits(lib: ctypes.CDLL) -> tuple[int, int] | None:
    """(max, count) of pjmedia's ioqueue, read from `struct pj_ioqueue_t` of ioqueue_select.c (lock,
    auto_delete_lock, cfg{2 ints}, max, count); None when pjmedia has no ioqueue of its own."""
    try:
        lib.pjsua_get_pjmedia_endpt.restype = ctypes.c_void_p
        lib.pjmedia_endpt_get_ioqueue.restype = ctypes.c_void_p
        lib.pjmedia_endpt_get_ioqueue.argtypes = [ctypes.c_void_p]
        ioq = lib.pjmedia_endpt_get_ioqueue(lib.pjsua_get_pjmedia_endpt())
    except (AttributeError, OSError):
        return None
    if not ioq:
        return None
    return ctypes.c_uint.from_address(ioq + 20).value, ctypes.c_uint.from_address(ioq + 24).value


class InviteGate:
    """The pjsip module that refuses INVITEs the phone has no room for and trims offers to one audio stream."""

    def __init__(self, lib: ctypes.CDLL, budget: SocketBudget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.refused = {486: 0, 503: 0}
        self._clock = clock
        self._lib = lib
        self._pkt_offset: int | None = None
        self._told_source = False
        self._unreported = 0
        self._last_report = 0.0
        lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
        lib.pjsip_rx_data_get_info.restype = ctypes.c_char_p
        lib.pjsip_rx_data_get_info.argtypes = [ctypes.c_void_p]
        lib.pjsip_endpt_register_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.pjsip_endpt_unregister_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.pjsip_endpt_respond_stateless.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.pjsua_pool_create.restype = ctypes.c_void_p
        lib.pjsua_pool_create.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]
        lib.pjsip_retry_after_hdr_create.restype = ctypes.c_void_p
        lib.pjsip_retry_after_hdr_create.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.pj_pool_release.argtypes = [ctypes.c_void_p]
        self._endpt = lib.pjsua_get_pjsip_endpt()
        self._max_calls: int = lib.pjsua_call_get_max_count()
        self._name = ctypes.create_string_buffer(b"mod-tuiphone-gate")
        self._on_rx = _ON_RX(self._on_rx_request)
        self._mod = _Module(name=_PjStr(ctypes.cast(self._name, ctypes.c_char_p), len(self._name.value)),
                            id=-1, priority=_MOD_PRIORITY, on_rx_request=self._on_rx)
        # a header list holding one Retry-After, for 503 (respond_stateless clones what it sends)
        self._pool = lib.pjsua_pool_create(b"tuiphone-gate", 512, 512)
        hdr = lib.pjsip_retry_after_hdr_create(self._pool, RETRY_AFTER_S)
        self._retry_list = (ctypes.c_void_p * 2)()
        self._retry_list[0] = self._retry_list[1] = hdr
        links = (ctypes.c_void_p * 2).from_address(hdr)
        links[0] = links[1] = ctypes.addressof(self._retry_list)
        status = lib.pjsip_endpt_register_module(self._endpt, ctypes.byref(self._mod))
        if status != 0:
            raise OSError(f"cannot add the INVITE gate to pjsip (status {status})")

    @property
    def max_calls(self) -> int:
        return self._max_calls

    def close(self) -> None:
        """Take the module out of pjsip and give its pool back (before the endpoint is destroyed)."""
        if self._endpt:
            self._lib.pjsip_endpt_unregister_module(self._endpt, ctypes.byref(self._mod))
            self._lib.pj_pool_release(self._pool)
            self._endpt = None

    # ----- pjsip calls this for every request it receives ---------------------------------------------
    def _on_rx_request(self, rdata: int) -> int:
        try:
            info = self._lib.pjsip_rx_data_get_info(rdata) or b""
            if not info.startswith(b"Request msg INVITE/"):
                return 0
            return self._on_invite(rdata)
        except Exception:          # a bug here must not take pjsip down; pjsua handles the request
            log.exception("INVITE gate failed")
            return 0

    def _packet_at(self, rdata: int) -> int | None:
        """Address of the received message text in rdata (pkt_info.packet), found once and checked each time."""
        off = self._pkt_offset
        if off is not None and ctypes.string_at(rdata + off, 7) == b"INVITE ":
            return rdata + off
        for off in (_PKT_OFFSET_GUESS, *range(0, 1024, 8)):
            if ctypes.string_at(rdata + off, 7) == b"INVITE ":
                self._pkt_offset = off
                return int(rdata + off)
        return None

    def _on_invite(self, rdata: int) -> int:
        at = self._packet_at(rdata)
        if at is None:
            return 0               # a message pjsip holds elsewhere (TCP with several in one read): pjsua's
        text = ctypes.string_at(at, _PKT_MAX).split(b"\0", 1)[0]
        offer = read_invite(text)
        if offer is None:
            return 0
        for pos, size in offer.drop_ports:
            ctypes.memmove(at + pos, b"0" * size, size)      # parsed in place: pjsua reads these ports as 0
        if not offer.initial or self.budget.known(offer.call_id):
            return 0               # a re-INVITE or a retransmission: the dialog or transaction has it
        now = self._clock()
        if self._lib.pjsua_call_get_count() >= self._max_calls:
            return self._refuse(rdata, 486)
        source = self._source(rdata)
        if not self._told_source:
            self._told_source = True
            log.info("INVITE gate: first INVITE from %s (%s)", source or offer.via,
                     "pjsip's source address" if source else "its Via header")
        source = source or offer.via
        if not self.budget.fits(offer.sockets, now, source):
            return self._refuse(rdata, 503)
        self.budget.take(offer.call_id, offer.sockets, now, source=source)
        return 0

    def _source(self, rdata: int) -> str:
        """ip:port the packet came from (pkt_info.src_name, src_port), or "" when that does not look right."""
        if self._pkt_offset is None:
            return ""
        base = rdata + self._pkt_offset
        name = ctypes.string_at(base + _SRC_NAME_AFTER, 46).split(b"\0", 1)[0].decode("latin-1")
        port = ctypes.c_int.from_address(base + _SRC_PORT_AFTER).value
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return ""
        return f"{name}:{port}" if 0 < port < 65536 else ""

    def _refuse(self, rdata: int, code: int) -> int:
        hdrs = ctypes.addressof(self._retry_list) if code == 503 else None
        self._lib.pjsip_endpt_respond_stateless(self._endpt, rdata, code, None, hdrs, None)
        self.refused[code] += 1
        self._unreported += 1
        now = self._clock()
        if now - self._last_report >= REFUSAL_LOG_EVERY_S:
            log.info("refused %d INVITE(s) beyond the phone's capacity (%d busy, %d out of media sockets so far)",
                     self._unreported, self.refused[486], self.refused[503])
            self._unreported, self._last_report = 0, now
        return 1
