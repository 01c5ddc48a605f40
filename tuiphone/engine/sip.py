"""The pjsua2 adapter: the only module that imports pjsua2.

One SIP thread creates the Endpoint (so it is pjsua's main thread), polls it, and runs every command
handed to it through `submit`. pjsua2 callbacks become calls on the `BackendListener`, always on the SIP
thread. The phone's microphone and speaker meet the calls the user talks on through the local port, a C
port (localport.py) that the sound card's callbacks drive, so pjmedia's clock never waits for Python. A
call gets an `AudioMediaPort` of its own, copying 20 ms frames between pjmedia and numpy sources/sinks, only
while its media has a source or sinks (a file, a tone, a recording with no local audio).
"""

from __future__ import annotations

import ctypes
import gc
import os
import heapq
import itertools
import logging
import queue
import re
import socket
import sys
import threading
import time
import weakref
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np
import pjsua2 as pj

from tuiphone.engine.backend import (
    AccountSettings,
    BackendListener,
    CallMedia,
    IncomingInfo,
    TransportSettings,
)
from tuiphone.engine.capacity import HANDLE_MARGIN, InviteGate, SocketBudget, ioqueue_limits
from tuiphone.engine.events import SipMessage
from tuiphone.engine.localport import LocalPort, LocalPortError
from tuiphone.engine.quality import CallQuality, estimate_mos
from tuiphone.engine.sipuri import request_user, split_name_uri
from tuiphone.engine.tcp_guard import TcpGuard
from tuiphone.engine.wiretext import from_wire
from tuiphone.logthrottle import LogThrottle

log = logging.getLogger(__name__)
# what the network can make us log at will (pjsip's words on bad packets, failing callbacks): a few lines a minute
_noise = LogThrottle(log)
_PJ_LINE_RE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}\s+(\S+)\s+[.!]*\s*")

CLOCK_RATE = 16000
FRAME_SAMPLES = 320          # 20 ms at 16 kHz
DIRECT = -1                  # account index of the built-in direct-IP account
IDLE_POLL_MS = 100           # the SIP thread's longest wait for network events when nothing else is due
LINE_CHECK_S = 2.0           # how often the listener checks its lines against the calls pjsua still has
STREAM_SETTLE_S = 0.3        # a re-INVITE waits at most this long for a new stream's first packets (_stream_settled)
SOCKETS_PER_CALL = 2         # RTP + RTCP: the INVITE gate (capacity.py) trims offers to one audio stream

_TRANSPORT_TYPES = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}
_NAT_TYPES = {pj.PJ_STUN_NAT_TYPE_OPEN: "open", pj.PJ_STUN_NAT_TYPE_BLOCKED: "blocked",
              pj.PJ_STUN_NAT_TYPE_SYMMETRIC_UDP: "symmetric_udp", pj.PJ_STUN_NAT_TYPE_FULL_CONE: "full_cone",
              pj.PJ_STUN_NAT_TYPE_SYMMETRIC: "symmetric", pj.PJ_STUN_NAT_TYPE_RESTRICTED: "restricted",
              pj.PJ_STUN_NAT_TYPE_PORT_RESTRICTED: "port_restricted"}
_SRTP = {"off": pj.PJMEDIA_SRTP_DISABLED, "optional": pj.PJMEDIA_SRTP_OPTIONAL,
         "mandatory": pj.PJMEDIA_SRTP_MANDATORY}
_CALL_STATES = {
    pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming",
    pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}
_MSG_RE = re.compile(
    r"(?P<dir>TX|RX) \d+ bytes (?:Request|Response) msg \S+ \(\w+\) (?:to|from) "
    r"(?P<tp>\w+) (?P<addr>\[[^\]]*\]:\d+|[^:\s]+:\d+):\r?\n(?P<body>.*)",
    re.S,
)


@contextmanager
def _quiet_stdio() -> Iterator[None]:
    """Send C-level stdout/stderr to /dev/null: pjlib prints a banner with printf before our writer exists."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        _libc.fflush(None)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """A pjsua2 callback that never lets an exception out (SWIG would print its traceback to stderr and
    pjsua carry on with the work half done): one short rate-limited log line instead."""
    def run(self: Any, *args: Any) -> None:
        try:
            fn(self, *args)
        except Exception as exc:
            _noise.failed(f"callback {fn.__name__}", f"pjsua2 callback {fn.__name__}", exc, logging.WARNING)
    run.__name__, run.__qualname__, run.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return run


_libc = ctypes.CDLL(None)
# pjlib registers the first thread that uses it and refuses others, so every endpoint this process
# creates lives on this one long-lived SIP thread (one at a time: pjsua is a per-process singleton).
class _SipThread:
    """A daemon thread that runs one endpoint's loop after another (a daemon, so a forgotten stop() cannot hang exit)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], None], Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[], None]) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="sip", daemon=True)
                self._thread.start()
        self._queue.put((fn, fut))
        return fut

    def _serve(self) -> None:
        global _sip_thread_ident
        _sip_thread_ident = threading.get_ident()
        while True:
            fn, fut = self._queue.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)


_SIP_THREAD = _SipThread()


class _LogWriter(pj.LogWriter):
    """Turns pjsip's message log into SipMessage events (this also sees what went over TLS)."""

    def __init__(self, backend: "PjsuaBackend"):
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


_sip_thread_ident: int | None = None     # the thread that owns pjlib (see _SipThread)


class _OnlyDestroyedOnSipThread:
    """pjsua2 objects whose C++ destructors call pjlib: if Python frees one on another thread (a traceback,
    a UI reference) or after the endpoint is gone, pjlib would abort; leak the C++ object instead."""

    def __del__(self) -> None:
        backend = getattr(self, "backend", None)
        alive = backend is not None and backend._ep is not None
        if not alive or threading.get_ident() != _sip_thread_ident:
            try:
                self.thisown = False
            except Exception:
                pass


def _vector_bytes_slow(vec: Any) -> bytes:
    return bytes(bytearray(vec))       # ~1 µs per byte: SWIG walks the vector element by element


def _vector_bytes_fast(vec: Any) -> bytes:
    """Read a std::vector<unsigned char> in place: [begin, end) are its first two pointers in libstdc++."""
    addr = int(vec.this)
    begin = ctypes.c_void_p.from_address(addr).value
    end = ctypes.c_void_p.from_address(addr + ctypes.sizeof(ctypes.c_void_p)).value
    n = vec.size()
    if begin is None or end is None or end - begin != n:
        return _vector_bytes_slow(vec)
    return ctypes.string_at(begin, n)


def _pick_vector_reader() -> Callable[[Any], bytes]:
    probe = bytes(range(256)) * 3
    try:
        if _vector_bytes_fast(pj.ByteVector(probe)) == probe:
            return _vector_bytes_fast
    except Exception:
        pass
    return _vector_bytes_slow


_vector_bytes = _pick_vector_reader()

class _FrameHead(ctypes.Structure):
    """The start of a pj::MediaFrame {pjmedia_frame_type type; ByteVector buf; ...} with libstdc++'s vector."""

    _fields_ = [("type", ctypes.c_int), ("begin", ctypes.c_void_p), ("end", ctypes.c_void_p)]


def _frame_layout_known() -> bool:
    """True when a MediaFrame can be read in place as a _FrameHead (checked on a real frame)."""
    probe = bytes(range(256)) * 2 + bytes(128)
    try:
        frame = pj.MediaFrame()
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(probe)
        head = _FrameHead.from_address(int(frame.this))
        return (head.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and head.end - head.begin == len(probe)
                and ctypes.string_at(head.begin, len(probe)) == probe)
    except Exception:
        return False


_FRAME_LAYOUT_KNOWN = _frame_layout_known()


def _vector_view(vec: Any) -> np.ndarray | None:
    """The int16 samples of a std::vector<unsigned char> as a numpy view of its memory (None when the layout
    is not libstdc++'s); valid while the vector lives and is not resized."""
    try:
        addr = int(vec.this)
        begin = ctypes.c_void_p.from_address(addr).value
        end = ctypes.c_void_p.from_address(addr + ctypes.sizeof(ctypes.c_void_p)).value
        n = vec.size()
        if begin is None or end is None or end - begin != n:
            return None
        view = np.frombuffer((ctypes.c_char * n).from_address(begin), dtype=np.int16)
        view[:1] = 0x0102
        ok = vec[0] in (1, 2)
        view[:1] = 0
        return view if ok else None
    except Exception:
        return None


class _KeptState(threading.local):
    state: int | None = None       # what our own PyGILState_Ensure returned on this thread


_thread_state_kept = _KeptState()
_AUDIO_FRAME = pj.PJMEDIA_FRAME_TYPE_AUDIO
FRAME_BYTES = FRAME_SAMPLES * 2
_QUIET_TICKS = 25                           # 0.5 s of frames with no audio: the port is idle


def _keep_thread_state() -> None:
    """Give the calling non-Python thread a lasting Python thread state while its audio flows.

    pjmedia's clock thread is not Python's: SWIG's PyGILState_Ensure/Release would create and free a thread
    state (and map and unmap its frame stack) around every frame callback, 100 times a second per port.
    One extra Ensure keeps it; _let_thread_state_go gives it back when the audio stops, before pjsua closes
    the clock thread (1 s after the last connection), so a finished thread leaves no state behind.
    """
    if _thread_state_kept.state is None:
        _thread_state_kept.state = ctypes.pythonapi.PyGILState_Ensure()


def _let_thread_state_go() -> None:
    state = _thread_state_kept.state
    if state is not None:
        _thread_state_kept.state = None
        ctypes.pythonapi.PyGILState_Release(state)     # SWIG's own Release, after this callback, frees it


class _FramePort(_OnlyDestroyedOnSipThread, pj.AudioMediaPort):
    """Copies 20 ms frames between pjsua's bridge and a CallMedia. Runs on pjmedia's clock thread.

    Nothing is allocated per frame: the outgoing frame is written into one preallocated vector
    (which pjsua2 copies), the incoming one is read in place.
    """

    def __init__(self, media: CallMedia):
        super().__init__()
        self.media = media
        self.muted = False
        self._vector = pj.ByteVector(FRAME_SAMPLES * 2)
        self._samples = _vector_view(self._vector)     # None: fall back to a new vector per frame
        self._silence = pj.ByteVector(FRAME_SAMPLES * 2)
        self._received = np.zeros(FRAME_SAMPLES, dtype=np.int16)     # sinks copy what they keep
        self._received_at = self._received.ctypes.data
        self._quiet = 0                    # frames in a row with no audio either way

    def onFrameRequested(self, frame: Any) -> None:
        if _thread_state_kept.state is None:
            _keep_thread_state()
        self._quiet = 0
        src = self.media.source
        vector = self._silence
        if src is not None and not self.muted:
            try:
                pcm = src.read(FRAME_SAMPLES)
                samples = self._samples
                if samples is None:
                    vector = pj.ByteVector(np.asarray(pcm, dtype=np.int16).tobytes())
                elif len(pcm) == FRAME_SAMPLES:
                    np.copyto(samples, pcm)
                    vector = self._vector
                else:
                    n = min(len(pcm), FRAME_SAMPLES)
                    samples[:n] = pcm[:n]
                    samples[n:] = 0
                    vector = self._vector
            except Exception:  # a broken source must not stop the call's audio
                log.exception("audio source failed; sending silence")
                self.media.source = None
        frame.type = _AUDIO_FRAME
        frame.buf = vector
        frame.size = FRAME_BYTES

    def onFrameReceived(self, frame: Any) -> None:
        head = _FrameHead.from_address(int(frame.this)) if _FRAME_LAYOUT_KNOWN else frame
        if head.type != _AUDIO_FRAME:
            self._quiet += 1               # the bridge's heartbeat to a port nothing sends to
            if self._quiet == _QUIET_TICKS:
                _let_thread_state_go()
            return
        if _thread_state_kept.state is None:
            _keep_thread_state()
        self._quiet = 0
        sinks = self.media.sinks
        if not sinks:
            return
        if head is not frame:
            n = min(head.end - head.begin, FRAME_BYTES)
            ctypes.memmove(self._received_at, head.begin, n)
            pcm = self._received if n == FRAME_BYTES else self._received[: n // 2]
        else:
            pcm = np.frombuffer(_vector_bytes(frame.buf), dtype=np.int16)
        for sink in tuple(sinks):
            try:
                sink.write(pcm)
            except Exception:
                log.exception("audio sink failed; removed")
                self.media.sinks.remove(sink)


_CALL_ID_OFFSET = 2 * ctypes.sizeof(ctypes.c_void_p)


class _Call(_OnlyDestroyedOnSipThread, pj.Call):
    live: "weakref.WeakSet[_Call]" = weakref.WeakSet()

    def __init__(self, backend: "PjsuaBackend", acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
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


class _Account(_OnlyDestroyedOnSipThread, pj.Account):
    def __init__(self, backend: "PjsuaBackend", index: int):
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


class _Buddy(_OnlyDestroyedOnSipThread, pj.Buddy):
    """A presence subscription to one extension, for a BLF key."""

    def __init__(self, backend: "PjsuaBackend", handle: int):
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


def _make_port(name: str, media: CallMedia, backend: "PjsuaBackend") -> _FramePort:
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.clockRate = CLOCK_RATE
    fmt.channelCount = 1
    fmt.bitsPerSample = 16
    fmt.frameTimeUsec = 20000
    port = _FramePort(media)
    port.backend = backend
    port.createPort(name, fmt)
    return port


def _stream_settled(call: Any) -> bool:
    """Whether the call's audio stream has sent its first RTP packet (when it sends) and heard the far end's
    (when it receives). A re-INVITE rebuilds the stream, and pjsua carries the RTP sequence number over to
    the new one from the old one's last packet sent; one rebuilt before its first packet was counted starts
    again from 0, while SRTP (offered on every call) has already protected a higher one: libsrtp then refuses
    every packet of the new stream ("replay check failed (index too old)") and that direction stays silent
    for the rest of the call. The same holds for the far end's stream, which our re-INVITE rebuilds."""
    try:
        ci = call.getInfo()
        dirs = [mi.dir for mi in ci.media
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status != pj.PJSUA_CALL_MEDIA_NONE]
        if not dirs:
            return True
        st = call.getStreamStat(0).rtcp
    except pj.Error:
        return True
    sent = not dirs[0] & pj.PJMEDIA_DIR_ENCODING or st.txStat.pkt > 0
    heard = not dirs[0] & pj.PJMEDIA_DIR_DECODING or st.rxStat.pkt > 0
    return bool(sent and heard)


def _budget_key(call_id: str) -> str:
    """A Call-ID as the INVITE gate keys it (the header's bytes read as latin-1): pjsua2 hands non-UTF-8
    bytes over as lone surrogates, which this turns back into those bytes."""
    try:
        return call_id.encode("utf-8", "surrogateescape").decode("latin-1")
    except UnicodeError:
        return call_id


def _audio_of(call: Any) -> Any:
    """The call's current audio media (fresh: a re-INVITE may have rebuilt its stream), or None."""
    try:
        return call.getAudioMedia(-1)
    except pj.Error:
        return None


def _start(src: Any, dst: Any) -> None:
    try:
        src.startTransmit(dst)
    except pj.Error as exc:
        log.info("bridge connect failed: %s", exc.reason)


def _stop(src: Any, dst: Any) -> None:
    try:
        src.stopTransmit(dst)
    except pj.Error:
        pass       # already gone with its stream


def _add_headers(prm: Any, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        h = pj.SipHeader()
        h.hName, h.hValue = name, value
        prm.txOption.headers.append(h)


def _parse_headers(whole: str) -> dict[str, str]:
    head = whole.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    out: dict[str, str] = {}
    for line in head:
        if ":" in line:
            k, v = line.split(":", 1)
            out.setdefault(k.strip().lower(), v.strip())
    return out


class PjsuaBackend:
    """SipBackend on pjsua2. Create, set `listener`, then `start()`; every other method runs on the SIP thread."""

    def __init__(self, listener: BackendListener | None = None, log_level: int = 0):
        self.listener: BackendListener = listener  # type: ignore[assignment]
        self._log_level = log_level
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._cancelled: set[int] = set()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._ep: pj.Endpoint | None = None
        self._transports: dict[str, int] = {}
        self._local_names: dict[str, str] = {}
        self._accounts: dict[int, _Account] = {}
        self._settings_of: dict[int, AccountSettings] = {}
        self._anonymous: dict[int, _Account] = {}       # account -> its twin for anonymous calls
        self._retired: list[_Account] = []              # twins replaced while their calls went on
        self._calls: dict[int, _Call] = {}
        self._ended: list[_Call] = []                   # disconnected calls, deleted on the next loop turn
        self._in_incoming: int | None = None            # the call whose onIncomingCall is running
        self._pending_new: list[tuple[_Call, int | None, str, int | None]] = []
        self._writer: _LogWriter | None = None
        self._local: _FramePort | None = None           # the local port in Python (when no C one: see open_local_port)
        self._native: LocalPort | None = None           # the local port in C
        self._buddies: list[_Buddy | None] = []         # by watch handle; None once unwatched
        self._registered: set[int] = set()
        self._spare_ports: list[_FramePort] = []     # call ports no call uses now (see _retire_port)
        self._wake_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._wake_sock.setblocking(False)
        self._budget = SocketBudget()
        self._gate: InviteGate | None = None
        self._tcp_guard: TcpGuard | None = None
        self._wake_addr: tuple[str, int] | None = None
        self._settings = TransportSettings()

    # ----- thread plumbing -------------------------------------------------------------------
    def _post(self, fn: Callable[[], None]) -> None:
        """Run fn on the SIP thread: now if we are on it, else queued."""
        if threading.current_thread() is self._thread:
            fn()
        else:
            self._jobs.put(fn)
            self._wake()

    def _wake(self) -> None:
        """Cut short the SIP thread's wait: a CRLF keep-alive to our own UDP port (pjsip ignores it)."""
        if self._wake_addr is not None:
            try:
                self._wake_sock.sendto(b"\r\n\r\n", self._wake_addr)
            except OSError:
                pass

    def submit(self, fn: Callable[[], Any]) -> Future:
        fut: Future = Future()

        def job() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller through the future
                fut.set_exception(exc)

        if threading.current_thread() is self._thread:
            job()
        else:
            self._jobs.put(job)
            self._wake()
        return fut

    def schedule(self, delay: float, fn: Callable[[], None]) -> object:
        """Run fn on the SIP thread after `delay` seconds (call it on the SIP thread)."""
        seq = next(self._timer_seq)
        heapq.heappush(self._timers, (time.monotonic() + delay, seq, fn))
        return seq

    def cancel(self, handle: object) -> None:
        if isinstance(handle, int):
            self._cancelled.add(handle)

    def on_sip_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self, settings: TransportSettings) -> None:
        """Start the SIP thread and wait until the endpoint and transports are up (raises on failure)."""
        self._settings = settings
        self._done = _SIP_THREAD.submit(self._run)
        if not self._started.wait(15):
            self._stopping.set()
            raise OSError("the SIP stack did not start: another phone may be running in this process")
        if self._start_error is not None:
            raise self._start_error

    def _run(self) -> None:
        self._thread = threading.current_thread()
        try:
            self._create_endpoint(self._settings)
        except BaseException as exc:
            self._start_error = exc
            self._destroy()          # before waking start(): the caller may exit the process at once
            self._started.set()
            return
        self._started.set()
        ep = self._ep
        next_check = time.monotonic() + LINE_CHECK_S
        while not self._stopping.is_set():
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + LINE_CHECK_S
                self._check_lines()
            self._run_due_timers()
            self._drain_jobs()
            self._adopt_new_calls()
            self._ended.clear()      # deleting a Call inside its own callback is unsafe: here it is not
            ep.libHandleEvents(self._poll_ms())
            if self._tcp_guard is not None:
                self._tcp_guard.check()
            self._budget.settle(time.monotonic())
        self._shutdown_calls()
        self._destroy()

    def _check_lines(self) -> None:
        check = getattr(self.listener, "check_lines", None)
        if check is not None:
            try:
                check()
            except Exception:
                log.exception("line check failed")

    def _poll_ms(self) -> int:
        """How long pjsua may wait for network events: until our next timer, at most IDLE_POLL_MS (pjsua's own
        timers cut it short themselves); work from other threads wakes it at once (`_wake`). With no UDP
        transport to wake it through, 10 ms."""
        if self._wake_addr is None:
            return 10
        if not self._jobs.empty() or self._pending_new:
            return 0
        wait_ms = IDLE_POLL_MS
        if self._timers:
            wait_ms = min(wait_ms, max(0, int((self._timers[0][0] - time.monotonic()) * 1000) + 1))
        return wait_ms

    def _drain_jobs(self) -> None:
        for _ in range(200):
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            try:
                job()
            except Exception as exc:
                _noise.failed("job", "SIP thread job", exc)

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, seq, fn = heapq.heappop(self._timers)
            if seq in self._cancelled:
                self._cancelled.discard(seq)
                continue
            try:
                fn()
            except Exception as exc:
                _noise.failed("timer", "SIP timer", exc)

    def _adopt_new_calls(self) -> None:
        while self._pending_new:
            call, account, uri, replaces = self._pending_new.pop(0)
            cid = call.getId()
            if cid == pj.PJSUA_INVALID_ID or cid < 0:
                continue
            self._calls[cid] = call
            try:
                info = call.getInfo()
                self._budget.confirm(_budget_key(info.callIdString), SOCKETS_PER_CALL, time.monotonic())
                uri = uri or split_name_uri(from_wire(info.remoteUri))[1]
            except pj.Error:
                pass
            self.listener.on_new_call(cid, account, uri, replaces)

    def _create_endpoint(self, s: TransportSettings) -> None:
        with _quiet_stdio():
            ep = pj.Endpoint()
            ep.libCreate()
        self._ep = ep
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = s.user_agent
        cfg.uaConfig.maxCalls = 32
        if s.stun_server:     # pjsua finds the public address with it and detects the NAT type (natGetType)
            cfg.uaConfig.stunServer.append(s.stun_server)
            cfg.uaConfig.stunIgnoreFailure = True
        lc = cfg.logConfig
        self._writer = _LogWriter(self)
        # the endpoint deletes its writer in libDestroy: hand ownership over, or Python deletes it twice
        self._writer.__disown__()
        lc.writer = self._writer
        lc.level = max(4, self._log_level)
        lc.consoleLevel = max(4, self._log_level)
        lc.msgLogging = 1
        cfg.medConfig.clockRate = CLOCK_RATE
        cfg.medConfig.sndClockRate = CLOCK_RATE
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        ep.libInit(cfg)
        self._create_transports(ep, s)
        ep.audDevManager().setNullDev()
        ep.libStart()
        self._open_gate()
        self._guard_tcp()
        self._set_codecs(ep, s.codecs)
        self._make_direct_account()

    def _open_gate(self) -> None:
        """Refuse INVITEs beyond the phone's capacity before pjsua opens sockets for them (capacity.py)."""
        lib = ctypes.CDLL(pj._pjsua2.__file__)
        limits = ioqueue_limits(lib)
        if limits is not None and not 0 <= limits[1] < limits[0] <= 4096:
            limits = None           # not the select ioqueue's layout: keep the default budget
        if limits is not None:
            handles, used = limits
            self._budget.limit = max(SOCKETS_PER_CALL, min(self._budget.limit, handles - HANDLE_MARGIN - used))
        try:
            self._gate = InviteGate(lib, self._budget)
        except (AttributeError, OSError) as exc:
            log.warning("%s: floods of INVITEs can exhaust pjsua's sockets", exc)
            return
        log.info("capacity: %d calls at once, %d media sockets (ioqueue %s)", self._gate.max_calls,
                 self._budget.limit, "%d handles, %d in use" % limits if limits else "unknown")

    def _guard_tcp(self) -> None:
        """Hold off new TCP/TLS connections while pjsip is short of socket handles (tcp_guard.py)."""
        ports = {int(self._local_names[t].rsplit(":", 1)[1]) for t in ("tcp", "tls") if t in self._local_names}
        if ports:
            self._tcp_guard = TcpGuard.install(ctypes.CDLL(pj._pjsua2.__file__), ports)

    def max_calls(self) -> int:
        """How many calls pjsua holds at once (PJSUA_MAX_CALLS of the build caps uaConfig.maxCalls)."""
        return self._gate.max_calls if self._gate is not None else 4

    def _create_transports(self, ep: pj.Endpoint, s: TransportSettings) -> None:
        port = s.port
        for name in ("udp", "tcp"):
            if name not in s.transports:
                continue
            tc = pj.TransportConfig()
            tc.port = port
            if s.bind_address:
                tc.boundAddress = s.bind_address
                tc.publicAddress = s.bind_address
            try:
                tid = ep.transportCreate(_TRANSPORT_TYPES[name], tc)
            except pj.Error as exc:
                raise OSError(f"cannot open the SIP {name.upper()} port {port}: {exc.reason}") from None
            self._transports[name] = tid
            self._local_names[name] = ep.transportGetInfo(tid).localName
            if name == "udp":
                wake_host = s.bind_address if s.bind_address and ":" not in s.bind_address else "127.0.0.1"
                if wake_host in ("0.0.0.0", ""):
                    wake_host = "127.0.0.1"
                self._wake_sock.bind((wake_host, 0))     # unbound, sendto would open it on 0.0.0.0
                self._wake_addr = (wake_host, int(self._local_names[name].rsplit(":", 1)[1]))
            if port == 0:  # the next transport shares the port the first one got
                port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        if "tls" in s.transports:
            tc = pj.TransportConfig()
            tc.port = s.tls_port
            if s.bind_address:
                tc.boundAddress = s.bind_address
                tc.publicAddress = s.bind_address
            tls = tc.tlsConfig
            tls.verifyServer = s.tls_verify_server
            tls.CaListFile = s.tls_ca_file
            tls.certFile = s.tls_cert_file
            tls.privKeyFile = s.tls_key_file
            tls.method = pj.PJSIP_TLSV1_2_METHOD if hasattr(pj, "PJSIP_TLSV1_2_METHOD") else tls.method
            try:
                self._transports["tls"] = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tc)
                self._local_names["tls"] = ep.transportGetInfo(self._transports["tls"]).localName
            except pj.Error as exc:
                raise OSError(f"cannot open the SIP TLS port {s.tls_port}: {exc.reason}") from None

    def _set_codecs(self, ep: pj.Endpoint, codecs: tuple[str, ...]) -> None:
        wanted = [c.lower() for c in codecs]
        for info in ep.codecEnum2():
            name = info.codecId.split("/", 1)[0].lower()
            prio = 0
            if name in wanted:
                prio = 250 - wanted.index(name) * 10
                if name == "speex" and "/8000/" not in info.codecId:
                    prio -= 5
            ep.codecSetPriority(info.codecId, prio)

    def _make_direct_account(self) -> None:
        host = self.local_address("udp" if "udp" in self._transports else next(iter(self._transports)))
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:tuiphone@{host}"
        # direct calls accept an SRTP offer (a secure caller is not turned away) and offer it optionally
        cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_OPTIONAL
        cfg.mediaConfig.srtpSecureSignaling = 0
        # one crypto suite keeps the INVITE under the 1300-byte line past which pjsip moves it to TCP
        crypto = pj.SrtpCrypto()
        crypto.name = "AES_CM_128_HMAC_SHA1_80"
        cfg.mediaConfig.srtpOpt.cryptos.append(crypto)
        self._media_bind(cfg)
        acc = _Account(self, DIRECT)
        acc.create(cfg, True)
        self._accounts[DIRECT] = acc

    def _media_bind(self, cfg: pj.AccountConfig) -> None:
        if self._settings.bind_address:
            cfg.mediaConfig.transportConfig.boundAddress = self._settings.bind_address
            cfg.mediaConfig.transportConfig.publicAddress = self._settings.bind_address
        cfg.mediaConfig.transportConfig.port = self._settings.rtp_port
        cfg.mediaConfig.transportConfig.portRange = self._settings.rtp_port_range

    def stop(self) -> None:
        """Hang up every call, destroy the endpoint and end the SIP thread (bounded)."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake()
        self._done.result(15)
        self._thread = None
        self._wake_sock.close()

    def _shutdown_calls(self) -> None:
        ep = self._ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
        except pj.Error:
            pass
        deadline = time.monotonic() + 2.0
        while self._calls and time.monotonic() < deadline:
            ep.libHandleEvents(20)
            self._drain_jobs()

    def _destroy(self) -> None:
        if self._native is not None:
            self._native.close()       # the sound card's callbacks stop using it before pjsua goes
            self._native = None
        for call in self._calls.values():
            self._drop_port(call)
        if self._ep is not None:
            try:
                self._ep.audDevManager().setNoDev()    # stops the media clock: no port callback runs after this
            except pj.Error:
                pass
        time.sleep(0.05)        # a clock tick or two: no port callback may still be running below
        self._local = None
        self._spare_ports.clear()
        self._buddies.clear()
        self._wake_addr = None
        self._calls.clear()
        self._ended.clear()
        self._pending_new.clear()
        for acc in (*self._accounts.values(), *self._anonymous.values(), *self._retired):
            try:
                acc.shutdown()
            except pj.Error:
                pass
        self._accounts.clear()
        self._anonymous.clear()
        self._retired.clear()
        gc.collect()
        # A Call still referenced elsewhere (say, by a traceback) must not run its C++ destructor
        # after libDestroy: pjsua asserts. Let such survivors leak instead.
        for call in list(_Call.live):
            call.thisown = False
        if self._tcp_guard is not None:
            self._tcp_guard.close()
            self._tcp_guard = None
        if self._gate is not None:
            self._gate.close()
            self._gate = None
        if self._ep is not None:
            try:
                # with nothing registered there is nothing to wait for: skip pjsua's ~1 s of draining
                self._ep.libDestroy(0 if self._registered else pj.PJSUA_DESTROY_NO_RX_MSG)
            except pj.Error:
                pass
            self._ep = None
        self._writer = None
        _noise.flush()          # say how many of pjsip's lines on bad packets were left out

    def nat_type(self) -> str:
        """The NAT type pjsua detected with the STUN server (call on the SIP thread): "open", "full_cone",
        "restricted", "port_restricted", "symmetric", "symmetric_udp", "blocked", or "detecting",
        "failed", "off" (no STUN server)."""
        if not self._settings.stun_server or self._ep is None:
            return "off"
        try:
            kind = self._ep.natGetType()
        except pj.Error as exc:
            return "detecting" if exc.status == 70002 else "failed"     # 70002: PJ_EPENDING
        return _NAT_TYPES.get(kind, "failed")

    def local_address(self, transport: str = "udp") -> str:
        """host:port of a transport; safe from any thread (read once when the transport opened)."""
        if transport not in self._local_names:
            raise KeyError(f"transport {transport} is not enabled")
        return self._local_names[transport]

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

    # ----- calls -----------------------------------------------------------------------------
    def make_call(self, account: int | None, uri: str, headers: dict[str, str], media: CallMedia,
                  from_uri: str = "") -> int:
        acc = self._accounts[DIRECT if account is None else account]
        if from_uri and account is not None:
            acc = self._anonymous_account(account, from_uri)     # a Contact that hides the user ID too
        now = time.monotonic()
        if not self._budget.fits(SOCKETS_PER_CALL, now):
            raise ValueError(f"cannot call {uri}: the phone is out of media sockets for a moment; "
                             "try again in a second")
        call = _Call(self, acc)
        call.media = media
        prm = pj.CallOpParam(True)
        _add_headers(prm, headers)
        if from_uri:
            prm.txOption.localUri = from_uri
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            raise ValueError(f"cannot call {uri}: {exc.reason}") from None
        cid = call.getId()
        self._calls[cid] = call
        try:
            self._budget.confirm(_budget_key(call.getInfo().callIdString), SOCKETS_PER_CALL, now)
        except pj.Error:
            pass
        return cid

    def _call(self, cid: int) -> _Call:
        """The call with pjsua id `cid`; ValueError (never KeyError) when it has gone."""
        call = self._calls.get(cid)
        if call is None:
            raise ValueError(f"call {cid} has ended")
        return call

    def call_alive(self, cid: int) -> bool:
        """Whether pjsua still has the call the phone knows by `cid` (a line whose call vanished is freed)."""
        call = self._calls.get(cid)
        if call is None:
            return False
        try:
            return call.isActive()
        except pj.Error:
            return False

    def answer(self, cid: int, code: int, media: CallMedia | None = None,
               headers: dict[str, str] | None = None) -> None:
        if code >= 300 and cid == self._in_incoming:
            # pjsua2 frees the INVITE's cloned rdata once onIncomingCall returns; a refusal sent inside it may
            # end and reset the call first, and pjsip then asserts (pjsip_rx_data_free_cloned): refuse it on
            # the next loop turn instead, before any other network event
            self._jobs.put(lambda: self._end_refused(cid, code, headers))
            return
        call = self._call(cid)
        if media is not None:
            call.media = media
        prm = pj.CallOpParam()
        prm.statusCode = code
        _add_headers(prm, headers or {})
        try:
            call.answer(prm)
        except pj.Error as exc:
            raise ValueError(f"cannot answer call {cid}: {exc.reason}") from None

    def _end_refused(self, cid: int, code: int, headers: dict[str, str] | None) -> None:
        try:
            self.answer(cid, code, headers=headers)
        except (KeyError, ValueError, pj.Error):
            pass                   # the caller gave up (CANCEL) in the meantime: nothing left to refuse

    def hangup(self, cid: int, code: int = 0) -> None:
        if cid == self._in_incoming:      # see answer(): not from inside onIncomingCall
            self._jobs.put(lambda: self.hangup(cid, code))
            return
        call = self._calls.get(cid)
        if call is None:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        try:
            call.hangup(prm)
        except pj.Error as exc:
            log.info("hangup of call %s: %s", cid, exc.reason)

    def hold(self, cid: int) -> None:
        self._want_hold(cid, True)

    def unhold(self, cid: int) -> None:
        self._want_hold(cid, False)

    def _want_hold(self, cid: int, on: bool) -> None:
        """Hold or resume: one re-INVITE at a time per call, carrying what was asked last (a resume asked
        while a hold still waits replaces it, instead of racing it and losing)."""
        call = self._calls.get(cid)
        if call is None:
            return
        call.want_hold = on
        if not call.reinviting:
            call.reinviting = True
            self._reinvite(cid)

    def _reinvite(self, cid: int, tries: int = 30) -> None:
        """Send the hold or resume the call wants; while another re-INVITE of it is still pending, or its new
        stream has not sent (and heard) its first packet yet (see _stream_settled), try again shortly."""
        call = self._calls.get(cid)
        if call is None:
            return
        if time.monotonic() - call.media_since < STREAM_SETTLE_S and not _stream_settled(call):
            del call
            self.schedule(0.02, lambda: self._reinvite(cid, tries))
            return
        unhold = not call.want_hold
        prm = pj.CallOpParam(True)
        failure = None
        try:
            if unhold:
                prm.opt.flag = pj.PJSUA_CALL_UNHOLD
                call.reinvite(prm)
            else:
                call.setHold(prm)
        except pj.Error as exc:
            failure = exc.reason    # keep no reference to the exception: its frames hold the Call
        if failure is None or tries <= 0:
            call.reinviting = False
        del call
        if failure is None:
            return
        if tries > 0:
            self.schedule(0.1, lambda: self._reinvite(cid, tries - 1))
        else:
            log.warning("call %s: %s failed: %s", cid, "resume" if unhold else "hold", failure)

    def set_mute(self, cid: int, on: bool) -> None:
        call = self._call(cid)
        call.muted = on
        if call.port is not None:
            call.port.muted = on
        if call.local and call.connected_media is not None:
            am = _audio_of(call)
            if am is not None:
                self._join_local_media(call, am, True)      # the microphone stops (or starts) reaching it

    def set_media(self, cid: int, media: CallMedia) -> None:
        call = self._call(cid)
        call.media = media
        am = _audio_of(call) if call.connected_media is not None else None
        if am is not None:
            self._attach_port(call, am)
        elif call.port is not None:
            call.port.media = media

    def send_dtmf(self, cid: int, digits: str, method: str) -> None:
        prm = pj.CallSendDtmfParam()
        prm.digits = digits
        prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
        prm.duration = 160
        self._call(cid).sendDtmf(prm)

    def blind_transfer(self, cid: int, uri: str) -> None:
        self._call(cid).xfer(uri, pj.CallOpParam(True))

    def attended_transfer(self, cid: int, other_cid: int) -> None:
        prm = pj.CallOpParam(True)
        # PJSUA_XFER_NO_REQUIRE_REPLACES (not exported to Python): no "Require: replaces" in the transferee's
        # INVITE, so a target without Replaces (baresip 1.0 answers 420) takes it as a new call, as desk
        # phones send it; the phone then ends its consultation leg itself (Phone.on_transfer_status)
        prm.options = 1
        self._call(cid).xferReplaces(self._call(other_cid), prm)

    def quality(self, cid: int) -> CallQuality:
        call = self._call(cid)
        codec = ""
        try:
            codec = call.getStreamInfo(0).codecName
            st = call.getStreamStat(0).rtcp
        except pj.Error:
            return CallQuality(codec=codec, rx_packets=0, rx_lost=0, rx_loss_pct=0.0, jitter_ms=0.0,
                               tx_packets=0, rtt_ms=0.0, mos=0.0)
        rx, lost = st.rxStat.pkt, st.rxStat.loss
        loss_pct = 100.0 * lost / (rx + lost) if rx + lost else 0.0
        jitter = st.rxStat.jitterUsec.mean / 1000.0
        rtt = st.rttUsec.mean / 1000.0
        mos = estimate_mos(rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss_pct, codec=codec) if rx else 0.0
        return CallQuality(codec=codec, rx_packets=rx, rx_lost=lost, rx_loss_pct=loss_pct, jitter_ms=jitter,
                           tx_packets=st.txStat.pkt, rtt_ms=rtt, mos=mos)

    def rx_activity(self, cid: int) -> int | None:
        """A count that moves while the far end sends media: RTP packets received plus RTCP receiver reports
        received (pjmedia counts those in txStat.updateCount). None when the call has no audio stream, or one
        the far end agreed not to send on (it offered recvonly or inactive)."""
        call = self._calls.get(cid)
        if call is None:
            return None
        try:
            ci = call.getInfo()         # kept: its media vector lives as long as it does
            for mi in ci.media:
                if mi.type != pj.PJMEDIA_TYPE_AUDIO or mi.status not in (pj.PJSUA_CALL_MEDIA_ACTIVE,
                                                                         pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                    continue
                if not mi.dir & pj.PJMEDIA_DIR_DECODING:
                    return None
                st = call.getStreamStat(mi.index).rtcp
                return st.rxStat.pkt + st.txStat.updateCount
        except pj.Error:
            pass
        return None

    # ----- pjsua2 callbacks (SIP thread) --------------------------------------------------------
    def _on_call_state(self, call: _Call) -> None:
        ci = call.getInfo()
        cid = ci.id
        state = _CALL_STATES.get(ci.state, "calling")
        self._calls.setdefault(cid, call)
        now = time.monotonic()
        key = _budget_key(ci.callIdString)
        if state == "disconnected":
            self._budget.release(key, now)
        else:
            self._budget.confirm(key, SOCKETS_PER_CALL, now)
        self.listener.on_call_state(cid, state, ci.lastStatusCode, from_wire(ci.lastReason),
                                    from_wire(ci.callIdString))
        if state == "disconnected":
            self._drop_port(call)
            call.forget_id()       # pjsua may hand this id to the next INVITE before the object goes
            if self._calls.get(cid) is call:
                del self._calls[cid]      # not the call object itself: it is deleted after this callback
                self._ended.append(call)

    def _on_media_state(self, call: _Call) -> None:
        call.media_since = time.monotonic()
        ci = call.getInfo()
        active, remote_hold = False, False
        for mi in ci.media:
            if mi.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if mi.status in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                active = True
            remote_hold = mi.status == pj.PJSUA_CALL_MEDIA_REMOTE_HOLD
        if active:
            self._connect_port(call)
        codec = ""
        try:
            codec = call.getStreamInfo(0).codecName
        except pj.Error:
            pass
        self.listener.on_media_state(ci.id, active, remote_hold, codec)

    def _connect_port(self, call: _Call) -> None:
        am = call.getAudioMedia(-1)
        # always (re)connect: a re-INVITE may rebuild the stream and drop the bridge links
        self._attach_port(call, am)
        call.connected_media = am
        if call.local:
            self._join_local_media(call, am, True)
        for other_id in call.links:
            other = self._calls.get(other_id)
            other_am = _audio_of(other) if other is not None and other.connected_media is not None else None
            if other_am is not None:
                _start(am, other_am)
                _start(other_am, am)

    def bridge_report(self) -> list[dict[str, Any]]:
        """Each call's audio as pjsua has it (status, direction, bridge slot), what its slot sends to, its
        conference links, and its stream's packet counts: what to look at when a conference member hears
        nobody (SIP thread)."""
        out: list[dict[str, Any]] = []
        for cid, call in sorted(self._calls.items()):
            try:
                ci = call.getInfo()
            except pj.Error:
                continue
            media = [(int(mi.status), int(mi.dir), int(mi.audioConfSlot)) for mi in ci.media
                     if mi.type == pj.PJMEDIA_TYPE_AUDIO]
            am = _audio_of(call)
            slot, listeners = -1, []
            if am is not None:
                try:
                    info = am.getPortInfo()
                    slot, listeners = info.portId, list(info.listeners)
                except pj.Error:
                    pass
            try:
                st = call.getStreamStat(0).rtcp
                packets = {"tx": st.txStat.pkt, "rx": st.rxStat.pkt}
            except pj.Error:
                packets = {}
            out.append({"cid": cid, "media": media, "slot": slot, "listeners": listeners,
                        "links": sorted(call.links), "packets": packets})
        return out

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
            try:
                buddy.subscribePresence(False)
            except pj.Error:
                pass
            del buddy
            gc.collect()

    # ----- the phone's own audio and conferences ------------------------------------------------
    def open_local_port(self) -> LocalPort | None:
        """The phone's local port in C, for the sound card's callbacks to speak into and listen from.

        None when this pjsua2 cannot make one, or when TUIPHONE_LOCAL_PORT=python asks for the port in
        Python (the benchmark compares both): then `set_local_media` gives the port its source and sinks."""
        if os.environ.get("TUIPHONE_LOCAL_PORT", "").lower() == "python":
            return None
        if self._native is None:
            try:
                self._native = LocalPort(ctypes.CDLL(pj._pjsua2.__file__), CLOCK_RATE, FRAME_SAMPLES)
            except (LocalPortError, OSError, AttributeError) as exc:
                log.warning("%s; the local port runs in Python instead", exc)
                return None
        return self._native

    def set_local_media(self, media: CallMedia) -> None:
        """The phone's microphone (source) and speaker (sinks) on a local port in Python (no C port)."""
        if self._local is None:
            self._local = _make_port("local", media, self)
        else:
            self._local.media = media

    def join_local(self, cid: int, on: bool) -> None:
        call = self._call(cid)
        call.local = on
        am = _audio_of(call) if call.connected_media is not None else None
        if am is None:
            self._update_local_active()
            return       # connected when its media becomes active
        self._join_local_media(call, am, on)

    def _join_local_media(self, call: _Call, am: Any, on: bool) -> None:
        """Join the local port and a call's audio both ways (the microphone not while the call is muted),
        or part them."""
        speak = on and not call.muted
        native = self._native
        if native is not None:
            if on:
                native.activate()             # before the bridge sends: what is left from before goes first
            slot, peer = native.slot, am.getPortId()
            native.connect(peer, slot, on)
            native.connect(slot, peer, speak)
            if not on:
                self._update_local_active()   # the last call parted: the device side stops exchanging
        elif self._local is not None:
            (_start if on else _stop)(am, self._local)
            (_start if speak else _stop)(self._local, am)

    def _update_local_active(self) -> None:
        """Tell the sound card's side whether any call is joined to the C local port."""
        if self._native is not None:
            if any(c.local and c.connected_media is not None for c in self._calls.values()):
                self._native.activate()
            else:
                self._native.deactivate()

    def link(self, cid: int, other_cid: int, on: bool) -> None:
        """Conference two calls in the bridge: each hears the other (and the local port, when joined)."""
        a, b = self._call(cid), self._call(other_cid)
        if on:
            a.links.add(other_cid)
            b.links.add(cid)
        else:
            a.links.discard(other_cid)
            b.links.discard(cid)
        am_a = _audio_of(a) if a.connected_media is not None else None
        am_b = _audio_of(b) if b.connected_media is not None else None
        if am_a is None or am_b is None:
            return       # linked when both have active media (see _connect_port)
        if on:
            _start(am_a, am_b)
            _start(am_b, am_a)
        else:
            _stop(am_a, am_b)
            _stop(am_b, am_a)

    def _attach_port(self, call: _Call, am: Any) -> None:
        """Give the call a Python port only for what its media needs: every port costs pjmedia's clock two
        Python callbacks a frame, and a call that only talks through the local port needs none."""
        media, port = call.media, call.port
        if media.source is None and not media.sinks:
            if port is not None:
                call.port = None
                _stop(port, am)
                _stop(am, port)
                self._retire_port(port)
            return
        if port is None:
            port = self._spare_ports.pop() if self._spare_ports else _make_port(f"callport{id(call)}", media, self)
            call.port = port
            port.muted = call.muted
        port.media = media
        if media.source is not None:
            _start(port, am)
        else:
            _stop(port, am)
        if media.sinks:
            _start(am, port)
        else:
            _stop(am, port)

    def _retire_port(self, port: _FramePort) -> None:
        """Keep a port no call uses for the next call that needs one, silent meanwhile.

        Destroying it while the media clock runs is not safe: pjsua removes a port from the bridge on a
        later clock tick but frees it at once, so a tick in progress (or the next) calls into freed memory
        (SIGSEGV in onFrameReceived). Ports are destroyed only in _destroy, once the clock has stopped."""
        port.media = CallMedia()
        port.muted = False
        self._spare_ports.append(port)

    def _drop_port(self, call: _Call) -> None:
        port, call.port = call.port, None
        call.connected_media = None
        for other_id in call.links:
            other = self._calls.get(other_id)
            if other is not None:
                other.links.discard(call.getId())
        call.links.clear()
        if port is not None:
            self._retire_port(port)
        self._update_local_active()
