"""Phone keys pressed from outside (CTI `api-send_key`): the GXP key names turned into phone commands.

`PhoneKeys` is the headless keypad: digits collect into a number (or go out as DTMF in a call), SEND
dials it, OFFHOOK answers, ONHOOK ends or rejects, HOLD toggles, XFER transfers, CONF joins, MUTE
toggles, MPKn presses programmable key n. A UI may pass its own lock hook for LOCK/UNLOCK.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tuiphone.engine.events import CallState, LineState

COMMAND_TIMEOUT_S = 5.0
MAX_KEYS = 64
NAMED_KEYS = frozenset({"SEND", "ONHOOK", "OFFHOOK", "HOLD", "XFER", "TRANSFER", "CONF", "MUTE", "LOCK",
                        "UNLOCK", "STAR", "POUND", "SHARP"})
_MPK = re.compile(r"MPK([1-9][0-9]{0,2})")


class Refused(Exception):
    """A command the phone will not carry out now; `str()` is a sentence, `status` the HTTP status to answer."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def parse_keys(text: str) -> list[str]:
    """'1:2:STAR:%23:SEND' (already URL-decoded) -> ['1', '2', '*', '#', 'SEND']; raises Refused (400)."""
    if not text:
        raise Refused("keys is empty: give keys like keys=1:2:3:SEND", 400)
    parts = text.split(":")
    if len(parts) > MAX_KEYS:
        raise Refused(f"at most {MAX_KEYS} keys per request", 400)
    keys: list[str] = []
    for raw in parts:
        key = raw.strip().upper()
        if len(key) == 1 and key in "0123456789*#":
            keys.append(key)
        elif key == "STAR":
            keys.append("*")
        elif key in ("POUND", "SHARP"):
            keys.append("#")
        elif key == "TRANSFER":
            keys.append("XFER")
        elif key in NAMED_KEYS or _MPK.fullmatch(key):
            keys.append(key)
        else:
            shown = raw if len(raw) <= 20 else raw[:20] + "…"
            raise Refused(f"unknown key {shown!r}: use 0-9, STAR, %23, SEND, ONHOOK, OFFHOOK, HOLD, XFER, "
                            "CONF, MUTE, LOCK, UNLOCK or MPK1…", 400)
    return keys


def active_line(lines: list[CallState]) -> CallState | None:
    """The line the user is on: the talking one, else one being called out, else a held one."""
    for wanted in (LineState.TALKING, LineState.CALLING, LineState.DIALING, LineState.HELD):
        for call in lines:
            if call.state == wanted:
                return call
    return None


def ringing_line(lines: list[CallState]) -> CallState | None:
    return next((c for c in lines if c.state == LineState.RINGING), None)


async def wait(future: Future, timeout: float = COMMAND_TIMEOUT_S) -> Any:
    """The result of a Phone command future, without blocking the event loop."""
    from tuiphone.engine.phone import PhoneError

    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except PhoneError as exc:
        raise Refused(str(exc), 422 if exc.result == "blocked_by_dial_plan" else 409) from None
    except TimeoutError:
        raise Refused("the phone did not carry out the command in time; try again", 503) from None


class PhoneKeys:
    """The keypad of a phone with no screen. Not thread-safe: press keys from one event loop."""

    def __init__(self, phone: Any, *, on_lock: Callable[[bool], None] | None = None):
        self.phone = phone
        self.on_lock = on_lock
        self.number = ""            # digits typed while not in a call
        self.transferring = False   # XFER pressed: the next SEND transfers the active line

    async def press_all(self, keys: list[str]) -> None:
        for index, key in enumerate(keys, 1):
            try:
                await self.press(key)
            except Refused as exc:
                raise Refused(f"key {index} ({key}): {exc}", exc.status) from None

    async def press(self, key: str) -> None:
        lines = self.phone.lines()
        talking = next((c for c in lines if c.state == LineState.TALKING), None)
        if len(key) == 1:
            await self._digit(key, talking)
        elif key == "SEND":
            await self._send(lines)
        elif key == "OFFHOOK":
            ringing = ringing_line(lines)
            if ringing is not None:
                await wait(self.phone.answer(ringing.line))
        elif key == "ONHOOK":
            await self._onhook(lines)
        elif key == "HOLD":
            await self._hold(lines)
        elif key == "XFER":
            await self._transfer(lines, talking)
        elif key == "CONF":
            await wait(self.phone.conference())
        elif key == "MUTE":
            if talking is None:
                raise Refused("there is no call to mute")
            await wait(self.phone.mute(talking.line, not talking.muted))
        elif key in ("LOCK", "UNLOCK"):
            if self.on_lock is None:
                raise Refused("this phone runs without a screen, so there is no keypad to lock", 409)
            self.on_lock(key == "LOCK")
        else:
            await self._mpk(int(key[3:]), lines)

    async def _digit(self, digit: str, talking: CallState | None) -> None:
        if talking is not None and not self.transferring:
            await wait(self.phone.send_dtmf(talking.line, digit))
            return
        if digit == "#" and self.number and not self.transferring and self._pound_sends():
            await self._send(self.phone.lines())
            return
        self.number += digit

    def _pound_sends(self) -> bool:
        accounts = self.phone.config.accounts
        return not accounts or any(a.enabled and a.pound_sends for a in accounts)

    async def _send(self, lines: list[CallState]) -> None:
        number, self.number = self.number, ""
        if self.transferring:
            self.transferring = False
            line = active_line(lines)
            if line is None:
                raise Refused("the call to transfer has ended")
            if not number:
                raise Refused("type the number to transfer to before SEND")
            await wait(self.phone.blind_transfer(line.line, number))
            return
        if not number:
            raise Refused("there is no number to dial: send digits before SEND")
        await wait(self.phone.call(number))

    async def _onhook(self, lines: list[CallState]) -> None:
        self.number, self.transferring = "", False
        line = active_line(lines)
        if line is not None:
            await wait(self.phone.hangup(line.line))
            return
        ringing = ringing_line(lines)
        if ringing is not None:
            await wait(self.phone.reject(ringing.line))

    async def _hold(self, lines: list[CallState]) -> None:
        talking = next((c for c in lines if c.state == LineState.TALKING), None)
        if talking is not None:
            await wait(self.phone.hold(talking.line))
            return
        held = next((c for c in lines if c.state == LineState.HELD), None)
        if held is None:
            raise Refused("there is no call to hold or resume")
        await wait(self.phone.resume(held.line))

    async def _transfer(self, lines: list[CallState], talking: CallState | None) -> None:
        held = [c for c in lines if c.state == LineState.HELD]
        if talking is not None and len(held) == 1:
            # a consultation call is up: connect the held party with the one we talk to
            await wait(self.phone.attended_transfer(held[0].line, talking.line))
            return
        if active_line(lines) is None:
            raise Refused("there is no call to transfer")
        self.transferring, self.number = True, ""

    async def _mpk(self, number: int, lines: list[CallState]) -> None:
        keys = self.phone.config.keys
        if number > len(keys):
            raise Refused(f"there is no programmable key {number}: the config has {len(keys)}", 422)
        key = keys[number - 1]
        account = key.account - 1
        if key.mode in ("speed_dial", "blf", "intercom"):
            if not key.value:
                raise Refused(f"MPK{number} has no number: set keys[{number - 1}].value", 422)
            # the phone knows what each key does: a BLF key picks up its extension's ringing call
            await wait(self.phone.dial_key(number - 1))
        elif key.mode == "voicemail":
            from tuiphone.engine.phone import PhoneError

            try:
                future = self.phone.dial_voicemail(account)
            except PhoneError as exc:    # raised before a command future exists
                raise Refused(str(exc), 422) from None
            await wait(future)
        elif key.mode == "dnd":
            await wait(self.phone.set_dnd(not self.phone.feature_state().dnd))
        elif key.mode == "line":
            await self._line_key(number, lines)
        else:
            raise Refused(f"MPK{number} is a {key.mode} key, which needs the phone's screen", 409)

    async def _line_key(self, number: int, lines: list[CallState]) -> None:
        call = next((c for c in lines if c.line == number), None)
        if call is None:
            raise Refused(f"line {number} has no call")
        if call.state == LineState.RINGING:
            await wait(self.phone.answer(number))
        elif call.state == LineState.HELD:
            await wait(self.phone.resume(number))
