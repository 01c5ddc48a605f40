"""What the phone plays locally as calls come and go: ringing, call-waiting tone, ringback, busy, confirmation.

An event subscriber driving any object with LocalAudio's sound methods (play_tone, stop_tone, start_ring,
stop_ring). It runs on the SIP thread and only starts or stops mixer streams, which is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tuiphone.engine.events import CallState, Event, FeaturesChanged, IncomingCall, LineState, Notice


class Sounds(Protocol):
    def play_tone(self, name: str, loop: bool | None = None) -> None: ...
    def stop_tone(self) -> None: ...
    def start_ring(self, ringtone: str = "ring1", volume: float = 1.0) -> str | None: ...
    def stop_ring(self) -> None: ...


_BUSY = {486, 600}
_ACTIVE = (LineState.TALKING, LineState.HELD, LineState.CALLING)


class CallSounds:
    def __init__(self, sounds: Sounds, features: Any, notice: Callable[[Notice], None] | None = None):
        self.sounds = sounds
        self.features = features               # config.features: call_waiting_tone
        self.notice = notice                   # called with a sentence when a ringtone falls back
        self._lines: dict[int, CallState] = {}
        self._ringing: set[int] = set()
        self._ringback: int | None = None      # the line whose ringback is playing
        self._seen_features = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, IncomingCall):
            self._incoming(event)
        elif isinstance(event, CallState):
            self._call_state(event)
        elif isinstance(event, FeaturesChanged):
            if self._seen_features:            # the first one is the start-up snapshot, not a change
                self.sounds.play_tone("confirmation", loop=False)
            self._seen_features = True

    def _incoming(self, ev: IncomingCall) -> None:
        self._ringing.add(ev.line)
        others_busy = any(s.state in _ACTIVE for n, s in self._lines.items() if n != ev.line)
        if ev.auto_answer:
            self.sounds.play_tone("confirmation", loop=False)     # the intercom beep
        elif others_busy:
            if self.features.call_waiting_tone:
                self.sounds.play_tone("call_waiting", loop=False)
        else:
            problem = self.sounds.start_ring(ev.ringtone or "ring1")
            if problem and self.notice:
                self.notice(Notice(problem, "warning"))

    def _call_state(self, ev: CallState) -> None:
        before = self._lines.get(ev.line)
        self._lines[ev.line] = ev
        if ev.state != LineState.RINGING and ev.line in self._ringing:
            self._ringing.discard(ev.line)
            if not self._ringing:
                self.sounds.stop_ring()
        if ev.direction == "out" and ev.state == LineState.CALLING and ev.sip_status == 180:
            self.sounds.play_tone("ringback")
            self._ringback = ev.line
        elif self._ringback == ev.line and (ev.state != LineState.CALLING or ev.sip_status == 183):
            self.sounds.stop_tone()             # answered, ended, or early media brings the far end's own tones
            self._ringback = None
        if ev.state == LineState.ENDED:
            del self._lines[ev.line]
            never_answered = before is not None and before.state == LineState.CALLING
            if ev.direction == "out" and never_answered and ev.sip_status in _BUSY:
                self.sounds.play_tone("busy", loop=False)
            elif ev.direction == "out" and never_answered and ev.sip_status >= 400 and ev.sip_status != 487:
                self.sounds.play_tone("congestion", loop=False)
