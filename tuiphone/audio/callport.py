"""The call's side of LocalAudio: what the active call sends (the mic) and where what it says goes.

With the engine's local port in C, `BridgeMic` and `BridgeSpeaker` exchange whole frames with it from
the device threads; with a local port in Python, pjmedia's clock reads `MicSource` and writes
`SpeakerSink`. See audio/local.py's docstring for the whole path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from tuiphone.audio.ringbuffer import DriftCorrector, SampleRing

MIC_IDLE_S = 0.2                   # a mic nobody has read for this long is not being listened to


class MicSource:
    """What the active call sends: the mic, drift-corrected to pjmedia's clock; silence when muted."""

    def __init__(self, ring: SampleRing, target: int):
        self._corrector = DriftCorrector(ring, target=target)
        self.muted = False
        self.last_read = 0.0           # monotonic time of the last read (the device side looks)

    @property
    def corrector(self) -> DriftCorrector:
        return self._corrector

    def read(self, n: int) -> np.ndarray:
        now = time.monotonic()
        if now - self.last_read > MIC_IDLE_S:
            self._restart()            # a new call: do not send what the mic heard before it
        self.last_read = now
        out = np.empty(n, dtype=np.int16)
        self._corrector.read_into(out)
        if self.muted:
            out.fill(0)
        return out

    def _restart(self) -> None:
        c = self._corrector
        c.ring.discard(c.ring.fill)
        c.priming = True


class BridgeLink(Protocol):
    """The engine's local port when it is C (engine/localport.py), used from the device threads: `send()`
    sends the frame in `tx`, `receive()` puts one in `rx` (both `frame_samples` int16, the link's own).

    `active` is true while a call is joined; `send` and `receive` do nothing (False) otherwise."""

    frame_samples: int
    active: bool
    tx: np.ndarray
    rx: np.ndarray

    def send(self) -> None: ...
    def receive(self) -> bool: ...


class BridgeMic:
    """The microphone's side of a C local port: cuts what the device delivers into whole frames and sends
    them while a call is joined (silence when muted); `tap(frame)` sees each frame sent (recorders)."""

    def __init__(self, link: BridgeLink, ring: SampleRing, mic: MicSource,
                 tap: Callable[[np.ndarray], None] | None):
        self.link, self.ring, self.mic, self.tap = link, ring, mic, tap

    def push(self, frame: np.ndarray) -> None:
        ring, link = self.ring, self.link
        if not link.active:
            if ring.fill:
                ring.discard(ring.fill)     # nothing the mic heard between calls is sent
            return
        tx = link.tx
        n = len(tx)
        if len(frame) == n and not ring.fill:
            tx[:] = frame                  # the usual case with 20 ms device blocks: no ring
            self._send(tx)
            return
        ring.write(frame)
        while ring.fill >= n:
            ring.read_into(tx)
            self._send(tx)

    def _send(self, tx: np.ndarray) -> None:
        if self.mic.muted:
            tx.fill(0)
        tap = self.tap
        if tap is not None:
            tap(tx)
        self.link.send()


class BridgeSpeaker:
    """The mixer's "call" stream from a C local port: frames taken from the bridge as the speaker asks;
    `tap(frame)` sees each frame taken (recorders). A read that finds too little while a call is joined is
    padded and counted as an underrun."""

    def __init__(self, link: BridgeLink, ring: SampleRing, tap: Callable[[np.ndarray], None] | None):
        self.link, self.ring, self.tap = link, ring, tap

    def read(self, n: int) -> np.ndarray:
        ring, link = self.ring, self.link
        if not link.active:
            if ring.fill:
                ring.discard(ring.fill)
            return np.zeros(n, dtype=np.int16)
        rx = link.rx
        if n == len(rx) and not ring.fill:
            if link.receive():             # the usual case with 20 ms device blocks: no ring
                if self.tap is not None:
                    self.tap(rx)
                return rx
            return ring.read(n)            # counted as an underrun
        while ring.fill < n and link.receive():
            ring.write(rx)
            tap = self.tap
            if tap is not None:
                tap(rx)
        return ring.read(n)


class SpeakerSink:
    """Where a call's audio goes: into the speaker ring that the mixer drains."""

    write: Callable[[np.ndarray], int]

    def __init__(self, ring: SampleRing):
        self.write = ring.write        # the ring's own: one Python call less on pjmedia's clock thread
