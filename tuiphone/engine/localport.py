"""The phone's local audio port, in pjmedia's own C: nothing in pjmedia's clock thread calls Python.

pjsua2 here has no sound device, so the phone's microphone and speaker meet the conference bridge through a
port. An `AudioMediaPort` made in Python costs the clock thread two Python callbacks every 20 ms (about as
much CPU as the whole call). This port is pjmedia's splitter/combiner with a reverse channel instead — the
very piece pjsua puts between a sound card and the bridge: the reverse channel sits in the bridge, and the
sound card's side is a plain port that the device callbacks feed and drain through ctypes, one 20 ms frame
at a time. Between the two clocks the reverse channel keeps a pjmedia delay buffer, which absorbs bursts and
corrects the drift between the sound card's clock and pjmedia's (WSOLA), all in C.

    device mic callback ─ send(frame) ─► splitcomb.put_frame ─► delay buffer ─► reverse channel ─► bridge
    device speaker callback ◄ receive(out) ◄ splitcomb.get_frame ◄ delay buffer ◄ reverse channel ◄ bridge

Threads: `open`, `activate`, `deactivate` and `close` run on the SIP thread (pjsua's). `send` and `receive`
run on the device threads; each registers itself with pjlib the first time, as pjlib requires of any
thread that calls it. A lock keeps `close` from pulling the port away under a frame in flight.

The device side runs every 20 ms with cold caches, where each Python step costs tens of microseconds, so
the path is short: the frames are the port's own preallocated `tx` and `rx` arrays, their pjmedia_frame
structs are filled once, and a thread is checked for registration with a thread-local flag, not a call
into pjlib (not by thread ident: a new thread may get the ident of one that ended).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

import numpy as np

__all__ = ["LocalPort", "LocalPortError"]

log = logging.getLogger(__name__)

_AUDIO = 1                         # PJMEDIA_FRAME_TYPE_AUDIO
_FLUSH_FRAMES = 10                 # more than a reverse channel's delay buffer holds (PJMEDIA_SOUND_BUFFER_COUNT, 8)
_PRIME_FRAMES = 2                  # silence queued ahead of the first spoken frame: room for device bursts


class _Frame(ctypes.Structure):
    """pjmedia_frame: {type; buf; size; timestamp; bit_info} (unchanged since pjsip 2.0)."""

    _fields_ = [("type", ctypes.c_int), ("buf", ctypes.c_void_p), ("size", ctypes.c_size_t),
                ("timestamp", ctypes.c_uint64), ("bit_info", ctypes.c_uint32)]


class LocalPortError(Exception):
    """The C port could not be made (a pjsua2 build without the symbols, or pjmedia refused)."""


class _Pjlib:
    """The few pjlib/pjmedia/pjsua functions this port calls, with their C signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        p, u, i = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int
        try:
            self.pool_create = _fn(lib.pjsua_pool_create, p, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t])
            self.splitcomb_create = _fn(lib.pjmedia_splitcomb_create, i, [p, u, u, u, u, u, ctypes.POINTER(p)])
            self.rev_channel = _fn(lib.pjmedia_splitcomb_create_rev_channel, i, [p, p, u, u, ctypes.POINTER(p)])
            self.conf_add = _fn(lib.pjsua_conf_add_port, i, [p, p, ctypes.POINTER(i)])
            self.conf_remove = _fn(lib.pjsua_conf_remove_port, i, [i])
            self.conf_connect = _fn(lib.pjsua_conf_connect, i, [i, i])
            self.conf_disconnect = _fn(lib.pjsua_conf_disconnect, i, [i, i])
            self.get_frame = _fn(lib.pjmedia_port_get_frame, i, [p, p])
            self.put_frame = _fn(lib.pjmedia_port_put_frame, i, [p, p])
            self.is_registered = _fn(lib.pj_thread_is_registered, i, [])
            self.register = _fn(lib.pj_thread_register, i, [ctypes.c_char_p, p, ctypes.POINTER(p)])
        except AttributeError as exc:
            raise LocalPortError(f"this pjsua2 build lacks a pjmedia function the local port needs ({exc})") from None


def _fn(f: Any, restype: Any, argtypes: list[Any]) -> Any:
    f.restype, f.argtypes = restype, argtypes
    return f


_known = threading.local()                 # .pj: this thread is registered with pjlib
# pj_thread_desc of every registered thread: pjlib keeps pointers to them
_thread_descs: list[ctypes.Array[ctypes.c_long]] = []


class LocalPort:
    """One conference-bridge slot that the sound card's callbacks speak into and listen from.

    `active` tells the device side whether any call is joined: frames are only exchanged then, so nothing
    the microphone heard between calls is sent, and no old call audio is played at the start of a new one.
    """

    def __init__(self, lib: ctypes.CDLL, clock_rate: int, frame_samples: int):
        self._pj = _Pjlib(lib)
        self.frame_samples = frame_samples
        self.active = False
        self.sent = 0                  # frames handed to the bridge
        self.received = 0              # frames taken from the bridge
        self._lock = threading.Lock()
        self._closed = False
        pj = self._pj
        self._pool = pj.pool_create(b"localport", 4096, 4096)
        if not self._pool:
            raise LocalPortError("pjsua could not give the local port memory")
        self._splitcomb, self._channel = ctypes.c_void_p(), ctypes.c_void_p()
        _check(pj.splitcomb_create(self._pool, clock_rate, 1, frame_samples, 16, 0, ctypes.byref(self._splitcomb)),
               "make the splitter")
        _check(pj.rev_channel(self._pool, self._splitcomb, 0, 0, ctypes.byref(self._channel)), "make its channel")
        slot = ctypes.c_int(-1)
        _check(pj.conf_add(self._pool, self._channel, ctypes.byref(slot)), "join the bridge")
        self.slot = slot.value
        # the device threads' frames, one each way: the samples go in `tx` and come out of `rx`
        self.tx = np.zeros(frame_samples, dtype=np.int16)
        self.rx = np.zeros(frame_samples, dtype=np.int16)
        self._tx = _Frame(type=_AUDIO, buf=self.tx.ctypes.data, size=frame_samples * 2)
        self._rx = _Frame(type=_AUDIO, buf=self.rx.ctypes.data, size=frame_samples * 2)
        self._tx_ref, self._rx_ref = ctypes.byref(self._tx), ctypes.byref(self._rx)
        self._put, self._get = self._pj.put_frame, self._pj.get_frame
        # the SIP thread's, for draining and priming
        self._scratch = np.zeros(frame_samples, dtype=np.int16)
        self._own = _Frame(type=_AUDIO, buf=self._scratch.ctypes.data, size=frame_samples * 2)

    # ----- SIP thread --------------------------------------------------------------------------
    def connect(self, src: int, dst: int, on: bool = True) -> None:
        """Start (or stop) the bridge sending slot `src` to slot `dst`; a failure is logged, not raised."""
        status = (self._pj.conf_connect if on else self._pj.conf_disconnect)(src, dst)
        if status != 0 and on:          # parting slots that were not joined fails too, harmlessly
            log.info("bridge connect %d → %d failed: pj status %d", src, dst, status)

    def activate(self) -> None:
        """A call is joined: flush both delay buffers of what is left from before, queue a little silence.

        Reading alone would not do: a delay buffer that runs dry makes up frames from its recent history
        (WSOLA), so the old audio would play on. Zeros pushed through each direction first push the old
        frames out and become the history; then they are read back out."""
        if self.active or self._closed:
            return
        pj, own = self._pj, ctypes.byref(self._own)

        def frame() -> object:                  # a pointer to the port's own frame
            self._own.type, self._own.size = _AUDIO, self.frame_samples * 2
            return own

        with self._lock:
            self._scratch.fill(0)
            for put_into, get_from in ((self._splitcomb, self._channel), (self._channel, self._splitcomb)):
                for _ in range(_FLUSH_FRAMES):
                    pj.put_frame(put_into, frame())
                for _ in range(_FLUSH_FRAMES):
                    pj.get_frame(get_from, frame())
                self._scratch.fill(0)
            for _ in range(_PRIME_FRAMES):
                pj.put_frame(self._splitcomb, frame())
        self.active = True

    def deactivate(self) -> None:
        self.active = False

    def close(self) -> None:
        """Leave the bridge; the device threads stop using the port. Its memory goes with pjsua's pools."""
        self.active = False
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pj.conf_remove(self.slot)

    # ----- device threads ----------------------------------------------------------------------
    def send(self) -> None:
        """The frame in `tx` (the microphone's) to the bridge."""
        if not self.active:
            return
        with self._lock:
            if self._closed:
                return
            if not getattr(_known, "pj", False):
                self._register()
            self._put(self._splitcomb, self._tx_ref)        # splitcomb's put_frame leaves the struct alone
            self.sent += 1

    def receive(self) -> bool:
        """A frame from the bridge into `rx`; False (and `rx` untouched) when no call is joined."""
        if not self.active:
            return False
        with self._lock:
            if self._closed:
                return False
            if not getattr(_known, "pj", False):
                self._register()
            rx = self._rx
            self._get(self._splitcomb, self._rx_ref)        # sets type and size; buf stays
            if rx.type != _AUDIO:
                return False
            self.received += 1
            return True

    def _register(self) -> None:
        if self._pj.is_registered():
            _known.pj = True
            return
        desc = (ctypes.c_long * 64)()           # pj_thread_desc
        handle = ctypes.c_void_p()
        name = f"audio{len(_thread_descs)}".encode()
        status = self._pj.register(name, ctypes.cast(desc, ctypes.c_void_p), ctypes.byref(handle))
        if status != 0:
            raise LocalPortError(f"pjlib refused to register the audio thread (status {status})")
        _thread_descs.append(desc)
        _known.pj = True


def _check(status: int, what: str) -> None:
    if status != 0:
        raise LocalPortError(f"pjmedia could not {what} for the local port (status {status})")
