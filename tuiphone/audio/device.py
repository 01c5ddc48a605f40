"""Sound devices: what exists, which one the config means, and endpoints that move audio.

An endpoint runs one direction on one device and speaks the phone's rate (16 kHz mono
int16) on our side: an output endpoint *pulls* frames (`pull(buf)` fills buf), an input
endpoint *pushes* them (`push(frame)`). Devices that refuse 16 kHz are opened at a rate they
take and resampled here, at the edge. `null` and `file:PATH.wav` endpoints run on their own
20 ms clock thread, so the rest of the phone cannot tell them from a sound card.

sounddevice is imported lazily: without PortAudio the phone still runs, on null audio.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np

from tuiphone.audio.frames import RATE
from tuiphone.audio.resample import StreamResampler
from tuiphone.audio.ringbuffer import SampleRing
from tuiphone.audio.wav import WavError, WavWriter, read_wav

__all__ = [
    "DeviceChoice", "DeviceInfo", "DeviceProblem", "Endpoint", "FileInput", "FileOutput",
    "InputAdapter", "NullInput", "NullOutput", "OutputAdapter", "SoundDeviceInput",
    "SoundDeviceOutput", "list_devices", "negotiate", "open_input", "open_output",
    "portaudio_problem", "rescan", "resolve",
]

FRAME = 320
Direction = Literal["input", "output"]
Pull = Callable[[np.ndarray], None]
Push = Callable[[np.ndarray], None]
STALL_S = 3.0                      # a device whose callbacks stop this long is gone

_sd_module: ModuleType | None = None
_sd_problem: str | None = None
_sd_lock = threading.Lock()
_open_streams: set[int] = set()    # ids of our open PortAudio streams (a rescan would cut them)


class DeviceProblem(Exception):
    """A device that cannot be used; str() is a sentence for the user."""


# PortAudio and the device list


def _quiet_alsa() -> None:
    """Stop alsa-lib printing its complaints onto the terminal (they would scribble over the UI)."""
    name = ctypes.util.find_library("asound")
    if not name:
        return
    try:
        lib = ctypes.CDLL(name)
        handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                        ctypes.c_int, ctypes.c_char_p)
        global _alsa_handler
        _alsa_handler = handler_type(lambda *_: None)   # kept referenced for the life of the process
        lib.snd_lib_error_set_handler(_alsa_handler)
    except (OSError, AttributeError):
        pass


_alsa_handler: object = None


def _sd() -> ModuleType:
    """The sounddevice module, or DeviceProblem when PortAudio is missing."""
    global _sd_module, _sd_problem
    with _sd_lock:
        if _sd_module is None and _sd_problem is None:
            try:
                _quiet_alsa()
                import sounddevice

                _sd_module = sounddevice
            except (OSError, ImportError) as err:
                _sd_problem = (f"PortAudio is not available ({err}); install libportaudio2 "
                               "to use sound devices")
        if _sd_module is None:
            raise DeviceProblem(_sd_problem or "PortAudio is not available")
        return _sd_module


def portaudio_problem() -> str | None:
    """None when sound devices can be used at all, else a sentence saying why not."""
    try:
        _sd()
    except DeviceProblem as err:
        return str(err)
    return None


def rescan() -> bool:
    """Ask PortAudio to list devices again (it lists once, at start); True when it did.

    Rescanning restarts PortAudio, which would cut every open stream, so while any of our
    streams is open this does nothing and returns False.
    """
    sd = _sd()
    with _sd_lock:
        if _open_streams:
            return False
        sd._terminate()
        sd._initialize()
        return True


@dataclass(frozen=True)
class DeviceInfo:
    """One sound device as PortAudio lists it."""

    index: int
    name: str
    hostapi: str
    inputs: int                    # max input channels
    outputs: int                   # max output channels
    default_rate: float
    is_default_input: bool = False
    is_default_output: bool = False


def list_devices(refresh: bool = False) -> list[DeviceInfo]:
    """Every sound device PortAudio knows ([] without PortAudio).

    `refresh` rescans first, unless a stream is open (see `rescan`).
    """
    try:
        sd = _sd()
        if refresh:
            rescan()
        apis = [a["name"] for a in sd.query_hostapis()]
        default_in, default_out = sd.default.device
        return [
            DeviceInfo(d["index"], d["name"], apis[d["hostapi"]], d["max_input_channels"],
                       d["max_output_channels"], float(d["default_samplerate"]),
                       d["index"] == default_in, d["index"] == default_out)
            for d in sd.query_devices()
        ]
    except DeviceProblem:
        return []


# which device the config means


@dataclass(frozen=True)
class DeviceChoice:
    """A config value for a device: "default", "null", "file:PATH.wav", an index or a name."""

    kind: Literal["default", "null", "file", "index", "name"]
    value: str = ""

    @classmethod
    def parse(cls, text: str | int) -> DeviceChoice:
        text = str(text).strip()
        if text in ("", "default"):
            return cls("default")
        if text == "null":
            return cls("null")
        if text.startswith("file:"):
            return cls("file", text[5:])
        if text.isdigit():
            return cls("index", text)
        return cls("name", text)

    def __str__(self) -> str:
        return {"default": "default", "null": "null", "file": f"file:{self.value}"}.get(self.kind, self.value)


def resolve(choice: DeviceChoice, direction: Direction) -> int | None:
    """The PortAudio index a choice means (None: PortAudio's default), or DeviceProblem."""
    channels = "inputs" if direction == "input" else "outputs"
    devices = [d for d in list_devices() if getattr(d, channels) > 0]
    if choice.kind == "default":
        if not devices:
            raise DeviceProblem(f"no sound device has {'a microphone' if direction == 'input' else 'a speaker'}")
        return None
    if choice.kind == "index":
        index = int(choice.value)
        if not any(d.index == index for d in devices):
            raise DeviceProblem(f"there is no {direction} device number {index}")
        return index
    if choice.kind != "name":
        raise DeviceProblem(f"{choice} is not a sound device")
    exact = [d for d in devices if d.name == choice.value]
    if exact:
        return exact[0].index
    wanted = choice.value.lower()
    partial = [d for d in devices if wanted in d.name.lower()]
    if len(partial) == 1:
        return partial[0].index
    if partial:
        names = ", ".join(repr(d.name) for d in partial[:4])
        raise DeviceProblem(f"{choice.value!r} matches several {direction} devices ({names}); give the full name")
    raise DeviceProblem(f"there is no {direction} device called {choice.value!r}")


def negotiate(device: int | None, direction: Direction, preferred_rate: int = RATE) -> tuple[int, int]:
    """(rate, channels) the device accepts: the preferred rate if it can, mono if it can."""
    sd = _sd()
    check = sd.check_input_settings if direction == "input" else sd.check_output_settings
    info = sd.query_devices(device, kind=direction)
    rates = [preferred_rate, RATE, int(info["default_samplerate"]), 48000, 44100, 32000, 8000]
    most = int(info["max_input_channels" if direction == "input" else "max_output_channels"])
    for channels in sorted({1, min(2, most), most} - {0}):
        for rate in dict.fromkeys(rates):
            try:
                check(device=device, channels=channels, dtype="int16", samplerate=rate)
                return rate, channels
            except Exception:
                continue
    raise DeviceProblem(f"the {direction} device {info['name']!r} takes none of the usual sample rates")


# the edge between the device rate and ours


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


class _SoundDeviceEndpoint(Endpoint):
    kind = "device"

    def __init__(self, label: str, rate: int):
        super().__init__(label, rate)
        self._stream: object = None
        self.ended = False

    def _finished(self) -> None:
        self.ended = True

    def _opened(self, stream: object) -> None:
        self._stream = stream
        with _sd_lock:
            _open_streams.add(id(self))

    def start(self) -> None:
        self._stream.start()  # type: ignore[attr-defined]

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close(ignore_errors=True)  # type: ignore[attr-defined]
            finally:
                with _sd_lock:
                    _open_streams.discard(id(self))

    def alive(self) -> bool:
        if self.ended or self._stream is None or not self._stream.active:  # type: ignore[attr-defined]
            return False
        return super().alive()


class SoundDeviceOutput(_SoundDeviceEndpoint):
    """A PortAudio output stream; its callback only pulls, converts and copies."""

    def __init__(self, device: int | None, label: str, pull: Pull, rate: int = RATE,
                 channels: int = 1, latency: float = 0.06):
        super().__init__(label, rate)
        sd = _sd()
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


class SoundDeviceInput(_SoundDeviceEndpoint):
    """A PortAudio input stream; its callback only converts and pushes."""

    def __init__(self, device: int | None, label: str, push: Push, rate: int = RATE,
                 channels: int = 1, latency: float = 0.06):
        super().__init__(label, rate)
        sd = _sd()
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


def _device_endpoint(cls: Callable[..., _SoundDeviceEndpoint], choice: DeviceChoice, direction: Direction,
                     io: Pull | Push, rate: int) -> Endpoint:
    device = resolve(choice, direction)
    dev_rate, channels = negotiate(device, direction, rate)
    endpoint: _SoundDeviceEndpoint | None = None
    try:
        endpoint = cls(device, str(choice), io, dev_rate, channels)
        endpoint.start()
    except Exception as err:       # PortAudioError, or the host refusing the settings
        if endpoint is not None:
            endpoint.close()
        if isinstance(err, DeviceProblem):
            raise
        raise DeviceProblem(f"the {direction} device {str(choice)!r} would not open ({err})") from None
    return endpoint


def open_output(spec: str, pull: Pull, rate: int = RATE) -> Endpoint:
    """Open and start the output a config value names; DeviceProblem says why it cannot."""
    choice = DeviceChoice.parse(spec)
    if choice.kind == "null":
        endpoint: Endpoint = NullOutput(pull)
    elif choice.kind == "file":
        if not Path(choice.value).parent.is_dir():
            raise DeviceProblem(f"the folder of {choice.value} does not exist")
        endpoint = FileOutput(choice.value, pull)
    else:
        return _device_endpoint(SoundDeviceOutput, choice, "output", pull, rate)
    endpoint.start()
    return endpoint


def open_input(spec: str, push: Push, rate: int = RATE) -> Endpoint:
    """Open and start the input a config value names; DeviceProblem says why it cannot."""
    choice = DeviceChoice.parse(spec)
    if choice.kind == "null":
        endpoint: Endpoint = NullInput(push)
    elif choice.kind == "file":
        endpoint = FileInput(choice.value, push)
    else:
        return _device_endpoint(SoundDeviceInput, choice, "input", push, rate)
    endpoint.start()
    return endpoint
