"""Call sounds: what the phone plays locally as calls ring, progress and end."""

from __future__ import annotations

from types import SimpleNamespace

from tuiphone.engine.events import CallState, FeaturesChanged, IncomingCall, LineState
from tuiphone.engine.sounds import CallSounds


class RecordingSounds:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    def play_tone(self, name, loop=None):
        self.log.append(("tone", name))

    def stop_tone(self):
        self.log.append(("stop_tone",))

    def start_ring(self, ringtone="ring1", volume=1.0):
        self.log.append(("ring", ringtone))

    def stop_ring(self):
        self.log.append(("stop_ring",))


def state(line, st, direction="in", status=0):
    return CallState(line=line, state=st, direction=direction, account=0, remote_uri="sip:100@h",
                     remote_name="", remote_number="100", sip_status=status)


def incoming(line, ringtone="ring2", auto=False):
    return IncomingCall(line=line, account=0, remote_uri="sip:100@h", remote_name="", remote_number="100",
                        source="1.2.3.4:5060", ringtone=ringtone, auto_answer=auto)


def make(call_waiting_tone=True):
    sounds = RecordingSounds()
    return sounds, CallSounds(sounds, SimpleNamespace(call_waiting_tone=call_waiting_tone))


def test_an_idle_phone_rings_with_the_calls_ringtone_until_answered():
    sounds, cs = make()
    cs(state(1, LineState.RINGING))
    cs(incoming(1, "ring3"))
    cs(state(1, LineState.TALKING))
    assert sounds.log == [("ring", "ring3"), ("stop_ring",)]


def test_a_second_call_while_talking_gets_the_call_waiting_tone_not_the_ringer():
    sounds, cs = make()
    cs(state(1, LineState.TALKING))
    cs(state(2, LineState.RINGING))
    cs(incoming(2))
    assert sounds.log == [("tone", "call_waiting")]


def test_call_waiting_tone_can_be_turned_off():
    sounds, cs = make(call_waiting_tone=False)
    cs(state(1, LineState.TALKING))
    cs(incoming(2))
    assert sounds.log == []


def test_ringback_plays_on_180_and_stops_on_answer():
    sounds, cs = make()
    cs(state(1, LineState.CALLING, "out", 0))
    cs(state(1, LineState.CALLING, "out", 180))
    cs(state(1, LineState.TALKING, "out", 200))
    assert sounds.log == [("tone", "ringback"), ("stop_tone",)]


def test_early_media_stops_our_ringback():
    sounds, cs = make()
    cs(state(1, LineState.CALLING, "out", 180))
    cs(state(1, LineState.CALLING, "out", 183))
    assert sounds.log == [("tone", "ringback"), ("stop_tone",)]


def test_busy_callee_gives_the_busy_tone_and_other_failures_congestion():
    sounds, cs = make()
    cs(state(1, LineState.CALLING, "out", 180))
    cs(state(1, LineState.ENDED, "out", 486))
    assert sounds.log[-1] == ("tone", "busy")
    cs(state(2, LineState.CALLING, "out", 100))
    cs(state(2, LineState.ENDED, "out", 404))
    assert sounds.log[-1] == ("tone", "congestion")


def test_cancelling_our_own_call_plays_nothing():
    sounds, cs = make()
    cs(state(1, LineState.CALLING, "out", 100))
    cs(state(1, LineState.ENDED, "out", 487))
    assert sounds.log == []


def test_feature_changes_confirm_with_a_tone_but_not_the_start_up_snapshot():
    sounds, cs = make()
    snap = FeaturesChanged(False, True, "", "", "", (), ())
    cs(snap)
    assert sounds.log == []
    cs(snap)
    assert sounds.log == [("tone", "confirmation")]


def test_intercom_call_beeps_instead_of_ringing():
    sounds, cs = make()
    cs(incoming(1, auto=True))
    assert sounds.log == [("tone", "confirmation")]
