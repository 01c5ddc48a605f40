"""Sound devices: which one a config value means, and opening the endpoint that moves its audio.

The parts live beside this module and are re-exported here: portaudio.py (PortAudio, loaded
lazily, and the device list), endpoints.py (null and file endpoints on their own 20 ms clock)
and device_streams.py (PortAudio streams, resampled at the edge to the phone's 16 kHz).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tuiphone.audio.device_streams import (
    InputAdapter,
    OutputAdapter,
    SoundDeviceEndpoint,
    SoundDeviceInput,
    SoundDeviceOutput,
)
from tuiphone.audio.endpoints import Endpoint, FileInput, FileOutput, NullInput, NullOutput, Pull, Push
from tuiphone.audio.frames import RATE
from tuiphone.audio.portaudio import (
    DeviceInfo,
    DeviceProblem,
    Direction,
    list_devices,
    negotiate,
    portaudio_problem,
    rescan,
)

__all__ = [
    "DeviceChoice", "DeviceInfo", "DeviceProblem", "Endpoint", "FileInput", "FileOutput",
    "InputAdapter", "NullInput", "NullOutput", "OutputAdapter", "SoundDeviceInput",
    "SoundDeviceOutput", "list_devices", "negotiate", "open_input", "open_output",
    "portaudio_problem", "rescan", "resolve",
]


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


def _device_endpoint(cls: Callable[..., SoundDeviceEndpoint], choice: DeviceChoice, direction: Direction,
                     io: Pull | Push, rate: int) -> Endpoint:
    device = resolve(choice, direction)
    dev_rate, channels = negotiate(device, direction, rate)
    endpoint: SoundDeviceEndpoint | None = None
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