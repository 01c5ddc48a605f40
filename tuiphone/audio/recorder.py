"""Call recording (seed 3.3): both sides of a call to a WAV file, mono mix or stereo
(local left, remote right), streamed to disk so memory stays flat on long calls.

`tx` and `rx` run on pjmedia's clock thread and only copy into two rings; a writer thread
drains them to the file. Trouble on disk (full, unwritable) stops the recording and is told
through `on_error` — never raised into the audio thread; the call goes on.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from tuiphone.audio.frames import RATE
from tuiphone.audio.mixer import soft_limit
from tuiphone.audio.ringbuffer import SampleRing
from tuiphone.audio.sources import FrameSource
from tuiphone.audio.wav import WavError, WavWriter

__all__ = ["CallRecorder", "recording_path"]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^0-9A-Za-z+*#@._-]+")


def recording_path(record_dir: str | Path, line: int, remote: str, when: datetime | None = None) -> Path:
    """A new file name in record_dir, like `20250131-142233_line2_5551234.wav` (never an existing file)."""
    when = when or datetime.now()
    who = _UNSAFE.sub("_", remote.removeprefix("sip:").removeprefix("sips:")).strip("_.")[:40] or "unknown"
    stem = f"{when:%Y%m%d-%H%M%S}_line{line}_{who}"
    folder = Path(record_dir).expanduser()
    path, n = folder / f"{stem}.wav", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}.wav", n + 1
    return path


WRITE_EVERY_S = 0.5        # the writer's wake-up: each costs ~0.4 ms of CPU cold, so not 10 a second


class _Tap:
    """Reads a source and hands a copy of each frame to the recorder's tx side."""

    def __init__(self, source: FrameSource, recorder: CallRecorder):
        self.source = source
        self._recorder = recorder

    def read(self, n: int) -> np.ndarray:
        frame = self.source.read(n)
        self._recorder.tx(frame)
        return frame


class _Sink:
    def __init__(self, recorder: CallRecorder):
        self._recorder = recorder

    def write(self, frame: np.ndarray) -> None:
        self._recorder.rx(frame)


class CallRecorder:
    """Records one call: `tx(frame)` what we send, `rx(frame)` what we hear (16 kHz int16).

    The writer thread starts at once and creates the folder and the file; `stop()` writes what
    is left and closes the file. When a side stays silent (mute, no audio from the far end)
    for longer than `max_lag_s`, it is recorded as silence so both sides stay in step.
    `on_error(sentence)` is called from the writer thread, at most once.
    """

    def __init__(
        self,
        path: str | Path,
        stereo: bool = False,
        rate: int = RATE,
        on_error: Callable[[str], None] | None = None,
        buffer_s: float = 4.0,
        max_lag_s: float = 0.25,
    ):
        self.path = Path(path)
        self.stereo = stereo
        self.rate = rate
        self.on_error = on_error
        self.error: str | None = None
        self.frames_written = 0          # per channel
        self._tx = SampleRing(int(buffer_s * rate))
        self._rx = SampleRing(int(buffer_s * rate))
        self._max_lag = int(max_lag_s * rate)
        self._chunk = rate // 2
        self._a = np.zeros(self._chunk, dtype=np.int16)
        self._b = np.zeros(self._chunk, dtype=np.int16)
        self._stopping = threading.Event()
        self._running = True             # false once stopped or failed: taps become no-ops
        self._thread = threading.Thread(target=self._run, name="call-recorder", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        """True while the recording is going (not stopped, no error)."""
        return self._running

    @property
    def seconds(self) -> float:
        return self.frames_written / self.rate

    @property
    def backlog_s(self) -> float:
        """Seconds of audio waiting for the writer (grows only if the disk is slow)."""
        return max(self._tx.fill, self._rx.fill) / self.rate

    @property
    def dropped(self) -> int:
        """Samples lost because the disk could not keep up (rings overflowed)."""
        return self._tx.dropped + self._rx.dropped

    # audio threads: copy only

    def tx(self, frame: np.ndarray) -> None:
        """The local side: what we send (the mic, after mute)."""
        if self._running:
            self._tx.write(frame)

    def rx(self, frame: np.ndarray) -> None:
        """The remote side: what the call says to us."""
        if self._running:
            self._rx.write(frame)

    def tx_tap(self, source: FrameSource) -> FrameSource:
        """Wrap the call's source so every frame it sends is recorded too."""
        return _Tap(source, self)

    @property
    def rx_sink(self) -> _Sink:
        """A frame sink for the call's sinks list: what it hears is recorded."""
        return _Sink(self)

    # control

    def stop(self, timeout: float = 5.0) -> Path | None:
        """Finish the file; returns its path, or None when the recording failed."""
        self._stopping.set()
        self._thread.join(timeout)
        self._running = False
        return None if self.error else self.path

    def __enter__(self) -> CallRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # writer thread

    def _run(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer = WavWriter(self.path, self.rate, 2 if self.stereo else 1)
        except OSError as err:
            self._fail(f"Cannot record to {self.path.parent}: {err.strerror or err}; "
                       "choose another folder in features.record_dir.")
            return
        except WavError as err:
            self._fail(f"{err} Recording stopped; the call goes on.")
            return
        try:
            while not self._stopping.wait(WRITE_EVERY_S):
                self._drain(writer, final=False)
            self._drain(writer, final=True)
            writer.close()
        except WavError as err:
            self._fail(f"{err} Recording stopped; the call goes on.")
            try:
                writer.close()
            except WavError:
                pass
        finally:
            self._running = False

    def _drain(self, writer: WavWriter, final: bool) -> None:
        while True:
            a, b = self._tx.fill, self._rx.fill
            n = min(a, b)
            if final or abs(a - b) > self._max_lag:
                n = max(a, b)            # the quiet side is recorded as silence
            n = min(n, self._chunk)
            if n <= 0:
                return
            ta, tb = self._a[:n], self._b[:n]
            ta[self._tx.read_into(ta) :] = 0
            tb[self._rx.read_into(tb) :] = 0
            writer.write(np.stack([ta, tb], axis=1) if self.stereo else self._mix(ta, tb))
            self.frames_written += n

    @staticmethod
    def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        both = a.astype(np.float32) + b
        soft_limit(both)
        out: np.ndarray = np.rint(both).astype(np.int16)
        return out

    def _fail(self, sentence: str) -> None:
        self._running = False
        self.error = sentence
        if self.on_error is not None:
            try:
                self.on_error(sentence)
            except Exception:
                log.exception("the recording error listener failed")
