"""Endpoints: one direction on one device, speaking the phone's rate (16 kHz mono int16) on our side.

An output endpoint *pulls* frames (`pull(buf)` fills buf), an input endpoint *pushes* them
(`push(frame)`). `null` and `file:PATH.wav` endpoints, here, run on their own 20 ms clock thread,
so the rest of the phone cannot tell them from a sound card (the PortAudio ones are in
device_streams.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from tuiphone.audio.frames import RATE
from tuiphone.audio.portaudio import DeviceProblem
from tuiphone.audio.wav import WavError, WavWriter, read_wav

__all__ = ["FRAME", "STALL_S", "Endpoint", "FileInput", "FileOutput", "NullInput", "NullOutput", "Pull", "Push"]

FRAME = 320
Pull = Callable[[np.ndarray], None]
Push = Callable[[np.ndarray], None]
STALL_S = 3.0                      # a device whose callbacks stop this long is gone


class Endpoint:
    """One direction on one device. `alive()` turns false when the device has gone away."""

    kind = "null"

    def __init__(self, label: str, rate: int = RATE):
        self.label = label             # what the user would call it: "pulse", "null", "file:x.wav"
        self.rate = rate
        self.callbacks = 0             # heartbeats from the device thread
        self.xruns = 0                 # device-side under/overflows PortAudio reported
        self.errors = 0                # callbacks that failed
        self.problem: str | None = None
        self._seen = (-1, time.monotonic())

    def describe(self) -> str:
        return self.label if self.rate == RATE else f"{self.label} at {self.rate} Hz"

    def start(self) -> None: ...

    def close(self) -> None: ...

    def alive(self) -> bool:
        """False once the device thread has stopped calling for STALL_S seconds."""
        now = time.monotonic()
        count, since = self._seen
        if self.callbacks != count:
            self._seen = (self.callbacks, now)
            return True
        return now - since < STALL_S


class _Clock:
    """A 20 ms tick on its own thread, for endpoints with no sound card behind them."""

    def __init__(self, tick: Callable[[], None], name: str):
        self._tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        period = FRAME / RATE
        due = time.monotonic()
        while not self._stop.is_set():
            due += period
            delay = due - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    return
            elif delay < -0.2:
                due = time.monotonic()       # we were suspended: carry on, do not burst to catch up
            self._tick()


class NullOutput(Endpoint):
    """Pulls frames every 20 ms and lets them fall silent."""

    def __init__(self, pull: Pull, label: str = "null"):
        super().__init__(label)
        self._pull = pull
        self._buf = np.zeros(FRAME, dtype=np.int16)
        self._clock = _Clock(self._tick, f"audio-{label}-out")

    def _tick(self) -> None:
        self.callbacks += 1
        try:
            self._pull(self._buf)
        except Exception:
            self.errors += 1

    def start(self) -> None:
        self._clock.start()

    def close(self) -> None:
        self._clock.stop()


class NullInput(Endpoint):
    """Pushes 20 ms of silence every 20 ms."""

    def __init__(self, push: Push, label: str = "null"):
        super().__init__(label)
        self._push = push
        self._clock = _Clock(self._tick, f"audio-{label}-in")
        self._frame = np.zeros(FRAME, dtype=np.int16)

    def next_frame(self) -> np.ndarray:
        return self._frame

    def _tick(self) -> None:
        self.callbacks += 1
        try:
            self._push(self.next_frame())
        except Exception:
            self.errors += 1

    def start(self) -> None:
        self._clock.start()

    def close(self) -> None:
        self._clock.stop()


class FileInput(NullInput):
    """Plays a WAV file (any rate, resampled) into the phone as its microphone, round and round."""

    kind = "file"

    def __init__(self, path: str, push: Push):
        try:
            samples = read_wav(path, RATE)
        except WavError as err:
            raise DeviceProblem(str(err).rstrip(".")) from None
        if not len(samples):
            raise DeviceProblem(f"{path} holds no audio")
        super().__init__(push, f"file:{path}")
        self._samples = samples
        self._pos = 0
        self._out = np.zeros(FRAME, dtype=np.int16)

    def next_frame(self) -> np.ndarray:
        filled = 0
        while filled < FRAME:
            take = min(FRAME - filled, len(self._samples) - self._pos)
            self._out[filled : filled + take] = self._samples[self._pos : self._pos + take]
            filled += take
            self._pos = (self._pos + take) % len(self._samples)
        return self._out


class FileOutput(NullOutput):
    """Writes what the speaker would play to a WAV file (16 kHz mono), as it plays."""

    kind = "file"

    def __init__(self, path: str, pull: Pull):
        super().__init__(pull, f"file:{path}")
        self.path = path
        try:
            self._writer: WavWriter | None = WavWriter(path, RATE, 1)
        except WavError as err:
            raise DeviceProblem(str(err).rstrip(".")) from None

    def _tick(self) -> None:
        super()._tick()
        if self._writer is None:
            return
        try:
            self._writer.write(self._buf)
        except WavError as err:
            self.problem = f"{err} The speaker file stopped; sound goes nowhere now."
            self._writer = None

    def close(self) -> None:
        super().close()
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except WavError as err:
                self.problem = str(err)
