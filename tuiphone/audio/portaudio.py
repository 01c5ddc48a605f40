"""PortAudio, loaded lazily: whether sound devices can be used at all, the device list, and the
rate and channel count a device takes.

sounddevice is imported on first use: without PortAudio the phone still runs, on null audio.
Our open streams are counted here, because rescanning the device list restarts PortAudio and
would cut them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from tuiphone.audio.frames import RATE

__all__ = [
    "DeviceInfo", "DeviceProblem", "Direction", "list_devices", "load_sounddevice", "negotiate",
    "portaudio_problem", "rescan", "stream_closed", "stream_opened",
]

Direction = Literal["input", "output"]

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



def load_sounddevice() -> ModuleType:
    """The sounddevice module, or DeviceProblem saying why PortAudio cannot be used."""
    return _sd()


def stream_opened(key: int) -> None:
    """Count one of our PortAudio streams as open (a rescan waits until none is)."""
    with _sd_lock:
        _open_streams.add(key)


def stream_closed(key: int) -> None:
    with _sd_lock:
        _open_streams.discard(key)


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
        with _sd_lock:      # not while another thread's rescan has PortAudio terminated
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
