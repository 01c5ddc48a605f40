"""The engine's frozen event dataclasses as JSON and back, generically (fields, enums by value, tuples).

`encode_event(CallState(...))` gives `{"event": "CallState", "data": {...}}`; `decode_event` of that gives
an equal `CallState`. `to_data`/`from_data` do the same for any dataclass of the kinds the engine uses
(str, int, float, bool, None, str-valued enums, tuples, lists, nested dataclasses), so a reply such as a
`CallQuality` travels the same way. Nothing here imports the engine's heavy parts: a front-end that only
attaches loads events.py and this.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from functools import cache
from pathlib import PurePath
from typing import Any

from tuiphone.engine import events

EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(events.Event)}


class CodecError(ValueError):
    """JSON that does not make the event or value it claims to be; `str()` says what is wrong."""


def to_data(value: Any) -> Any:
    """A JSON-ready copy of `value`: dataclasses become objects, enums their values, tuples lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_data(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_data(item) for key, item in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    raise CodecError(f"a {type(value).__name__} cannot be sent as JSON")


def encode_event(event: Any) -> dict[str, Any]:
    return {"event": type(event).__name__, "data": to_data(event)}


def decode_event(message: Any) -> Any:
    """The event dataclass of `{"event": name, "data": {...}}`; CodecError for anything else."""
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise CodecError("an event is an object with an 'event' name and its 'data'")
    cls = EVENT_TYPES.get(message["event"])
    if cls is None:
        raise CodecError(f"'{message['event']:.40}' is not an event this tuiphone knows")
    return from_data(cls, message.get("data"))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(kind: Any, data: Any) -> Any:
    """`data` (parsed JSON) as a value of type `kind`: a dataclass, enum, tuple, list, union or scalar."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        problems = []
        for option in options:
            if option is type(None):
                continue
            try:
                return from_data(option, data)
            except CodecError as exc:
                problems.append(str(exc))
        raise CodecError(problems[0] if problems else f"{data!r:.40} is not allowed here")
    if origin in (tuple, list):
        if not isinstance(data, list):
            raise CodecError(f"expected a list, got {type(data).__name__}")
        args = typing.get_args(kind)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(data):
                raise CodecError(f"expected {len(args)} items, got {len(data)}")
            return tuple(from_data(a, item) for a, item in zip(args, data, strict=True))
        item_kind = args[0] if args else Any
        items = [from_data(item_kind, item) for item in data]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(data, dict):
            raise CodecError(f"expected an object, got {type(data).__name__}")
        _, value_kind = typing.get_args(kind) or (str, Any)
        return {key: from_data(value_kind, item) for key, item in data.items()}
    if kind is Any:
        return data
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind, data)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            raise CodecError(f"{data!r:.40} is not a {kind.__name__}") from None
    return _scalar(kind, data)


def _dataclass(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise CodecError(f"a {cls.__name__} is an object, not {type(data).__name__}")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            try:
                values[f.name] = from_data(hints[f.name], data[f.name])
            except CodecError as exc:
                raise CodecError(f"{cls.__name__}.{f.name}: {exc}") from None
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CodecError(f"a {cls.__name__} needs its {f.name}")
    return cls(**values)       # fields a newer phone added are left out: older front-ends keep working


def _scalar(kind: Any, data: Any) -> Any:
    if kind is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if kind is int and isinstance(data, int) and not isinstance(data, bool):
        return data
    if kind in (str, bool) and type(data) is kind:
        return data
    if kind is type(None) and data is None:
        return None
    raise CodecError(f"expected {getattr(kind, '__name__', kind)}, got {type(data).__name__}")
