"""The engine's events (tuiphone/engine/events.py) behave as the frozen dataclasses they stand for: the same
fields, repr, equality and hash, and no change once made."""

from __future__ import annotations

import copy
import dataclasses
import typing

import pytest

from tuiphone.engine import events
from tuiphone.engine.events import CallState, FrozenEvent, LineState, SipMessage

EVENTS = typing.get_args(events.Event)
SAMPLE = {"int": 7, "int | None": None, "bool": True, "str": "x", "float": 1.5, "LineState": LineState.TALKING,
          "tuple[bool, ...]": (True, False), "tuple[str, ...]": ("1001",)}


def sample(cls: type) -> FrozenEvent:
    return cls(**{f.name: SAMPLE[f.type] for f in dataclasses.fields(cls)})


def frozen_twin(cls: type) -> type:
    """The class as `@dataclass(frozen=True)` would make it: the same fields, defaults and options."""
    twin = dataclasses.make_dataclass(cls.__name__, [(f.name, f.type, dataclasses.field(
        default=f.default, repr=f.repr, compare=f.compare)) for f in dataclasses.fields(cls)], frozen=True)
    twin.__qualname__ = cls.__qualname__
    return twin


def test_every_event_is_a_frozen_event_dataclass():
    assert len(EVENTS) == 14
    for cls in EVENTS:
        assert dataclasses.is_dataclass(cls) and issubclass(cls, FrozenEvent), cls


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
def test_an_event_has_the_repr_equality_and_hash_of_a_frozen_dataclass(cls):
    one, twin = sample(cls), frozen_twin(cls)
    same = twin(**dataclasses.asdict(one))
    assert repr(one) == repr(same)
    assert one == sample(cls) and hash(one) == hash(sample(cls)) == hash(same)
    first = dataclasses.fields(cls)[0].name
    other = dataclasses.replace(one, **{first: "other"})
    assert other != one and (other == one) is (twin(**dataclasses.asdict(other)) == same)
    assert one != same          # another class, as two dataclasses with the same fields are unequal
    assert copy.deepcopy(one) == one and {one: 1}[sample(cls)] == 1


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
def test_an_event_cannot_be_changed_once_made(cls):
    one = sample(cls)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(one, name, "changed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(one, name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.anything_else = 1         # type: ignore[attr-defined]
    assert getattr(one, name) == getattr(sample(cls), name)


def test_a_sip_messages_text_is_compared_but_not_shown():
    msg = SipMessage(time=1.0, direction="in", transport="UDP", remote="127.0.0.1:5060", first_line="OPTIONS",
                     call_id="c", text="OPTIONS sip:x SIP/2.0")
    assert "text=" not in repr(msg) and "OPTIONS sip:x" not in repr(msg)
    assert msg != dataclasses.replace(msg, text="other")


def test_defaults_fill_the_fields_not_given():
    call = CallState(1, LineState.RINGING, "in", 0, "sip:2002@x", "", "2002")
    assert (call.sip_status, call.reason, call.call_id, call.muted) == (0, "", "", False)
