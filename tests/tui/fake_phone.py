"""A stand-in for `Phone`: the same public methods, completed Futures, events fired from a real thread.

Its commands change its lines the way the engine does (call → calling, answer → talking, hold → held)
and report the change as an event from a background thread, as the SIP thread would; every command
is also recorded in `commands` so a test can assert what the UI asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from tuiphone.engine.events import (
    Blf,
    CallLogEntry,
    CallState,
    Event,
    FeaturesChanged,
    IncomingCall,
    LineState,
    Mwi,
    Notice,
    RegState,
)
from tuiphone.engine.phone import PhoneError
from tuiphone.engine.quality import CallQuality


def done(value: Any = None) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def failed(exc: Exception) -> Future:
    future: Future = Future()
    future.set_exception(exc)
    return future


class FakePhone:
    def __init__(self, config) -> None:
        self.config = config
        self.max_lines = config.phone.lines
        self.commands: list[tuple] = []
        self.refuse: dict[str, PhoneError] = {}     # target -> the PhoneError `call` raises for it
        self.quality_of: dict[int, CallQuality] = {}
        self._subscribers: list[Callable[[Event], None]] = []
        self._regs: dict[int, RegState] = {}
        self._lines: dict[int, CallState] = {}
        self.blocked: list[str] = []
        self.voicemail: dict[int | None, tuple[bool, int, int]] = {}
        self.ghost_calls: dict[str, int] = {}
        self.backend = FakeBackend()
        self.local_audio = FakeLocalAudio(self.commands)
        self.pager: FakePager | None = None          # the real phone has one only when paging is set up
        self.blf_states: dict[int, str] = {}        # [[keys]] index -> the watched extension's state

    # ----- the event side ---------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def fire(self, *events: Event) -> None:
        """Deliver events to subscribers from a background thread, like the SIP thread does."""
        def deliver() -> None:
            for event in events:
                self._remember(event)
                for fn in tuple(self._subscribers):
                    fn(event)
        thread = threading.Thread(target=deliver, name="fake-sip")
        thread.start()
        thread.join()

    def _remember(self, event: Event) -> None:
        if isinstance(event, Blf):
            self.blf_states[event.key] = event.state
        elif isinstance(event, RegState):
            self._regs[event.account] = event
        elif isinstance(event, CallState):
            if event.state == LineState.ENDED:
                self._lines.pop(event.line, None)
            else:
                self._lines[event.line] = event

    def ring(self, line: int, number: str, name: str = "", account: int | None = 0) -> None:
        """An incoming call on `line`, announced as the engine does: the line rings, then IncomingCall."""
        uri = f"sip:{number}@127.0.0.1"
        self.fire(CallState(line=line, state=LineState.RINGING, direction="in", account=account, remote_uri=uri,
                            remote_name=name, remote_number=number),
                  IncomingCall(line=line, account=account, remote_uri=uri, remote_name=name,
                               remote_number=number, source="127.0.0.1:5070"))

    def set_state(self, line: int, state: LineState, **changes: Any) -> None:
        self.fire(replace(self._lines[line], state=state, **changes))

    def log(self, number: str, direction: str = "in", disposition: str = "answered", *, started: float = 1709283000.0,
            duration: float = 0.0, account: int | None = 0, name: str = "") -> None:
        """A finished call for the history, as the engine reports it when a line ends."""
        self.fire(CallLogEntry(direction=direction, account=account, remote_uri=f"sip:{number}@127.0.0.1",
                               remote_name=name, remote_number=number, started=started, duration_s=duration,
                               disposition=disposition, reason=""))

    def mwi(self, account: int | None, new: int, old: int = 0) -> None:
        self.voicemail[account] = (new > 0, new, old)
        self.fire(Mwi(account=account, waiting=new > 0, new=new, old=old))

    def _feature(self, command: tuple, text: str) -> Future:
        self.commands.append(command)
        self.fire(Notice(text), self.feature_state())
        return done(text)

    # ----- Phone's public methods -------------------------------------------------------------------
    def registrations(self) -> dict[int, RegState]:
        return dict(self._regs)

    def lines(self) -> list[CallState]:
        return [self._lines[n] for n in sorted(self._lines)]

    def register(self, account: int, on: bool = True) -> Future:
        self.commands.append(("register", account, on))
        return done()

    def call(self, target: str, account: int | None = None, media: Any = None,
             headers: dict[str, str] | None = None) -> Future:
        self.commands.append(("call", target, account))
        if target in self.refuse:
            return failed(self.refuse[target])
        free = [n for n in range(1, self.max_lines + 1) if n not in self._lines]
        if not free:
            return failed(PhoneError(f"All {self.max_lines} lines are busy: end a call first."))
        for line in list(self._lines.values()):
            if line.state == LineState.TALKING:
                self.fire(replace(line, state=LineState.HELD))
        self.fire(CallState(line=free[0], state=LineState.CALLING, direction="out", account=account,
                            remote_uri=f"sip:{target}@127.0.0.1", remote_name="", remote_number=target))
        return done(free[0])

    def answer(self, line: int, media: Any = None) -> Future:
        self.commands.append(("answer", line))
        self.set_state(line, LineState.TALKING, codec="PCMU")
        return done()

    def reject(self, line: int, code: int = 486) -> Future:
        self.commands.append(("reject", line, code))
        self.set_state(line, LineState.ENDED, sip_status=code, reason="Busy Here")
        return done()

    def hangup(self, line: int) -> Future:
        self.commands.append(("hangup", line))
        self.set_state(line, LineState.ENDED, sip_status=200, reason="Normal call clearing")
        return done()

    def hangup_all(self) -> Future:
        self.commands.append(("hangup_all",))
        for line in list(self._lines):
            self.set_state(line, LineState.ENDED)
        return done()

    def hold(self, line: int) -> Future:
        self.commands.append(("hold", line))
        self.set_state(line, LineState.HELD)
        return done()

    def resume(self, line: int) -> Future:
        self.commands.append(("resume", line))
        for other in list(self._lines.values()):
            if other.line != line and other.state == LineState.TALKING:
                self.fire(replace(other, state=LineState.HELD))
        self.set_state(line, LineState.TALKING)
        return done()

    def mute(self, line: int, on: bool = True) -> Future:
        self.commands.append(("mute", line, on))
        self.set_state(line, self._lines[line].state, muted=on)
        return done()

    def send_dtmf(self, line: int, digits: str) -> Future:
        self.commands.append(("send_dtmf", line, digits))
        return done()

    def blind_transfer(self, line: int, target: str) -> Future:
        self.commands.append(("blind_transfer", line, target))
        return done()

    def attended_transfer(self, line: int, other_line: int) -> Future:
        self.commands.append(("attended_transfer", line, other_line))
        return done()

    def feature_state(self) -> FeaturesChanged:
        f = self.config.features
        return FeaturesChanged(dnd=f.dnd, call_waiting=f.call_waiting, forward_always=f.forward_always,
                               forward_busy=f.forward_busy, forward_no_answer=f.forward_no_answer,
                               anonymous=tuple(a.anonymous for a in self.config.accounts),
                               blocklist=tuple(self.blocked))

    def set_dnd(self, on: bool) -> Future:
        self.config.features.dnd = on
        return self._feature(("set_dnd", on), "Do not disturb is on." if on else "Do not disturb is off.")

    def set_forward(self, kind: str, target: str) -> Future:
        setattr(self.config.features, f"forward_{kind}", target)
        label = kind.replace("_", " ")
        return self._feature(("set_forward", kind, target),
                             f"Forward {label} to {target}." if target else f"Forward {label} is off.")

    def set_call_waiting(self, on: bool) -> Future:
        self.config.features.call_waiting = on
        return self._feature(("set_call_waiting", on), f"Call waiting is {'on' if on else 'off'}.")

    def set_anonymous(self, account: int, on: bool) -> Future:
        self.config.accounts[account].anonymous = on
        return self._feature(("set_anonymous", account, on),
                             f"Account {account + 1}: anonymous calls {'on' if on else 'off'}.")

    def block(self, entry: str) -> Future:
        if " " in entry.strip() or not entry.strip():
            self.commands.append(("block", entry))
            return failed(PhoneError(f"'{entry}' is not a number or a pattern like 1900x+."))
        if entry not in self.blocked:
            self.blocked.append(entry)
        return self._feature(("block", entry), f"{entry} is blocked.")

    def unblock(self, entry: str) -> Future:
        if entry in self.blocked:
            self.blocked.remove(entry)
        return self._feature(("unblock", entry), f"{entry} is no longer blocked.")

    def record(self, line: int, on: bool = True) -> Future:
        self.commands.append(("record", line, on))
        self.set_state(line, self._lines[line].state, recording=on)
        return done(None if on else f"/data/recordings/line{line}.wav")

    def forward(self, line: int, target: str) -> Future:
        """Send a ringing call to `target` (302), as the engine's forward does."""
        self.commands.append(("forward", line, target))
        self.set_state(line, LineState.ENDED, sip_status=302, reason="Moved Temporarily")
        return done()

    def silence_ringer(self, line: int | None = None) -> None:
        """Stop the ringtone while the call keeps ringing, as the engine's silence_ringer does."""
        self.local_audio.stop_ring()

    def dial_voicemail(self, account: int | None = None, media: Any = None) -> Future:
        index = account if account is not None else 0
        if not self.config.accounts:
            raise PhoneError("No account is configured, so there is no voicemail to call.")
        self.commands.append(("dial_voicemail", account))
        return self.call(self.config.accounts[index].voicemail, index)

    def dial_key(self, index: int, media: Any = None) -> Future:
        """A speed dial, BLF or intercom key as the engine dials it: BLF picks up (pickup code + extension) while
        the extension rings; intercom asks the far end to answer by itself."""
        key = self.config.keys[index]
        self.commands.append(("dial_key", index))
        if key.mode == "blf" and self.blf_states.get(index) == "ringing":
            return self.call(getattr(key, "pickup_code", "**") + key.value, key.account - 1)
        if key.mode == "intercom":
            return self.call(key.value, key.account - 1, headers={"Call-Info": "answer-after=0"})
        return self.call(key.value, key.account - 1)

    def reconfigure_account(self, index: int, account: Any) -> Future:
        """Take an edited account at once: the engine re-registers it with the new settings."""
        self.commands.append(("reconfigure_account", index, account.sip_server, account.user_id))
        return done()

    # ----- conference ----------------------------------------------------------------------------------
    def _members(self) -> list[CallState]:
        return [c for c in self._lines.values() if c.conference]

    def conference(self, lines: list[int] | None = None) -> Future:
        self.commands.append(("conference", lines))
        members = [self._lines[n] for n in lines] if lines is not None else [
            c for c in self._lines.values() if c.state in (LineState.TALKING, LineState.HELD)]
        if len(members) < 2:
            return failed(PhoneError("A conference needs at least two calls: hold one and call another."))
        for c in members:
            self.fire(replace(c, state=LineState.TALKING, conference=True))
        return done(sorted(c.line for c in members))

    def split_conference(self, keep: int | None = None) -> Future:
        self.commands.append(("split_conference", keep))
        for c in self._members():
            self.fire(replace(c, conference=False, state=LineState.TALKING if c.line == keep else LineState.HELD))
        return done()

    def hold_conference(self, on: bool = True) -> Future:
        self.commands.append(("hold_conference", on))
        for c in self._members():
            self.fire(replace(c, state=LineState.HELD if on else LineState.TALKING))
        return done()

    def end_conference(self) -> Future:
        self.commands.append(("end_conference",))
        for c in self._members():
            self.fire(replace(c, state=LineState.ENDED))
        return done()

    def leave_conference(self) -> Future:
        self.commands.append(("leave_conference",))
        if len(self._members()) != 2:
            return failed(PhoneError("Leaving a conference keeps the others talking only when two others are "
                                     "left; end it or split it instead."))
        for c in self._members():
            self.fire(replace(c, state=LineState.ENDED))
        return done()

    def quality(self, line: int) -> Future:
        self.commands.append(("quality", line))
        if line not in self._lines:
            return failed(PhoneError(f"Line {line} has no call."))
        return done(self.quality_of.get(line))


class FakeBackend:
    """The bits of the SIP backend the UI uses: its address, and running a job "on the SIP thread"."""

    def __init__(self, address: str = "127.0.0.1:5060") -> None:
        self.address = address

    def local_address(self, transport: str = "udp") -> str:
        return self.address

    def submit(self, fn: Callable[[], Any]) -> Future:
        return done(fn())


class FakeLocalAudio:
    """The user's speaker as far as the UI touches it: the ringer can be stopped, the volume set."""

    def __init__(self, commands: list[tuple]) -> None:
        self.commands = commands
        self.volume = 1.0

    def set_volume(self, volume: float) -> None:
        self.volume = min(max(volume, 0.0), 1.0)
        self.commands.append(("set_volume", round(self.volume, 2)))

    def start_ring(self, ringtone: str = "ring1", volume: float = 1.0) -> str | None:
        self.commands.append(("start_ring", ringtone))
        return None

    def stop_ring(self) -> None:
        self.commands.append(("stop_ring",))


class FakePager:
    """The pager's sending side as the paging keys use it; `refuse` makes the next start fail with that sentence."""

    def __init__(self, commands: list[tuple]) -> None:
        self.commands = commands
        self.sending: str | None = None
        self.refuse = ""

    def start_sending(self, target: str, codec: str | None = None) -> None:
        if self.refuse:
            raise RuntimeError(self.refuse)
        self.commands.append(("page", target))
        self.sending = target

    def stop_sending(self) -> None:
        self.commands.append(("stop_page", self.sending))
        self.sending = None
