"""The engine tells the history of a call when it starts (CallStarted) and ends it with the same key, so the
history keeps one row per call that a crash cannot lose; calls turned away have no start and no key."""

from __future__ import annotations

from tests.engine.test_phone_features import CALLER, SCANNER, make_phone
from tuiphone.engine.events import CallLogEntry, CallStarted


def keys(rig) -> tuple[list[str], list[str]]:
    return [e.key for e in rig.of(CallStarted)], [e.key for e in rig.of(CallLogEntry)]


def test_a_ringing_call_starts_with_a_key_and_ends_with_the_same_one() -> None:
    rig = make_phone()
    line, cid = rig.ringing()
    (start,) = rig.of(CallStarted)
    assert (start.line, start.direction, start.account, start.remote_name, start.remote_number) == \
        (line, "in", 0, "Alice", "200")
    assert rig.of(CallLogEntry) == []
    rig.sip.remote_state(cid, "disconnected", 487)
    (end,) = rig.of(CallLogEntry)
    assert end.key == start.key and end.started == start.started and end.disposition == "missed"


def test_every_call_has_its_own_key_and_a_dialed_call_starts_when_dialed() -> None:
    rig = make_phone()
    _, cid = rig.talking_in()
    rig.phone.call("100").result()
    started, _ = keys(rig)
    assert len(set(started)) == 2 and rig.of(CallStarted)[1].direction == "out"
    rig.sip.remote_state(cid, "disconnected")
    rig.sip.remote_state(list(rig.sip.calls)[-1], "disconnected", 486)
    assert sorted(keys(rig)[1]) == sorted(started)


def test_a_ringing_call_forwarded_ends_its_own_row() -> None:
    rig = make_phone(features={"forward_no_answer": "4000", "forward_no_answer_delay": 10})
    rig.ringing()
    rig.sip.advance(10)
    line, _ = rig.ringing('"Bob" <sip:201@192.0.2.10>')
    rig.phone.forward(line, "5000").result()
    started, ended = keys(rig)
    assert ended == started and len(set(started)) == 2
    assert [e.disposition for e in rig.of(CallLogEntry)] == ["forwarded", "forwarded"]


def test_calls_turned_away_have_no_start_and_no_key() -> None:
    rig = make_phone(features={"dnd": True})
    rig.incoming(CALLER)
    guarded = make_phone(accounts=[{"sip_server": "192.0.2.10:5060", "user_id": "1001",
                                    "accept_only_from_server": True}])
    guarded.incoming(CALLER, source=SCANNER)
    assert keys(rig) == ([], [""]) and keys(guarded) == ([], [])


def test_a_caller_name_of_bytes_that_are_not_utf8_arrives_as_replacement_characters() -> None:
    rig = make_phone()
    rig.ringing('"\udcff\udcfe\udcc3(" <sip:u\udcff@192.0.2.10>')      # as pjsua2 hands such bytes over
    (start,) = rig.of(CallStarted)
    assert (start.remote_name, start.remote_number) == ("\ufffd\ufffd\ufffd(", "u\ufffd")
    start.remote_name.encode("utf-8")
