"""PortAudio streams as endpoints, and the edge between the device's rate and ours.

Devices that refuse 16 kHz are opened at a rate they take and resampled here: the stream
callbacks only pull or push, convert and copy.
"""

from __future__ import annotations

import numpy as np

from tuiphone.audio.endpoints import FRAME, Endpoint, Pull, Push
from tuiphone.audio.frames import RATE
from tuiphone.audio.portaudio import load_sounddevice, stream_closed, stream_opened
from tuiphone.audio.resample import StreamResampler
from tuiphone.audio.ringbuffer import SampleRing

__all__ = ["InputAdapter", "OutputAdapter", "SoundDeviceEndpoint", "SoundDeviceInput", "SoundDeviceOutput"]


class OutputAdapter:
    """Fills device buffers (any size, any rate, any channel count) from 16 kHz pulls."""

    def __init__(self, pull: Pull, rate: int = RATE):
        self.pull = pull
        self.rate = rate
        self._resampler = StreamResampler(RATE, rate) if rate != RATE else None
        self._fifo = SampleRing(max(rate // 2, 4096))   # device-rate samples; one thread only
        self._frame = np.zeros(FRAME, dtype=np.int16)
        self._mono = np.zeros(4096, dtype=np.int16)

    def fill(self, outdata: np.ndarray) -> None:
        """Fill outdata, shape (frames, channels) or (frames,), int16."""
        frames = len(outdata)
        if len(self._mono) < frames:
            self._mono = np.zeros(frames, dtype=np.int16)
        mono = self._mono[:frames]
        if self._resampler is None:
            self.pull(mono)
        else:
            while self._fifo.fill < frames:
                self.pull(self._frame)
                self._fifo.write(self._resampler.process(self._frame))
            self._fifo.read_into(mono)
        if outdata.ndim == 2:
            outdata[:] = mono[:, None]
        else:
            outdata[:] = mono


class InputAdapter:
    """Turns device buffers (any size, rate, channels) into 16 kHz mono pushes."""

    def __init__(self, push: Push, rate: int = RATE):
        self.push = push
        self.rate = rate
        self._resampler = StreamResampler(rate, RATE) if rate != RATE else None

    def feed(self, indata: np.ndarray) -> None:
        mono = indata
        if indata.ndim == 2:
            mono = indata[:, 0] if indata.shape[1] == 1 else (
                indata.astype(np.int32).sum(axis=1) // indata.shape[1]).astype(np.int16)
        if self._resampler is not None:
            mono = self._resampler.process(mono)
        if len(mono):
            self.push(mono)


# endpoints


class SoundDeviceEndpoint(Endpoint):
    """A PortAudio stream in one direction; counted as open from `_opened` until `close`."""

    kind = "device"

    def __init__(self, label: str, rate: int):
        super().__init__(label, rate)
        self._stream: object = None
        self.ended = False

    def _finished(self) -> None:
        self.ended = True

    def _opened(self, stream: object) -> None:
        self._stream = stream
        stream_opened(id(self))

    def start(self) -> None:
        self._stream.start()  # type: ignore[attr-defined]

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close(ignore_errors=True)  # type: ignore[attr-defined]
            finally:
                stream_closed(id(self))

    def alive(self) -> bool:
        if self.ended or self._stream is None or not self._stream.active:  # type: ignore[attr-defined]
            return False
        return super().alive()


class SoundDeviceOutput(SoundDeviceEndpoint):
    """A PortAudio output stream; its callback only pulls, converts and copies."""

    def __init__(self, device: int | None, label: str, pull: Pull, rate: int = RATE,
                 channels: int = 1, latency: float = 0.06):
        super().__init__(label, rate)
        sd = load_sounddevice()
        self._adapter = OutputAdapter(pull, rate)
        # blocksize 0 lets the host pick: PulseAudio's ALSA plugin stalls with fixed small blocks
        self._opened(sd.OutputStream(
            device=device, samplerate=rate, channels=channels, dtype="int16", blocksize=0,
            latency=latency, callback=self._callback, finished_callback=self._finished))

    def _callback(self, outdata: np.ndarray, frames: int, _time: object, status: object) -> None:
        self.callbacks += 1
        if status:
            self.xruns += 1
        try:
            self._adapter.fill(outdata)
        except Exception:
            outdata.fill(0)
            self.errors += 1


class SoundDeviceInput(SoundDeviceEndpoint):
    """A PortAudio input stream; its callback only converts and pushes."""

    def __init__(self, device: int | None, label: str, push: Push, rate: int = RATE,
                 channels: int = 1, latency: float = 0.06):
        super().__init__(label, rate)
        sd = load_sounddevice()
        self._adapter = InputAdapter(push, rate)
        self._opened(sd.InputStream(
            device=device, samplerate=rate, channels=channels, dtype="int16", blocksize=0,
            latency=latency, callback=self._callback, finished_callback=self._finished))

    def _callback(self, indata: np.ndarray, frames: int, _time: object, status: object) -> None:
        self.callbacks += 1
        if status:
            self.xruns += 1
        try:
            self._adapter.feed(indata)
        except Exception:
            self.errors += 1
