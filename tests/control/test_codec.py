"""The control protocol's pieces without a phone: every engine event survives JSON, the snapshot too, the
per-front-end Outbox merges and bounds, and the ops table checks its arguments."""

from __future__ import annotations

import asyncio
import json
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuiphone.control import ops
from tuiphone.control.codec import EVENT_TYPES, CodecError, decode_event, encode_event
from tuiphone.control.protocol import ProtocolError, dump, load, parse_request
from tuiphone.control.server import Outbox
from tuiphone.control.state import PhoneView
from tuiphone.engine import events
from tuiphone.engine.events import (
    Blf,
    CallStarted,
    CallState,
    LineState,
    Notice,
    RegState,
)

# finite floats: NaN is never equal to itself, and the engine's times and counts are finite
st.register_type_strategy(float, st.floats(allow_nan=False, allow_infinity=False))


def test_every_engine_event_has_a_codec_entry():
    assert set(EVENT_TYPES.values()) == set(typing.get_args(events.Event))


@pytest.mark.parametrize("cls", sorted(EVENT_TYPES.values(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_event_class_round_trips_through_json(cls):
    @settings(max_examples=15, deadline=None)
    @given(st.builds(cls))
    def round_trip(event):
        wire = load(dump(encode_event(event)))          # through the bytes that go on the socket
        back = decode_event(wire)
        assert type(back) is cls and back == event
        assert isinstance(hash(back), int)               # still the frozen dataclass
    round_trip()


def test_enums_go_by_value_and_tuples_as_lists():
    state = CallState(1, LineState.TALKING, "out", None, "sip:a@b", "", "100")
    assert encode_event(state)["data"]["state"] == "talking"
    features = events.FeaturesChanged(False, True, "", "", "", (True, False), ("100",))
    assert encode_event(features)["data"]["anonymous"] == [True, False]
    assert decode_event(json.loads(json.dumps(encode_event(features)))).anonymous == (True, False)


@pytest.mark.parametrize("message", [
    {"event": "Nope", "data": {}},
    {"event": "Blf", "data": {"key": "1", "extension": "x", "state": "idle"}},
    {"event": "CallState", "data": {"line": 1}},
    {"event": "CallState", "data": {**encode_event(CallState(1, LineState.IDLE, "in", 0, "", "", ""))["data"],
                                    "state": "exploded"}},
    {"data": {}}, [], "Blf",
])
def test_what_is_not_an_event_is_refused_with_a_sentence(message):
    with pytest.raises(CodecError) as info:
        decode_event(message)
    assert str(info.value)


def test_the_snapshot_rebuilds_the_view_with_its_timers():
    clock = iter([100.0, 105.0, 200.0]).__next__
    view = PhoneView(clock)
    view.apply(CallStarted("k", 1, "out", 0, "sip:100@x", "", "100", 99.5))
    view.apply(CallState(1, LineState.CALLING, "out", 0, "sip:100@x", "", "100", call_id="c1"))
    view.apply(CallState(1, LineState.TALKING, "out", 0, "sip:100@x", "", "100", call_id="c1"))
    view.apply(CallState(1, LineState.HELD, "out", 0, "sip:100@x", "", "100", call_id="c1"))
    view.apply(CallState(1, LineState.TALKING, "out", 0, "sip:100@x", "", "100", call_id="c1"))
    view.apply(RegState(0, True, 200, "OK", 300, "127.0.0.1"))
    view.apply(Blf(2, "1002", "busy"))
    view.apply(Notice("hello"))
    back = PhoneView.from_data(json.loads(json.dumps(view.to_data())))
    info = back.lines[1]
    assert (info.started, info.talking_since) == (99.5, 100.0)      # talking since the first answer, not the resume
    assert info.call == view.lines[1].call
    assert back.registrations == view.registrations and back.blf == view.blf and list(back.notices) == [Notice("hello")]
    back.apply(CallState(1, LineState.ENDED, "out", 0, "sip:100@x", "", "100", call_id="c1"))
    assert back.lines == {}


def test_outbox_merges_state_events_and_bounds_the_rest():
    async def go():
        box = Outbox(limit=5, lagging=3)
        assert box.put(b"blf1", ("Blf", 1)) and box.put(b"call", None) and box.put(b"blf1-new", ("Blf", 1))
        assert len(box) == 2
        assert box.put(b"x", None)
        assert box.put(b"sip", None, droppable=True) and box.left_out == 1      # lagging: the trace waits
        assert box.put(b"y", None) and box.put(b"z", None)
        assert not box.put(b"too many", None)                                   # the front-end is dropped
        got = [await box.get() for _ in range(5)]
        assert got == [b"blf1-new", b"call", b"x", b"y", b"z"]
        box.close()
        assert await box.get() is None
    asyncio.run(go())


@pytest.mark.parametrize("line", [b"{not json", b"[1, 2]", b'"text"', b"{" * 100_000])
def test_lines_that_are_not_objects_are_protocol_errors(line):
    with pytest.raises(ProtocolError):
        load(line)


@pytest.mark.parametrize("message", [{}, {"id": True, "op": "x"}, {"id": 1}, {"id": 1, "op": "x", "args": []}])
def test_requests_need_an_id_an_op_and_object_args(message):
    with pytest.raises(ProtocolError):
        parse_request(message)


@pytest.mark.parametrize(("op", "args", "says"), [
    ("explode", {}, "not an op"),
    ("hangup", {}, "needs its argument 'line'"),
    ("hangup", {"line": "1"}, "a whole number"),
    ("hangup", {"line": True}, "a whole number"),
    ("hangup", {"line": 1, "force": True}, "takes no argument 'force'"),
    ("set_dnd", {"on": "yes"}, "true or false"),
    ("call", {"target": "1" * 5000}, "at most"),
    ("conference", {"lines": [1, "2"]}, "list of whole numbers"),
])
def test_op_arguments_are_checked_before_the_phone_sees_them(op, args, says):
    with pytest.raises(ops.Refused) as info:
        ops.checked_args(op, args)
    assert says in str(info.value)


def test_defaults_fill_in():
    _, values = ops.checked_args("reject", {"line": 2})
    assert values == {"line": 2, "code": 486}


def test_a_front_end_imports_neither_pjsua2_nor_numpy_nor_the_phone():
    import subprocess
    import sys

    code = ("import sys, tuiphone.control.client, tuiphone.cli.ctl; "
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pjsua2', 'textual') "
            "or m == 'tuiphone.engine.phone'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
