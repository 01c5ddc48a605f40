"""Dead media ends calls (features.rtp_timeout), on the fake stack: a talking call whose far end sends nothing
is hung up after the timeout with the reason in history; a call held by either side, or one still ringing,
never is."""

from __future__ import annotations

import pytest

from tests.engine.test_phone import Rig, make_phone
from tuiphone.engine.events import CallLogEntry, CallState, LineState, Notice
from tuiphone.engine.media_watch import check_every


def ended(rig: Rig, cid: int) -> bool:
    return rig.sip.calls[cid].state == "disconnected"


def run_until_ended(rig: Rig, cid: int, limit: float, feed: bool = False) -> float:
    """Seconds (in 0.5 s steps) until call `cid` is ended, at most `limit`; `feed`: the far end sends all along."""
    start = rig.sip.now
    while rig.sip.now - start < limit and not ended(rig, cid):
        if feed:
            rig.sip.calls[cid].rx += 25
        rig.sip.advance(0.5)
    return rig.sip.now - start


def test_a_silent_far_end_is_hung_up_after_30_s_by_default() -> None:
    rig = make_phone()
    line, cid = rig.talking_in()
    rig.sip.calls[cid].rx = 100                      # some media, then the caller dies (no BYE)
    took = run_until_ended(rig, cid, 60)
    assert 30 <= took <= 30 + check_every(30) + 0.5
    assert rig.sip.sent("hangup") == [("hangup", cid, 0)]
    last = [e for e in rig.of(CallState) if e.line == line][-1]
    assert (last.state, last.reason) == (LineState.ENDED, "no RTP for 30 s")
    entry = rig.of(CallLogEntry)[-1]
    assert (entry.disposition, entry.reason) == ("answered", "no RTP for 30 s")
    assert any("nothing heard from the far end for 30 s" in n.text for n in rig.of(Notice))
    assert "media" not in rig.sip.beats()                    # no call left to watch: the beat stops


def test_media_that_keeps_coming_keeps_the_call() -> None:
    rig = make_phone()
    _, cid = rig.talking_out()
    assert run_until_ended(rig, cid, 120, feed=True) >= 120
    assert not ended(rig, cid) and "media" in rig.sip.beats()


def test_rtcp_alone_counts_as_alive_when_it_moves_the_counter() -> None:
    """A far end with silence suppression sends RTCP reports only: the backend counts those too."""
    rig = make_phone(features={"rtp_timeout": 10})
    _, cid = rig.talking_in()
    for _ in range(12):                              # one report every 5 s, for a minute
        rig.sip.calls[cid].rx += 1
        rig.sip.advance(5)
    assert not ended(rig, cid)


def test_a_short_timeout_ends_the_call_within_a_second_of_it() -> None:
    rig = make_phone(features={"rtp_timeout": 3})
    _, cid = rig.talking_in()
    assert 3 <= run_until_ended(rig, cid, 10) <= 4.5


def test_a_call_held_by_the_far_end_is_never_ended() -> None:
    rig = make_phone(features={"rtp_timeout": 5})
    line, cid = rig.talking_in()
    rig.sip.remote_media(cid, remote_hold=True)      # sendonly / inactive from the far end
    assert run_until_ended(rig, cid, 60) >= 60
    rig.sip.remote_media(cid, remote_hold=False)     # taken back: the count starts afresh now
    took = run_until_ended(rig, cid, 20)
    assert 5 <= took <= 5 + check_every(5) + 0.5


def test_a_call_we_hold_is_never_ended_and_is_watched_again_once_resumed() -> None:
    rig = make_phone(features={"rtp_timeout": 5})
    line, cid = rig.talking_in()
    rig.phone.hold(line).result()
    assert rig.phone.lines()[0].state == LineState.HELD
    assert run_until_ended(rig, cid, 60) >= 60
    rig.phone.resume(line).result()
    assert 5 <= run_until_ended(rig, cid, 20) <= 5 + check_every(5) + 0.5


def test_ringing_and_calling_lines_are_not_watched() -> None:
    rig = make_phone(features={"rtp_timeout": 3})
    _, ringing = rig.ringing()
    rig.phone.call("100").result()
    calling = max(rig.sip.calls)
    rig.sip.advance(30)
    assert not ended(rig, ringing) and not ended(rig, calling) and "media" not in rig.sip.beats()


def test_zero_turns_it_off() -> None:
    rig = make_phone(features={"rtp_timeout": 0})
    _, cid = rig.talking_in()
    assert run_until_ended(rig, cid, 300) >= 300
    assert "media" not in rig.sip.beats()


def test_a_call_without_a_stream_yet_is_not_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_phone(features={"rtp_timeout": 3})
    _, cid = rig.talking_in()
    monkeypatch.setattr(rig.sip, "rx_activity", lambda c: None)
    assert run_until_ended(rig, cid, 30) >= 30


def test_only_the_dead_call_of_two_is_ended() -> None:
    rig = make_phone(features={"rtp_timeout": 5, "call_waiting": True})
    line1, cid1 = rig.talking_in()
    line2, cid2 = rig.talking_in('"Bob" <sip:300@pbx.example.com>')     # line 1 goes on hold meanwhile
    rig.phone.resume(line1).result()                                  # ... and line 2 now
    rig.phone.resume(line2).result()
    assert 5 <= run_until_ended(rig, cid2, 20) <= 7
    assert not ended(rig, cid1)
