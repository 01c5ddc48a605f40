"""A fake SIP stack for testing the phone logic: no sockets, no threads, a clock that moves only on request.

`FakeBackend` implements the `SipBackend` protocol (engine/backend.py). It records every command the
phone sends in `commands` (tuples such as `("answer", cid, 180)`) and has helpers that play the
network side (`incoming`, `remote_state`, `reg_result`, ...). Like pjsua, it reports state changes
that a local command causes at once, inside that command: answering 180 makes the call "early",
answering 486 or hanging up a confirmed call makes it "disconnected".
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuiphone.engine.backend import (
    AccountSettings,
    BackendListener,
    CallMedia,
    IncomingInfo,
    TransportSettings,
)
from tuiphone.engine.quality import CallQuality
from tuiphone.engine.sipuri import split_name_uri

REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 407: "Proxy Authentication Required",
    408: "Request Timeout", 486: "Busy Here", 487: "Request Terminated", 503: "Service Unavailable",
    603: "Decline",
}
_DEFAULT_STATUS = {"calling": 0, "early": 180, "connecting": 200, "confirmed": 200, "disconnected": 200}


@dataclass
class FakeCall:
    """One call as the fake stack sees it."""
    cid: int
    account: int | None
    direction: str                  # "out" | "in"
    remote_uri: str
    headers: dict[str, str] = field(default_factory=dict)
    media: CallMedia | None = None
    state: str = "calling"          # calling | early | connecting | confirmed | disconnected
    held: bool = False
    muted: bool = False
    rx: int = 0                     # media packets from the far end so far (rx_activity)


class FakeBackend:
    """A SipBackend whose network is the test. Commands run inline; timers wait for `advance()`."""

    def __init__(self, address: str = "127.0.0.1:5060") -> None:
        self.listener: BackendListener = None  # type: ignore[assignment]  # Phone sets itself here
        self.address = address
        self.commands: list[tuple[Any, ...]] = []
        self.calls: dict[int, FakeCall] = {}
        self.accounts: dict[int, AccountSettings] = {}
        self.settings: TransportSettings | None = None
        self.started = False
        self.stopped = False
        self.start_error: OSError | None = None     # set to make start() fail like a port in use
        self.call_error: str | None = None          # set to make make_call() fail like pjsua refusing
        self.now = 0.0
        self.call_slots = 24                         # calls the stack holds at once (pjsua2's wheel: 4)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._seq = itertools.count()
        self._cids = itertools.count(0)              # pjsua call ids start at 0: a falsy id is valid
        self.servers_answer = True                   # OPTIONS keep-alives get an answer (False: the server is away)
        self.pings: list[tuple[float, str]] = []     # (time, "host:port") of every keep-alive sent

    # ----- what the phone sent ---------------------------------------------------------------
    def sent(self, name: str) -> list[tuple[Any, ...]]:
        """The commands of one kind, in order, e.g. `sent("answer") == [("answer", 0, 180)]`."""
        return [c for c in self.commands if c[0] == name]

    def names(self) -> list[str]:
        return [c[0] for c in self.commands]

    # ----- thread plumbing -------------------------------------------------------------------
    def submit(self, fn: Callable[[], Any]) -> Future:
        fut: Future = Future()
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(fn())
        except BaseException as exc:  # handed to the caller through the future, as the real one does
            fut.set_exception(exc)
        return fut

    def schedule(self, delay: float, fn: Callable[[], None]) -> object:
        seq = next(self._seq)
        heapq.heappush(self._timers, (self.now + delay, seq, fn))
        return seq

    def cancel(self, handle: object) -> None:
        if isinstance(handle, int):
            self._cancelled.add(handle)

    def monotonic(self) -> float:
        """The fake clock, for phone logic that measures time (the media watch)."""
        return self.now

    def ping_options(self, target, timeout: float) -> int:
        """A keep-alive OPTIONS (engine/registrar_health.py): 200 while `servers_answer`, else 0 (no answer)."""
        self.pings.append((self.now, f"{target.host}:{target.port}"))
        return 200 if self.servers_answer else 0

    def pending_delays(self) -> list[float]:
        """Seconds until each one-off timer that is still to fire (retries, ring delays...), soonest first
        (rounded: the clock sums floats). The phone's steady beats are left out: see `beats()`."""
        return sorted(round(due - self.now, 6) for due, seq, fn in self._timers
                      if seq not in self._cancelled and not _is_beat(fn))

    def beats(self) -> list[str]:
        """The steady beats waiting to fire: "keepalive" (OPTIONS to a registrar), "media" (the RTP watch)."""
        return sorted(_is_beat(fn) for _, seq, fn in self._timers if seq not in self._cancelled and _is_beat(fn))

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing due timers in order (also ones they schedule within the window)."""
        end = self.now + seconds
        while self._timers and self._timers[0][0] <= end + 1e-9:   # slack for float sums like 0.99 + 0.01
            due, seq, fn = heapq.heappop(self._timers)
            if seq in self._cancelled:
                self._cancelled.discard(seq)
                continue
            self.now = max(self.now, due)
            fn()
        self.now = end

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self, settings: TransportSettings) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.settings = settings
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def local_address(self, transport: str = "udp") -> str:
        if self.settings is not None and transport not in self.settings.transports:
            raise KeyError(f"transport {transport} is not enabled")
        return self.address

    # ----- accounts --------------------------------------------------------------------------
    def set_account(self, acc: AccountSettings) -> None:
        self.commands.append(("set_account", acc))
        self.accounts[acc.index] = acc

    def remove_account(self, index: int) -> None:
        self.commands.append(("remove_account", index))
        self.accounts.pop(index, None)

    def register(self, index: int, on: bool) -> None:
        if index not in self.accounts:
            raise KeyError(index)
        self.commands.append(("register", index, on))

    # ----- calls -----------------------------------------------------------------------------
    def make_call(self, account: int | None, uri: str, headers: dict[str, str], media: CallMedia,
                  from_uri: str = "") -> int:
        if account is not None and account not in self.accounts:
            raise KeyError(account)
        if self.call_error is not None:
            raise ValueError(f"cannot call {uri}: {self.call_error}")
        cid = next(self._cids)
        self.calls[cid] = FakeCall(cid, account, "out", uri, dict(headers), media)
        self.calls[cid].from_uri = from_uri
        self.commands.append(("make_call", account, uri))
        return cid

    def answer(self, cid: int, code: int, media: CallMedia | None = None,
               headers: dict[str, str] | None = None) -> None:
        call = self._live(cid)
        if media is not None:
            call.media = media
        call.answer_headers = dict(headers or {})
        self.commands.append(("answer", cid, code))
        if code < 200:
            self._state(call, "early", code)
        elif code < 300:
            self._state(call, "connecting", code)
        else:
            self._state(call, "disconnected", code)

    def hangup(self, cid: int, code: int = 0) -> None:
        self.commands.append(("hangup", cid, code))
        call = self.calls.get(cid)
        if call is None or call.state == "disconnected":
            return
        if call.direction == "out" and call.state not in ("connecting", "confirmed"):
            return   # CANCEL sent: the call ends when the far end answers 487 (remote_state)
        if call.state in ("connecting", "confirmed"):
            self._state(call, "disconnected", 200)
        else:
            self._state(call, "disconnected", code or 603)

    def hold(self, cid: int) -> None:
        self._live(cid).held = True
        self.commands.append(("hold", cid))

    def unhold(self, cid: int) -> None:
        self._live(cid).held = False
        self.commands.append(("unhold", cid))

    def set_mute(self, cid: int, on: bool) -> None:
        self._live(cid).muted = on
        self.commands.append(("set_mute", cid, on))

    def set_media(self, cid: int, media: CallMedia) -> None:
        self._live(cid).media = media
        self.commands.append(("set_media", cid))

    def send_dtmf(self, cid: int, digits: str, method: str) -> None:
        self._live(cid)
        self.commands.append(("send_dtmf", cid, digits, method))

    def blind_transfer(self, cid: int, uri: str) -> None:
        self._live(cid)
        self.commands.append(("blind_transfer", cid, uri))

    def attended_transfer(self, cid: int, other_cid: int) -> None:
        self._live(cid)
        self._live(other_cid)
        self.commands.append(("attended_transfer", cid, other_cid))

    def quality(self, cid: int) -> CallQuality:
        self._live(cid)
        return CallQuality(codec="PCMU", rx_packets=0, rx_lost=0, rx_loss_pct=0.0, jitter_ms=0.0,
                           tx_packets=0, rtt_ms=0.0, mos=0.0)

    def rx_activity(self, cid: int) -> int | None:
        call = self.calls.get(cid)
        return None if call is None or call.state == "disconnected" else call.rx

    def watch(self, account: int, uri: str) -> int:
        self.watched = getattr(self, "watched", [])
        self.watched.append((account, uri))
        self.commands.append(("watch", account, uri))
        return len(self.watched) - 1

    def unwatch(self, handle: int) -> None:
        self.commands.append(("unwatch", handle))

    def open_local_port(self) -> None:
        return None                # no C port here: the phone gives the local port media instead

    def set_local_media(self, media: CallMedia) -> None:
        self.local_media = media
        self.commands.append(("set_local_media",))

    def join_local(self, cid: int, on: bool) -> None:
        self.joined_local = getattr(self, "joined_local", set())
        (self.joined_local.add if on else self.joined_local.discard)(cid)

    def link(self, cid: int, other_cid: int, on: bool) -> None:
        self.links = getattr(self, "links", set())
        pair = frozenset((cid, other_cid))
        (self.links.add if on else self.links.discard)(pair)
        self.commands.append(("link", min(cid, other_cid), max(cid, other_cid), on))

    # ----- the network side ------------------------------------------------------------------
    def incoming(self, account: int | None, remote_uri: str, *, request_user: str | None = None,
                 source: str = "127.0.0.1:5070", headers: dict[str, str] | None = None,
                 cid: int | None = None) -> int:
        """An INVITE arrives; returns its call id. The Request-URI user defaults to the account's user;
        `cid` gives it an id the stack used before (pjsua reuses ids at once)."""
        if request_user is None:
            acc = self.accounts.get(account) if account is not None else None
            request_user = acc.user_id if acc is not None else ""
        name, uri, number = split_name_uri(remote_uri)
        cid = next(self._cids) if cid is None else cid
        self.calls[cid] = FakeCall(cid, account, "in", uri, dict(headers or {}))
        info = IncomingInfo(remote_uri=uri, remote_name=name, remote_number=number,
                            request_user=request_user, source=source, headers=dict(headers or {}))
        self.listener.on_incoming_call(cid, account, info)
        return cid

    def remote_state(self, cid: int, state: str, status: int | None = None, reason: str | None = None) -> None:
        """The far end moves the call on: "early" (180/183), "confirmed" (200 / ACK), "disconnected"."""
        self._state(self.calls[cid], state, _DEFAULT_STATUS[state] if status is None else status, reason)

    def remote_media(self, cid: int, *, active: bool = True, remote_hold: bool = False, codec: str = "PCMU") -> None:
        self.listener.on_media_state(cid, active, remote_hold, codec)

    def remote_dtmf(self, cid: int, digit: str, method: str = "rfc2833") -> None:
        self.listener.on_dtmf(cid, digit, method)

    def reg_result(self, account: int, status: int, reason: str | None = None, expires: int | None = None) -> None:
        """The registrar answers a REGISTER (or pjsua gives up on it: 408)."""
        if expires is None:
            expires = 3600 if 200 <= status < 300 else 0
        self.listener.on_reg_state(account, status, REASONS.get(status, "") if reason is None else reason, expires)

    def transfer_notify(self, cid: int, status: int, reason: str | None = None, final: bool | None = None) -> None:
        """A NOTIFY (sipfrag) about the REFER sent on call `cid`; final defaults to status >= 200."""
        self.listener.on_transfer_status(cid, status, REASONS.get(status, "") if reason is None else reason,
                                         status >= 200 if final is None else final)

    def new_call(self, account: int | None, remote_uri: str, replaces: int | None = None) -> int:
        """A call the stack made for us: the target of a REFER we accepted, or an INVITE with Replaces."""
        cid = next(self._cids)
        self.calls[cid] = FakeCall(cid, account, "out", remote_uri)
        self.listener.on_new_call(cid, account, remote_uri, replaces)
        return cid

    def call_alive(self, cid: int) -> bool:
        call = self.calls.get(cid)
        return call is not None and call.state != "disconnected"

    def max_calls(self) -> int:
        return self.call_slots

    def vanish(self, cid: int) -> None:
        """The stack loses a call without telling (what a lost race in pjsua looked like)."""
        self.calls.pop(cid, None)

    # ----- helpers ---------------------------------------------------------------------------
    def _live(self, cid: int) -> FakeCall:
        """The call, as pjsua would find it; a call that ended is gone (the real backend raises too)."""
        call = self.calls.get(cid)
        if call is None or call.state == "disconnected":
            raise ValueError(f"call {cid} has ended")
        return call

    def _state(self, call: FakeCall, state: str, status: int, reason: str | None = None) -> None:
        call.state = state
        self.listener.on_call_state(call.cid, state, status, REASONS.get(status, "") if reason is None else reason)


def _is_beat(fn: Callable[[], None]) -> str:
    """"keepalive" or "media" when the timer is one of the phone's steady beats, else ""."""
    from tuiphone.engine.media_watch import MediaWatch
    from tuiphone.engine.registrar_health import RegistrarWatch

    owner = getattr(fn, "__self__", None)
    return "keepalive" if isinstance(owner, RegistrarWatch) else "media" if isinstance(owner, MediaWatch) else ""


class FakeLocalAudio:
    """The user's microphone, speaker and ringer as the phone drives them; `ringing` is what the user hears."""

    def __init__(self) -> None:
        self.mic = SilentSource()
        self.speaker = DiscardSink()
        self.ringing: str | None = None          # the ringtone playing now, None when the ringer is quiet
        self.tones: list[str] = []
        self.started = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def start_ring(self, ringtone: str = "ring1", volume: float = 1.0) -> str | None:
        self.ringing = ringtone
        return None

    def stop_ring(self) -> None:
        self.ringing = None

    def play_tone(self, name: str, loop: bool | None = None) -> None:
        self.tones.append(name)

    def stop_tone(self) -> None:
        pass


class SilentSource:
    def read(self, n: int) -> Any:
        return np.zeros(n, dtype=np.int16)


class DiscardSink:
    def write(self, frame: Any) -> None:
        pass
