"""LocalAudio: the phone's own side of the sound — microphone, speaker, tones, ringer.

With the engine's local port in C (`attach_bridge`), the sound card's callbacks drive the exchange:

    mic device ─► InputAdapter ─► mic ring ─► whole 20 ms frames ─► `link.send` ─► the bridge
    the bridge ─► `link.receive` ─► speaker ring ─┐   (drift is corrected in pjmedia's delay buffer)
    tones, key feedback, ringtone, paging streams ─┴► Mixer ─► speaker device
    ringtone ─► ringer Mixer ─► ringer device (when one is set)

With a local port in Python instead, pjmedia's clock pulls and pushes, and our drift correctors
keep the rings near their target:

    mic device ─► InputAdapter ─► mic ring ─► DriftCorrector ─► `mic.read(n)`   (the call sends it)
    `speaker.write(frame)` (the call says it) ─► speaker ring ─► DriftCorrector ─► Mixer

Threads: the device callbacks (PortAudio's, or our 20 ms clock for null/file) and pjmedia's
clock thread only copy between the rings; `start`/`stop`/tones/volume run on any one control
thread; a supervisor thread watches the devices, falls back to null audio when one dies and
reopens it when it comes back. Levels and counters are sampled by the UI, never pushed.

The call's side (MicSource, SpeakerSink, the C port's BridgeMic and BridgeSpeaker) is in callport.py;
the devices' roles and the status sentence are in device_roles.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuiphone.audio.analysis import level_dbfs
from tuiphone.audio.callport import MIC_IDLE_S, BridgeLink, BridgeMic, BridgeSpeaker, MicSource, SpeakerSink
from tuiphone.audio.device import (
    DeviceProblem,
    NullInput,
    NullOutput,
    open_input,
    open_output,
    portaudio_problem,
    rescan,
)
from tuiphone.audio.device_roles import DeviceRole, status_of
from tuiphone.audio.frames import RATE
from tuiphone.audio.mixer import Mixer
from tuiphone.audio.ringbuffer import DriftCorrector, SampleRing
from tuiphone.audio.ringtones import make_ringtone
from tuiphone.audio.tones import make_tone

__all__ = ["AudioLevels", "AudioStats", "BridgeLink", "LocalAudio"]

log = logging.getLogger(__name__)

_OWN_STREAMS = ("call", "tone", "key", "ring", "loopback")


@dataclass(frozen=True)
class AudioLevels:
    """How loud things are right now (last 100 ms), in dBFS; -120 is silence."""

    mic_dbfs: float
    speaker_dbfs: float


@dataclass(frozen=True)
class AudioStats:
    """Counters for the audio diagnostics screen."""

    status: str
    reason: str
    input_device: str
    output_device: str
    ringer_device: str
    mic_fill_ms: float
    speaker_fill_ms: float
    mic_underruns: int             # gaps in what we sent (the mic fell behind)
    mic_overruns: int              # mic audio dropped (nobody kept up with the mic)
    mic_corrections: int           # drift corrections between the mic's clock and pjmedia's
    speaker_underruns: int
    speaker_overruns: int
    speaker_corrections: int
    device_xruns: int              # under/overflows the sound card itself reported
    device_failures: int           # times a device stopped and null audio took over
    limited_samples: int           # samples the mixer's limiter had to bend
    bridge_port: str = "python"    # "c": the engine's local port in C drives nothing on pjmedia's clock (drift is
                                   # corrected in pjmedia's delay buffer); "python": our drift correctors do it


class LocalAudio:
    """The phone's sound: one object the engine owns. See the module docstring for the path.

    `status` is "stopped", "ok" (everything as configured), "degraded" (some device fell back
    to null audio) or "null" (no sound device at all); `reason` says why in a sentence.
    `on_change(status, reason)` is called (from the caller of `start` or the supervisor
    thread) whenever either changes.
    """

    def __init__(
        self,
        input_device: str = "default",
        output_device: str = "default",
        ringer_device: str = "",
        sample_rate: int = RATE,
        tone_region: str = "us",
        on_change: Callable[[str, str], None] | None = None,
        retry_s: float = 2.0,
        target_ms: int = 60,
        ring_volume: float = 1.0,
    ):
        self.sample_rate = sample_rate
        self.ring_volume = ring_volume         # 0.0-1.0, for rings started without a volume of their own
        self.tone_region = tone_region
        self.on_change = on_change
        self.retry_s = retry_s
        self.status = "stopped"
        self.reason = "sound is not started"
        target = target_ms * RATE // 1000
        self._mic_ring = SampleRing(RATE)
        self._spk_ring = SampleRing(RATE)
        self._mic_monitor = SampleRing(RATE // 5)
        self._out_monitor = SampleRing(RATE // 5)
        self._speaker_corrector = DriftCorrector(self._spk_ring, target=target)
        self.mic = MicSource(self._mic_ring, target)
        self.speaker = SpeakerSink(self._spk_ring)
        self.mixer = Mixer()
        self.mixer.add("call", self._speaker_corrector)
        self._ringer_spec = ringer_device
        self._separate_ringer = bool(ringer_device) and ringer_device != output_device
        self._ringer_mixer = Mixer() if self._separate_ringer else self.mixer
        self._roles = {
            "input": DeviceRole("microphone", input_device, "input"),
            "output": DeviceRole("speaker", output_device, "output"),
        }
        if self._separate_ringer:
            self._roles["ringer"] = DeviceRole("ringer", ringer_device, "output")
        self.device_failures = 0
        self._loopback: SampleRing | None = None
        self._bridge: BridgeMic | None = None
        self._lock = threading.Lock()          # control threads only; never the audio threads
        self._status_lock = threading.Lock()   # start() and the supervisor may both update status
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    @classmethod
    def from_config(cls, audio: Any, on_change: Callable[[str, str], None] | None = None) -> LocalAudio:
        """Build from the config's [audio] section (input_device, output_device, ..., speaker_volume and
        ring_volume in %)."""
        local = cls(audio.input_device, audio.output_device, audio.ringer_device, audio.sample_rate,
                    audio.tone_region, on_change, ring_volume=audio.ring_volume / 100)
        local.set_volume(audio.speaker_volume / 100)
        return local

    def attach_bridge(self, link: BridgeLink, tx_tap: Callable[[np.ndarray], None] | None = None,
                      rx_tap: Callable[[np.ndarray], None] | None = None) -> None:
        """Speak and listen through a C local port from now on (see the module docstring); `tx_tap` sees
        every frame sent, `rx_tap` every frame heard. `mic` and `speaker` are then not used."""
        self.mixer.add("call", BridgeSpeaker(link, self._spk_ring, rx_tap))
        self._bridge = BridgeMic(link, self._mic_ring, self.mic, tx_tap)

    # life

    def start(self) -> None:
        """Open the devices (falling back to null audio with a reason) and start the supervisor."""
        with self._lock:
            if self._supervisor is not None:
                return
            if any(r.wants_device for r in self._roles.values()) and portaudio_problem() is None:
                try:
                    rescan()               # PortAudio lists devices once; a sound server may have started since
                except Exception:
                    log.warning("could not rescan sound devices", exc_info=True)
            for key, role in self._roles.items():
                self._open(key, role)
            self._stop.clear()
            self._supervisor = threading.Thread(target=self._supervise, name="audio-supervisor", daemon=True)
            self._supervisor.start()
        self._update_status()

    def stop(self) -> None:
        """Close every device; the object can be started again."""
        with self._lock:
            supervisor, self._supervisor = self._supervisor, None
            self._stop.set()
        if supervisor is not None:
            supervisor.join(5.0)
        with self._lock:
            for role in self._roles.values():
                self._close(role)
        with self._status_lock:
            self.status, self.reason = "stopped", "sound is stopped"
        self._notify()

    def __enter__(self) -> LocalAudio:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def use_devices(self, input: str | None = None, output: str | None = None,
                    ringer: str | None = None) -> dict[str, str]:
        """Move to other devices now, without stopping a call: its audio waits in the rings for the
        moment a stream takes to reopen. None keeps a role's device; `ringer=""` rings on the speaker.

        Returns {role: sentence} for each of "input", "output", "ringer" whose device would not open;
        that role runs on null audio and is tried again, as at start (`reason` says so too).
        """
        problems: dict[str, str] = {}
        with self._lock:
            started = self._supervisor is not None
            if ringer is not None or output is not None:
                self._arrange_ringer(self._ringer_spec if ringer is None else ringer,
                                     self._roles["output"].spec if output is None else output)
            wanted = {"input": input, "output": output, "ringer": ringer}
            for key, role in self._roles.items():
                spec = wanted[key]
                if spec is None:
                    if not (started and role.endpoint is None):
                        continue           # not asked to move (a ringer of its own just made is opened)
                    spec = role.spec
                elif spec == role.spec and role.endpoint is not None and not role.on_fallback:
                    continue               # already playing there
                role.spec, role.lost_midstream = spec, False
                if started:
                    self._close(role)
                    if not self._open(key, role):
                        problems[key] = role.problem or f"the {role.name} device {spec!r} would not open"
        self._update_status()
        return problems

    def _arrange_ringer(self, ringer: str, output: str) -> None:
        """A ringer device of its own (with its own mixer) when it differs from the speaker; else the
        ring plays through the speaker's mixer. A ringtone playing moves along."""
        self._ringer_spec = ringer
        separate = bool(ringer) and ringer != output
        if separate == self._separate_ringer:
            return
        old, new = self._ringer_mixer, (Mixer() if separate else self.mixer)
        if separate:
            self._roles["ringer"] = DeviceRole("ringer", ringer, "output")     # opened by the caller
        else:
            self._close(self._roles.pop("ringer"))
        ring = old.remove("ring")
        self._ringer_mixer, self._separate_ringer = new, separate
        if ring is not None:
            new.add("ring", ring)

    # sounds

    def play_tone(self, name: str, loop: bool | None = None) -> None:
        """Play a call progress tone ("dial", "ringback", "busy", "congestion", "call_waiting",
        "confirmation" or "dtmf:K") in this phone's region, replacing any tone playing."""
        self.mixer.add("tone", make_tone(name, self.tone_region, loop))

    def stop_tone(self) -> None:
        self.mixer.remove("tone")

    @property
    def tone_playing(self) -> bool:
        tone = self.mixer.source("tone")
        return tone is not None and not getattr(tone, "finished", False)

    def play_key(self, key: str) -> None:
        """Key feedback: the key's DTMF pair for 100 ms, alongside any tone."""
        self.mixer.add("key", make_tone(f"dtmf:{key}", self.tone_region))

    def start_ring(self, ringtone: str = "ring1", volume: float | None = None) -> str | None:
        """Ring (on the ringer device when one is set) at `volume`, or at `ring_volume` when None.
        Returns a sentence when a WAV ringtone could not be played and ring1 rings instead, else None."""
        ring, problem = make_ringtone(ringtone, self.ring_volume if volume is None else volume)
        self._ringer_mixer.add("ring", ring)
        return problem

    def stop_ring(self) -> None:
        self._ringer_mixer.remove("ring")

    @property
    def ringing(self) -> bool:
        return self._ringer_mixer.source("ring") is not None

    def start_loopback(self, delay_s: float = 0.5) -> None:
        """Audio test: play the mic back through the speaker `delay_s` later."""
        delay = max(1, int(delay_s * RATE))
        ring = SampleRing(delay + RATE)
        self.mixer.add("loopback", DriftCorrector(ring, target=delay))
        self._loopback = ring

    def stop_loopback(self) -> None:
        self._loopback = None
        self.mixer.remove("loopback")

    def add_stream(self, name: str, source: Any, gain: float = 1.0) -> None:
        """Mix another source into the speaker (e.g. a paging stream "paging:224.1.1.1:4009")."""
        if name in _OWN_STREAMS:
            raise ValueError(f"{name!r} is reserved for the phone's own sounds")
        self.mixer.add(name, source, gain)

    def remove_stream(self, name: str) -> None:
        if name not in _OWN_STREAMS:
            self.mixer.remove(name)

    # volume and mute

    @property
    def volume(self) -> float:
        return self.mixer.gain

    def set_volume(self, volume: float) -> None:
        """Speaker volume for calls and tones: 0.0 (silent) to 1.0 (as received)."""
        self.mixer.gain = min(max(float(volume), 0.0), 1.0)

    @property
    def muted(self) -> bool:
        return self.mic.muted

    def mute(self, on: bool = True) -> None:
        """Send silence instead of the mic (the call stays up)."""
        self.mic.muted = on

    # what the UI samples

    def levels(self) -> AudioLevels:
        """Mic and speaker levels over the last 100 ms (cheap; meant for a 10 Hz timer)."""
        window = RATE // 10
        return AudioLevels(level_dbfs(self._mic_monitor.latest(window)),
                           level_dbfs(self._out_monitor.latest(window)))

    def stats(self) -> AudioStats:
        roles = self._roles
        endpoints = [r.endpoint for r in roles.values() if r.endpoint is not None]
        mic_c, spk_c = self.mic.corrector, self._speaker_corrector
        bridged = self._bridge is not None
        return AudioStats(
            status=self.status, reason=self.reason,
            input_device=roles["input"].describe(),
            output_device=roles["output"].describe(),
            ringer_device=roles["ringer"].describe() if "ringer" in roles else roles["output"].describe(),
            mic_fill_ms=self._mic_ring.fill * 1000 / RATE,
            speaker_fill_ms=self._spk_ring.fill * 1000 / RATE,
            mic_underruns=mic_c.underruns, mic_overruns=self._mic_ring.overruns,
            mic_corrections=mic_c.corrections,
            speaker_underruns=self._spk_ring.underruns if bridged else spk_c.underruns,
            speaker_overruns=self._spk_ring.overruns,
            speaker_corrections=spk_c.corrections,
            device_xruns=sum(e.xruns for e in endpoints),
            device_failures=self.device_failures,
            limited_samples=self.mixer.limited + (self._ringer_mixer.limited if self._separate_ringer else 0),
            bridge_port="c" if bridged else "python",
        )

    # device callbacks: copy only

    def _push_mic(self, frame: np.ndarray) -> None:
        self._mic_monitor.write_over(frame)
        loopback = self._loopback
        if loopback is not None:
            loopback.write(frame)
        bridge = self._bridge
        if bridge is not None:
            bridge.push(frame)
        elif time.monotonic() - self.mic.last_read < MIC_IDLE_S:
            self._mic_ring.write(frame)

    def _pull_speaker(self, buf: np.ndarray) -> None:
        self.mixer.read_into(buf)
        self._out_monitor.write_over(buf)

    def _pull_ringer(self, buf: np.ndarray) -> None:
        self._ringer_mixer.read_into(buf)

    # devices

    def _io(self, key: str) -> Callable[[np.ndarray], None]:
        return {"input": self._push_mic, "output": self._pull_speaker, "ringer": self._pull_ringer}[key]

    def _open(self, key: str, role: DeviceRole) -> bool:
        """Open what the role asks for; on failure run it on null audio. True when it opened."""
        opener = open_input if role.direction == "input" else open_output
        try:
            role.endpoint = opener(role.spec, self._io(key), self.sample_rate)
            role.problem = None
            return True
        except DeviceProblem as err:
            problem = str(err)
        except Exception as err:           # never let a sound card stop the phone
            log.warning("opening the %s device %r failed", role.name, role.spec, exc_info=True)
            problem = f"the {role.name} device failed ({err})"
        self._open_null(key, role, problem)
        return False

    def _close(self, role: DeviceRole) -> None:
        endpoint, role.endpoint = role.endpoint, None
        if endpoint is None:
            return
        # a dead device may hang in close; do not let it hang the phone with it
        closer = threading.Thread(target=endpoint.close, name="audio-close", daemon=True)
        closer.start()
        closer.join(2.0)

    def _supervise(self) -> None:
        while not self._stop.wait(0.25):
            changed = False
            with self._lock:
                if self._stop.is_set():
                    return
                for key, role in self._roles.items():
                    changed |= self._check(key, role)
            if changed:
                self._update_status()

    def _check(self, key: str, role: DeviceRole) -> bool:
        endpoint = role.endpoint
        if endpoint is None:
            return False
        if not role.on_fallback:
            if endpoint.kind == "device" and not endpoint.alive():
                self._close(role)
                self.device_failures += 1
                role.lost_midstream = True
                self._open_null(key, role, f"the {role.name} device {role.spec!r} stopped working")
                return True
            return False
        # a device lost mid-call is tried often; one missing since start (no headset yet) less so
        wait = self.retry_s if role.lost_midstream else self.retry_s * 5
        if not role.wants_device or time.monotonic() - role.failed_at < wait or portaudio_problem():
            return False
        return self._retry(key, role)

    def _open_null(self, key: str, role: DeviceRole, problem: str) -> None:
        role.problem = problem
        role.failed_at = time.monotonic()
        null = NullInput(self._io(key)) if role.direction == "input" else NullOutput(self._io(key))
        null.start()
        role.endpoint = null

    def _retry(self, key: str, role: DeviceRole) -> bool:
        """Try the configured device again; True when it is back."""
        problem, lost = role.problem, role.lost_midstream
        self._close(role)
        try:
            rescan()                       # an unplugged device comes back at a new place (no-op while others play)
        except Exception:
            log.warning("could not rescan sound devices", exc_info=True)
        if self._open(key, role):
            role.lost_midstream = False
            return True
        role.problem, role.lost_midstream = problem, lost   # keep the first reason; it is the real one
        return False

    # status

    def _update_status(self) -> None:
        with self._status_lock:
            changed = self._compute_status()
        if changed:
            self._notify()

    def _compute_status(self) -> bool:
        roles = list(self._roles.values())
        if self.status == "stopped" and all(r.endpoint is None for r in roles):
            return False
        status, reason = status_of(roles)
        if (status, reason) == (self.status, self.reason):
            return False
        self.status, self.reason = status, reason
        return True

    def _notify(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change(self.status, self.reason)
            except Exception:
                log.exception("the audio status listener failed")
