"""The one engine-event message: BLF states of one key, a call's updates in one state and runs of SIP messages
merge in the queue, in order."""

from __future__ import annotations

from textual.app import App

from tuiphone.engine.events import Blf, CallState, LineState, SipMessage
from tuiphone.messages import EngineBridge, EngineEvent


def sip(n: int) -> SipMessage:
    return SipMessage(time=float(n), direction="in", transport="UDP", remote="127.0.0.1:5070",
                      first_line=f"OPTIONS sip:{n}@127.0.0.1 SIP/2.0", call_id=f"c{n}", text="")


def call(line: int, state: LineState, sip_status: int = 0, call_id: str = "") -> CallState:
    return CallState(line=line, state=state, direction="out", remote_uri="sip:200@127.0.0.1",
                     remote_name="", remote_number="200", account=0, sip_status=sip_status, call_id=call_id)


class Recorder(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[object]] = []     # the events of each message handled

    def on_engine_event(self, message: EngineEvent) -> None:
        self.seen.append(message.events)


async def handled(events: list[object]) -> list[list[object]]:
    app = Recorder()
    async with app.run_test() as pilot:
        bridge = EngineBridge(app)
        for event in events:        # all queued before the app's loop gets to any of them
            bridge(event)
        await pilot.pause()
    return app.seen


async def test_a_keys_newer_blf_state_replaces_the_older_one_another_keys_stays():
    a1, a2 = Blf(0, "200", "ringing"), Blf(0, "200", "busy")
    b1, b2 = Blf(1, "201", "idle"), Blf(1, "201", "busy")
    assert await handled([a1, a2, b1, b2]) == [[a2], [b2]]
    assert await handled([a1, b1, a2]) == [[a1], [b1], [a2]]     # only the message right behind merges


async def test_sip_messages_travel_together_and_none_is_lost():
    assert await handled([sip(1), sip(2), sip(3)]) == [[sip(1), sip(2), sip(3)]]


async def test_a_calls_newer_state_in_the_same_state_replaces_the_older_one():
    """A ringing call's 100 Trying then 180 Ringing: the line shows the newest; other calls and lines stay."""
    trying, ringing = call(1, LineState.RINGING, 100, "a"), call(1, LineState.RINGING, 180, "a")
    assert await handled([call(1, LineState.RINGING, 0, "a"), trying, ringing]) == [[ringing]]
    other_call, other_line = call(1, LineState.RINGING, 180, "b"), call(2, LineState.RINGING, 180, "a")
    assert await handled([trying, other_call, other_line]) == [[trying], [other_call], [other_line]]


async def test_changes_of_a_lines_state_never_merge_and_keep_their_order():
    events = [call(1, LineState.CALLING), call(1, LineState.TALKING), sip(1), call(1, LineState.ENDED),
              Blf(0, "200", "busy"), call(2, LineState.CALLING)]
    assert [e for message in await handled(events) for e in message] == events
    assert len(await handled(events)) == 6
