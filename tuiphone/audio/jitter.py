"""A small jitter buffer for a paging listener: packets of one RTP stream go in as they arrive,
20 ms frames come out on the listener's own clock.

- Order: packets are kept by RTP timestamp and decoded in timeline order (G.722 keeps state).
- Delay: playing starts once `target_ms` is buffered; when packets come late the buffer stalls
  (it plays concealment and the delay grows); above `max_ms` it drops the oldest audio.
- Loss: a gap that is due now is filled by repeating the last frame, fading out over 60 ms.
- Packets whose time has passed are late and dropped; a timestamp seen before is a duplicate.
Packets may be any length (ffmpeg sends ~175 ms per packet); frames are always `frame` samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tuiphone.audio.rtp import ts_diff

__all__ = ["JitterBuffer"]

FADE_FRAMES = 3                         # concealment fades to silence over this many frames


class JitterBuffer:
    """Reorders one stream's payloads and hands out frames of decoded audio.

    `decode(payload)` turns a payload into output samples, called once per packet in timeline
    order; `out_per_tick` output samples make one tick of the RTP clock (16 kHz out over an
    8 kHz clock: 2); `ticks(payload)` is how many clock ticks a payload lasts.
    """

    def __init__(self, decode: Callable[[bytes], np.ndarray], *, out_per_tick: int = 2, frame: int = 320,
                 rate: int = 16000, target_ms: int = 60, max_ms: int = 500,
                 ticks: Callable[[bytes], int] = len, max_gap_ms: int = 1000):
        self._decode = decode
        self._opt = out_per_tick
        self._ticks = ticks
        self.frame = frame
        self._target = rate * target_ms // 1000
        self._max = rate * max_ms // 1000
        self._max_gap = rate * max_gap_ms // 1000
        self._rate = rate
        self._pending: dict[int, bytes] = {}   # unwrapped start tick -> payload
        self._cursor = 0                       # tick just after the audio released so far
        self._cursor_raw = 0                   # the same, as a 32-bit RTP timestamp
        self._fifo = np.zeros(0, dtype=np.int16)
        self._last = np.zeros(frame, dtype=np.int16)
        self._concealed_run = 0                # samples concealed since the last real audio
        self._credit = 0                       # samples played while stalled, owed back by a gap
        self._waits = 0
        self.started = False
        self.last_kind = ""                    # of the last frame: "audio", "concealed" or "silence"
        self.late = 0                          # packets that came after their time
        self.duplicates = 0
        self.concealed = 0                     # samples made up for lost or late audio
        self.trimmed = 0                       # samples dropped because the buffer grew too long
        self.resyncs = 0                       # timeline jumps taken without filling them

    # -------------------------------------------------------------- input

    def put(self, timestamp: int, payload: bytes) -> bool:
        """Store a packet's payload; False when it is late or a duplicate (and dropped)."""
        if not payload:
            return False
        if not self._pending and not self.started and not self._fifo.size:
            self._cursor, self._cursor_raw = 0, timestamp
        rel = ts_diff(timestamp, self._cursor_raw)
        if rel < 0:
            if self.started:
                self.late += 1
                return False
            self._rebase(rel)          # before playing, an earlier packet just moves the start back
            rel = 0
        key = self._cursor + rel
        if key in self._pending:
            self.duplicates += 1
            return False
        self._pending[key] = payload
        return True

    def _rebase(self, rel: int) -> None:
        self._cursor += rel
        self._cursor_raw = (self._cursor_raw + rel) & 0xFFFFFFFF

    # -------------------------------------------------------------- output

    @property
    def buffered(self) -> int:
        """Output samples waiting: decoded ones plus the span of packets not yet decoded."""
        if not self._pending:
            return int(self._fifo.size)
        last = max(self._pending)
        end = last + self._ticks(self._pending[last])
        return int(self._fifo.size) + (end - self._cursor) * self._opt

    @property
    def buffered_ms(self) -> float:
        return 1000.0 * self.buffered / self._rate

    def pop(self) -> np.ndarray | None:
        """The next frame, or None while the buffer is still filling before the first frame."""
        if not self.started:
            if not self._pending:
                return None
            self._waits += 1
            if self.buffered < self._target and self._waits * self.frame < self._target:
                return None
            self.started = True
        self._fill(self.frame)
        self._trim()
        if self._fifo.size >= self.frame:
            out, self._fifo = self._fifo[: self.frame], self._fifo[self.frame :]
            self._last = out
            self._concealed_run = 0
            self.last_kind = "audio"
            return out
        # underrun: nothing more has arrived; stall and let the delay grow
        short = self.frame - int(self._fifo.size)
        faded = self._concealed_run >= FADE_FRAMES * self.frame
        out = np.concatenate((self._fifo, self._conceal(short)))
        self.last_kind = "silence" if faded and short == self.frame else "concealed"
        self._fifo = self._fifo[:0]
        self._credit += short
        return out

    def _fill(self, wanted: int) -> None:
        """Decode packets in order until `wanted` samples are ready or none are left."""
        while self._fifo.size < wanted and self._pending:
            key = min(self._pending)
            gap = (key - self._cursor) * self._opt
            if gap > self._max_gap:
                self.resyncs += 1      # the sender jumped ahead (restart, pause): no fill for that
            elif gap > 0:
                fill = gap - self._credit
                if fill > 0:
                    self._append(self._conceal(fill))
            self._credit = 0
            self._rebase(key - self._cursor)
            payload = self._pending.pop(key)
            self._append(np.asarray(self._decode(payload), dtype=np.int16))
            self._rebase(self._ticks(payload))
            self._concealed_run = 0

    def _trim(self) -> None:
        """Drop the oldest audio when the buffer has grown past `max_ms`, back to the target."""
        if self.buffered <= self._max:
            return
        excess = self.buffered - self._target
        while excess > 0:
            if self._fifo.size <= self.frame:
                if not self._pending:
                    break
                self._fill(int(self._fifo.size) + 1)   # decode one more packet (G.722 needs them all)
                continue
            drop = min(excess, int(self._fifo.size) - self.frame)
            self._fifo = self._fifo[drop:]
            self.trimmed += drop
            excess -= drop

    def _append(self, samples: np.ndarray) -> None:
        self._fifo = np.concatenate((self._fifo, samples)) if self._fifo.size else samples

    def _conceal(self, n: int) -> np.ndarray:
        """n samples of the last frame repeated, fading out over FADE_FRAMES frames."""
        self.concealed += n
        fade_len = FADE_FRAMES * self.frame
        start = self._concealed_run
        self._concealed_run += n
        if start >= fade_len:
            return np.zeros(n, dtype=np.int16)
        idx = np.arange(start, start + n)
        gain = np.clip(1.0 - idx / fade_len, 0.0, 1.0)
        return np.rint(self._last[idx % self.frame] * gain).astype(np.int16)
