"""Audio frames between pjmedia's bridge and numpy: ctypes views of pjsua2's frames and vectors (read and
written in place, nothing allocated per frame) and the Python port a call's media gets (`_FramePort`)."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pjsua2 as pj

from tuiphone.engine.backend import CallMedia
from tuiphone.engine.sip.thread import _OnlyDestroyedOnSipThread, log

if TYPE_CHECKING:
    from tuiphone.engine.sip.state import _BackendState

CLOCK_RATE = 16000
FRAME_SAMPLES = 320          # 20 ms at 16 kHz


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


class _FramePort(_OnlyDestroyedOnSipThread, pj.AudioMediaPort):  # type: ignore[misc]  # pjsua2 has no stubs
    """Copies 20 ms frames between pjsua's bridge and a CallMedia. Runs on pjmedia's clock thread.

    Nothing is allocated per frame: the outgoing frame is written into one preallocated vector
    (which pjsua2 copies), the incoming one is read in place.
    """

    made = 0                               # ports made in this process (load_media.frame_ports_made)

    def __init__(self, media: CallMedia):
        super().__init__()
        _FramePort.made += 1
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


def _make_port(name: str, media: CallMedia, backend: _BackendState) -> _FramePort:
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
