"""The handset: the user's own microphone and speaker (audio.local.LocalAudio) joined to the talking line(s)
only, the recording taps on it, and the ringer the user silenced.

Runs on the SIP thread, like the rest of the phone logic (`start` runs on the caller's, before the calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tuiphone.audio.frames import FrameSink
from tuiphone.engine.backend import CallMedia
from tuiphone.engine.events import CallState, Event, LineState
from tuiphone.engine.phone_part import PhonePart

if TYPE_CHECKING:
    from tuiphone.audio.local import LocalAudio
    from tuiphone.engine.phone import Phone


class Handset(PhonePart):
    def __init__(self, phone: Phone) -> None:
        super().__init__(phone)
        self.joined: set[int] = set()                    # call ids joined to the local audio
        self.silenced: set[int] = set()                  # ringing lines whose ringtone the user silenced

    @property
    def local_audio(self) -> LocalAudio | None:
        return self.phone.local_audio

    def start(self) -> None:
        """Start the local audio and give the stack its port: the C port when pjsua2 has it, else Python's."""
        taps = self.phone.recording.taps
        audio = self.local_audio
        assert audio is not None       # the phone starts the handset only when it has local audio
        audio.start()
        link = self.backend.submit(self.backend.open_local_port).result(10)
        if link is not None:
            audio.attach_bridge(link, tx_tap=taps.tx, rx_tap=taps.rx)
            taps.hears_calls = True
        else:
            taps.source = audio.mic
            # SpeakerSink.write is the ring's own write, which returns the count FrameSink's `-> None` ignores
            media = CallMedia(source=taps, sinks=[cast(FrameSink, audio.speaker)])
            self.backend.submit(lambda: self.backend.set_local_media(media)).result(10)

    def before_event(self, event: Event) -> None:
        if isinstance(event, CallState) and self.local_audio is not None:
            self._sync()

    def after_event(self, event: Event) -> None:
        if isinstance(event, CallState) and event.state != LineState.RINGING and self.silenced:
            self.silenced.discard(event.line)
            self.keep_silent()      # a call that rang over a silenced one has gone: quiet again

    def _sync(self) -> None:
        """The user hears and speaks on the talking line(s) only: join or leave the local audio port."""
        table = self.phone.line_table
        talking = {ln.cid for ln in table.numbers.values() if ln.state == LineState.TALKING}
        for cid in talking - self.joined:
            self.backend.join_local(cid, True)
        for cid in self.joined - talking:
            if cid in table.cids:
                self.backend.join_local(cid, False)
        self.joined = talking
        self.phone.recording.taps.set_joined(talking)

    # ----- ringer ----------------------------------------------------------------------------------
    def silence(self, line: int | None) -> None:
        ringing = self.phone.line_table.ringing()
        self.silenced |= ringing if line is None else ringing & {line}
        self.keep_silent()

    def keep_silent(self) -> None:
        """The ringer stays off while every line still ringing was silenced (CallSounds rings for new calls)."""
        ringing = self.phone.line_table.ringing()
        if self.local_audio is not None and ringing and ringing <= self.silenced:
            self.local_audio.stop_ring()
