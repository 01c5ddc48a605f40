"""The ops a front-end may ask of the phone: an explicit allow-list mirroring the `Phone` API the UI uses.

Each op names its arguments and their kinds; `run(op, args, ctx)` checks them, calls the phone and awaits
its Future (at most COMMAND_TIMEOUT_S). Arguments mean what they mean to `Phone`: lines count from 1,
accounts and keys from 0. A refusal raises Refused with the phone's own sentence.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiphone.control.codec import to_data

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 10.0
MAX_TEXT = 2048              # characters in one string argument
REQUIRED = object()


class Refused(Exception):
    """The phone (or the op's checks) said no; `str()` is the sentence for the user."""


class UnknownOp(Refused):
    pass


@dataclass
class Context:
    """What the ops work on: the phone, the daemon's store (or None), its stopping event, the server's status."""
    phone: Any
    store: Any = None
    stopping: asyncio.Event | None = None
    status: Callable[[], dict[str, Any]] | None = None
    config: Path | None = None           # the config file the phone was started for


@dataclass(frozen=True)
class Op:
    fn: Callable[..., Any]             # (ctx, **args) -> a value, a concurrent Future, or an awaitable
    args: dict[str, tuple[str, Any]]   # name -> (kind, default or REQUIRED); kinds in _KINDS


def _phone(method: str, *names: str) -> Callable[..., Any]:
    """An op that calls `phone.<method>` with the args of these names, in order."""
    def call(ctx: Context, **args: Any) -> Any:
        return getattr(ctx.phone, method)(*(args[n] for n in names))
    return call


def _need_pager(ctx: Context) -> Any:
    pager = getattr(ctx.phone, "pager", None)
    if pager is None:
        raise Refused("This phone has no pager.")
    return pager


async def _page_send(ctx: Context, target: str, codec: str | None) -> None:
    await asyncio.to_thread(_need_pager(ctx).start_sending, target, codec)


async def _page_stop(ctx: Context) -> None:
    await asyncio.to_thread(_need_pager(ctx).stop_sending)


def _end_page(ctx: Context) -> None:
    _need_pager(ctx).end_page()


def _history(ctx: Context, limit: int, kind: str) -> list[Any]:
    if ctx.store is None:
        raise Refused("This phone keeps no call history: its database could not be opened (see its log).")
    if not 1 <= limit <= 10000:
        raise Refused("The history limit is 1 to 10000 calls.")
    try:
        return ctx.store.calls(kind, limit)
    except ValueError as exc:
        raise Refused(str(exc)) from None


def _contacts(ctx: Context, search: str) -> list[Any]:
    if ctx.store is None:
        raise Refused("This phone has no phonebook: its database could not be opened (see its log).")
    return ctx.store.contacts(search)


def _volume(ctx: Context, volume: float) -> None:
    audio = ctx.phone.local_audio
    if audio is None:
        raise Refused("This phone has no local sound.")
    if not 0.0 <= volume <= 1.0:
        raise Refused("The volume is 0.0 to 1.0.")
    audio.set_volume(volume)


def _reconfigure_account(ctx: Context, index: int, account: dict[str, Any]) -> Any:
    """An account edited in an attached front-end (which saved it to the config file): the phone applies it
    now, as Phone.reconfigure_account does for the standalone TUI."""
    from pydantic import ValidationError

    from tuiphone.config import AccountConfig, validation_problems

    if not 0 <= index <= len(ctx.phone.config.accounts):
        raise Refused(f"There is no account {index + 1} to change (the phone has {len(ctx.phone.config.accounts)}).")
    try:
        settings = AccountConfig.model_validate(account)
    except ValidationError as exc:
        raise Refused("The account is not valid: " + "; ".join(validation_problems(exc))) from None
    return ctx.phone.reconfigure_account(index, settings)


async def _config(ctx: Context) -> dict[str, Any]:
    """The config file as the phone reads it now, checked by the schema, as plain data (config.view): what an
    attaching TUI shows, so it needs no pydantic. A file that is gone is written anew, as at the first start."""
    from tuiphone.config import ConfigError, load_or_create
    from tuiphone.config.view import plain_config

    if ctx.config is None:
        raise Refused("This phone was started without a config file.")
    try:
        cfg, created = await asyncio.to_thread(load_or_create, ctx.config)
    except ConfigError as exc:
        raise Refused(str(exc)) from None
    return {"config": plain_config(cfg), "created": created, "path": str(ctx.config)}


def _status(ctx: Context) -> dict[str, Any]:
    return ctx.status() if ctx.status is not None else {}


def _stop(ctx: Context) -> dict[str, Any]:
    if ctx.stopping is None:
        raise Refused("This phone is not one that can be stopped from here.")
    log.info("asked to stop over the control socket")
    ctx.stopping.set()
    return {"stopping": True, "pid": os.getpid()}


LINE = ("int", REQUIRED)
ON = ("bool", True)
OPS: dict[str, Op] = {
    "status": Op(_status, {}),
    "config": Op(_config, {}),
    "stop": Op(_stop, {}),
    "call": Op(_phone("call", "target", "account"), {"target": ("str", REQUIRED), "account": ("int?", None)}),
    "intercom": Op(_phone("intercom", "target", "account"), {"target": ("str", REQUIRED), "account": ("int?", None)}),
    "dial_voicemail": Op(_phone("dial_voicemail", "account"), {"account": ("int?", None)}),
    "dial_key": Op(_phone("dial_key", "index"), {"index": ("int", REQUIRED)}),
    "answer": Op(_phone("answer", "line"), {"line": LINE}),
    "reject": Op(_phone("reject", "line", "code"), {"line": LINE, "code": ("int", 486)}),
    "forward": Op(_phone("forward", "line", "target"), {"line": LINE, "target": ("str", REQUIRED)}),
    "hangup": Op(_phone("hangup", "line"), {"line": LINE}),
    "hangup_all": Op(_phone("hangup_all"), {}),
    "hold": Op(_phone("hold", "line"), {"line": LINE}),
    "resume": Op(_phone("resume", "line"), {"line": LINE}),
    "mute": Op(_phone("mute", "line", "on"), {"line": LINE, "on": ON}),
    "send_dtmf": Op(_phone("send_dtmf", "line", "digits"), {"line": LINE, "digits": ("str", REQUIRED)}),
    "blind_transfer": Op(_phone("blind_transfer", "line", "target"), {"line": LINE, "target": ("str", REQUIRED)}),
    "attended_transfer": Op(_phone("attended_transfer", "line", "other_line"),
                            {"line": LINE, "other_line": ("int", REQUIRED)}),
    "record": Op(_phone("record", "line", "on"), {"line": LINE, "on": ON}),
    "conference": Op(_phone("conference", "lines"), {"lines": ("ints?", None)}),
    "split_conference": Op(_phone("split_conference", "keep"), {"keep": ("int?", None)}),
    "hold_conference": Op(_phone("hold_conference", "on"), {"on": ON}),
    "end_conference": Op(_phone("end_conference"), {}),
    "leave_conference": Op(_phone("leave_conference"), {}),
    "set_dnd": Op(_phone("set_dnd", "on"), {"on": ("bool", REQUIRED)}),
    "set_forward": Op(_phone("set_forward", "kind", "target"), {"kind": ("str", REQUIRED), "target": ("str", "")}),
    "set_call_waiting": Op(_phone("set_call_waiting", "on"), {"on": ("bool", REQUIRED)}),
    "set_anonymous": Op(_phone("set_anonymous", "account", "on"), {"account": ("int", REQUIRED), "on": ON}),
    "block": Op(_phone("block", "entry"), {"entry": ("str", REQUIRED)}),
    "unblock": Op(_phone("unblock", "entry"), {"entry": ("str", REQUIRED)}),
    "register": Op(_phone("register", "account", "on"), {"account": ("int", REQUIRED), "on": ON}),
    "reconfigure_account": Op(_reconfigure_account, {"index": ("int", REQUIRED), "account": ("object", REQUIRED)}),
    "silence_ringer": Op(_phone("silence_ringer", "line"), {"line": ("int?", None)}),
    "quality": Op(_phone("quality", "line"), {"line": LINE}),
    "dtmf_received": Op(_phone("dtmf_received", "line"), {"line": LINE}),
    "page_send": Op(_page_send, {"target": ("str", REQUIRED), "codec": ("str?", None)}),
    "page_stop": Op(_page_stop, {}),
    "end_page": Op(_end_page, {}),
    "set_volume": Op(_volume, {"volume": ("float", REQUIRED)}),
    "history": Op(_history, {"limit": ("int", 50), "kind": ("str", "all")}),
    "contacts": Op(_contacts, {"search": ("str", "")}),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "a whole number"),
    "int?": (lambda v: v is None or _is_int(v), "a whole number or null"),
    "str": (lambda v: isinstance(v, str) and len(v) <= MAX_TEXT, f"a string of at most {MAX_TEXT} characters"),
    "str?": (lambda v: v is None or isinstance(v, str) and len(v) <= MAX_TEXT, "a string or null"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "float": (lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)), "a number"),
    "object": (lambda v: isinstance(v, dict) and len(v) <= 64 and all(isinstance(k, str) for k in v),
               "an object of at most 64 keys"),
    "ints?": (lambda v: v is None or isinstance(v, list) and len(v) <= 64 and all(map(_is_int, v)),
              "a list of whole numbers or null"),
}


def checked_args(op_name: str, args: dict[str, Any]) -> tuple[Op, dict[str, Any]]:
    """The op and its arguments with defaults filled in; UnknownOp or Refused (a sentence) when wrong."""
    op = OPS.get(op_name)
    if op is None:
        raise UnknownOp(f"'{op_name:.40}' is not an op this phone knows")
    extra = sorted(set(args) - set(op.args))
    if extra:
        raise Refused(f"{op_name} takes no argument '{extra[0]:.40}'")
    values: dict[str, Any] = {}
    for name, (kind, default) in op.args.items():
        if name not in args:
            if default is REQUIRED:
                raise Refused(f"{op_name} needs its argument '{name}'")
            values[name] = default
            continue
        check, what = _KINDS[kind]
        if not check(args[name]):
            raise Refused(f"{op_name}: '{name}' is {what}")
        values[name] = float(args[name]) if kind == "float" else args[name]
    return op, values


async def run(op_name: str, args: dict[str, Any], ctx: Context, timeout: float = COMMAND_TIMEOUT_S) -> Any:
    """The JSON-ready result of one op; Refused with a sentence when it cannot be done."""
    from tuiphone.engine.phone import PhoneError

    op, values = checked_args(op_name, args)
    try:
        result = op.fn(ctx, **values)
        if isinstance(result, concurrent.futures.Future):
            result = await asyncio.wait_for(asyncio.wrap_future(result), timeout)
        elif asyncio.iscoroutine(result):
            result = await asyncio.wait_for(result, timeout)
    except PhoneError as exc:
        raise Refused(str(exc)) from None
    except TimeoutError:
        raise Refused("the phone did not carry out the command in time; try again") from None
    except Refused:
        raise
    except Exception as exc:
        if type(exc).__name__ in ("PagerError", "FeatureError"):    # the phone's sentences
            raise Refused(str(exc)) from None
        log.exception("control op %s failed", op_name)
        raise Refused(f"the phone could not do {op_name}: an internal error (see the phone's log)") from None
    return to_data(result)
