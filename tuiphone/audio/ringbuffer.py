"""Where two audio clocks meet: a lock-free int16 ring and the drift corrector that reads it.

One thread writes (the producer: a sound card callback, or pjmedia's clock thread) and one
thread reads (the consumer). Neither takes a lock, so neither can wait on the other.

Why this is safe in CPython (3.11/3.12, with the GIL; `requires-python` excludes free-threading):
- Each counter has exactly one writer: `_written` only the producer, `_read` only the consumer,
  so the non-atomic `+=` never loses an update; the other side only loads it.
- The producer copies the samples into the buffer *before* it stores the new `_written`, and the
  consumer loads `_written` *before* it copies samples out. Storing and loading a Python attribute
  happen with the GIL held, and every GIL hand-over is a mutex release/acquire — a full memory
  barrier — so whatever the producer wrote before publishing the counter is visible to a consumer
  that sees the counter (even if numpy dropped the GIL for the copy itself).
- A stale counter is always the safe side: a producer seeing an old `_read` finds less room than
  there is; a consumer seeing an old `_written` finds less audio than there is.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DriftCorrector", "SampleRing"]


class SampleRing:
    """A preallocated ring of int16 samples for one producer thread and one consumer thread.

    `write` stores what fits and drops the rest (an overrun); `read` pads with silence when too
    little is there (an underrun). Counters only grow, so any thread may sample them.
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"a ring needs room for at least one sample, not {capacity}")
        self.capacity = capacity
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._written = 0          # total samples ever stored (producer only)
        self._read = 0             # total samples ever taken (consumer only)
        self.overruns = 0          # writes that did not fit (producer only)
        self.dropped = 0           # samples those writes lost
        self.underruns = 0         # reads that found too little (consumer only)
        self.padded = 0            # silence samples those reads handed out

    @property
    def fill(self) -> int:
        """Samples waiting to be read."""
        return self._written - self._read

    @property
    def written(self) -> int:
        """Samples stored since the ring was made (a producer heartbeat)."""
        return self._written

    @property
    def taken(self) -> int:
        """Samples read or discarded since the ring was made (a consumer heartbeat)."""
        return self._read

    # producer side

    def write(self, samples: np.ndarray) -> int:
        """Store samples; what does not fit is dropped and counted. Returns the samples stored."""
        n = len(samples)
        written, capacity = self._written, self.capacity
        room = capacity - (written - self._read)
        if n > room:
            self.overruns += 1
            self.dropped += n - room
            n = room
            samples = samples[:n]
        if n:
            start = written % capacity
            if start + n <= capacity:           # the usual case: no wrap, one copy
                self._buf[start : start + n] = samples
            else:
                self._copy_in(samples, start)
            self._written = written + n     # publish only after the samples are in place
        return n

    def write_over(self, samples: np.ndarray) -> None:
        """Store samples in a ring nobody reads (a meter's history): the oldest make room.

        This moves the read counter too, so it is only for a ring with no consumer thread.
        """
        samples = samples[-self.capacity :]
        excess = self._written - self._read + len(samples) - self.capacity
        if excess > 0:
            self._read += excess
        self.write(samples)

    def _copy_in(self, samples: np.ndarray, start: int) -> None:
        first = min(len(samples), self.capacity - start)
        self._buf[start : start + first] = samples[:first]
        if first < len(samples):
            self._buf[: len(samples) - first] = samples[first:]

    # consumer side

    def read_into(self, out: np.ndarray) -> int:
        """Fill `out` with the oldest waiting samples; returns how many were real (the rest untouched)."""
        n = min(len(out), self._written - self._read)
        if n > 0:
            start = self._read % self.capacity
            first = min(n, self.capacity - start)
            out[:first] = self._buf[start : start + first]
            if first < n:
                out[first:n] = self._buf[: n - first]
            self._read += n        # free the space only after the samples are copied out
        return max(n, 0)

    def read(self, n: int) -> np.ndarray:
        """Exactly n samples: the oldest waiting ones, padded with silence (and counted) if short."""
        out = np.empty(n, dtype=np.int16)
        got = self.read_into(out)
        if got < n:
            out[got:] = 0
            self.underruns += 1
            self.padded += n - got
        return out

    def discard(self, n: int) -> int:
        """Skip up to n of the oldest waiting samples; returns how many were skipped."""
        n = max(0, min(n, self._written - self._read))
        self._read += n
        return n

    # any thread

    def latest(self, n: int) -> np.ndarray:
        """A copy of the last n samples written, read or not (for level meters).

        Lock-free, so a write landing meanwhile may tear the copy; a meter does not mind.
        """
        end = self._written
        n = max(0, min(n, end, self.capacity))
        out = np.empty(n, dtype=np.int16)
        start = (end - n) % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start : start + first]
        out[first:] = self._buf[: n - first]
        return out


class _Warp:
    """Linear-interpolation tables that stretch m samples onto n (a short, gentle speed change)."""

    def __init__(self, m: int, n: int):
        pos = np.linspace(0.0, m - 1, n)
        self.left = np.minimum(pos.astype(np.int64), m - 2)
        self.frac = (pos - self.left).astype(np.float32)

    def apply(self, src: np.ndarray, out: np.ndarray) -> None:
        a = src[self.left].astype(np.float32)
        b = src[self.left + 1].astype(np.float32)
        out[:] = np.rint(a + (b - a) * self.frac)


class DriftCorrector:
    """The consumer side of a SampleRing that keeps its fill near `target` samples.

    The producer's clock and ours never agree exactly. The smoothed fill tells which one is
    faster; when it strays beyond `deadband`, a read takes a few samples more (or fewer) than
    asked and stretches them onto the frame — a speed change for that one read of at most
    `max_speed` (1.25 %: 4 samples in 320), far below hearing for speech. Each such read counts as one correction.

    It starts silent until the ring holds `target` samples (priming). Running dry hands out
    what is left, pads with silence and primes again; that gap counts as an underrun only if
    the stream comes back within `gap_limit` samples — a stream that simply ended (a call
    hung up) is not a glitch. A fill far above target (the consumer was away) is skipped
    down to target at once and counted as a resync.
    """

    def __init__(
        self,
        ring: SampleRing,
        target: int,
        deadband: int | None = None,
        max_speed: float = 0.0125,
        step_size: int = 32,
        smoothing: int = 50,
        resync_above: int | None = None,
        gap_limit: int = 16000,
    ):
        if not 0 < target < ring.capacity:
            raise ValueError(f"target fill {target} must lie inside the ring (1..{ring.capacity - 1})")
        self.ring = ring
        self.target = target
        self.deadband = target // 6 if deadband is None else deadband
        self.max_speed = max_speed
        self.step_size = max(1, step_size)
        self._alpha = 1.0 / max(1, smoothing)
        self.resync_above = (
            min(ring.capacity, target * 4 + 1600) if resync_above is None else resync_above
        )
        self.gap_limit = gap_limit
        self.avg_fill = 0.0
        self.priming = True
        self.corrections = 0       # reads that stretched or squeezed the audio
        self.adjusted = 0          # net samples taken beyond what was asked (+) or short (-)
        self.underruns = 0         # gaps inside a stream that went on
        self.padded = 0            # silence samples handed out because the ring ran dry
        self.resyncs = 0           # jumps back to target after the consumer was away
        self._gap_open = False
        self._gap_len = 0
        self._written_at_dry = 0
        self._scratch = np.zeros(0, dtype=np.int16)
        self._warps: dict[tuple[int, int], _Warp] = {}

    @property
    def fill(self) -> int:
        return self.ring.fill

    def read(self, n: int) -> np.ndarray:
        """Exactly n samples of the stream, drift-corrected; silence while priming."""
        out = np.empty(n, dtype=np.int16)
        self.read_into(out)
        return out

    def read_into(self, out: np.ndarray) -> None:
        """Fill `out` (int16, any length) from the ring, drift-corrected."""
        n = len(out)
        if self._gap_open:
            self._watch_gap(n)
        ring = self.ring
        fill = ring._written - ring._read
        if self.priming:
            if fill < self.target or fill < n:
                out[:] = 0
                return
            self.priming = False
            self.avg_fill = float(fill)
        if fill < n:
            self._run_dry(out)
            return
        avg = self.avg_fill = self.avg_fill + (fill - self.avg_fill) * self._alpha
        if avg > self.resync_above:
            ring.discard(fill - self.target)
            fill = self.target
            avg = self.avg_fill = float(self.target)
            self.resyncs += 1
        # the usual case, inside the deadband: a plain copy (this runs on the audio clock, keep it short)
        if abs(avg - self.target) <= self.deadband or n < 8:
            ring.read_into(out)
            return
        k = min(self._step(n), fill - n)
        if k == 0:
            ring.read_into(out)
            return
        self._stretch(out, n + k)
        self.avg_fill -= k         # the fill drops by k now; do not wait for the average to see it
        self.corrections += 1
        self.adjusted += k

    def _step(self, n: int) -> int:
        err = self.avg_fill - self.target
        if abs(err) <= self.deadband:
            return 0
        most = max(1, int(n * self.max_speed))
        k = min(most, 1 + int((abs(err) - self.deadband) // self.step_size))
        return k if err > 0 else -k

    def _stretch(self, out: np.ndarray, m: int) -> None:
        if len(self._scratch) < m:
            self._scratch = np.zeros(m + 8, dtype=np.int16)
        src = self._scratch[:m]
        self.ring.read_into(src)
        warp = self._warps.get((m, len(out)))
        if warp is None:
            warp = self._warps[(m, len(out))] = _Warp(m, len(out))
        warp.apply(src, out)

    def _run_dry(self, out: np.ndarray) -> None:
        got = self.ring.read_into(out)
        out[got:] = 0
        self.priming = True
        self._gap_open = True
        self._gap_len = len(out) - got
        self._written_at_dry = self.ring.written

    def _watch_gap(self, n: int) -> None:
        if self.ring.written != self._written_at_dry:
            self.underruns += 1    # the stream came back: the silence we padded was a real gap
            self.padded += self._gap_len
            self._gap_open = False
            return
        self._gap_len += n
        if self._gap_len > self.gap_limit:
            self._gap_open = False   # the stream ended; an end is not a glitch
