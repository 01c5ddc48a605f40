"""Action URLs (SPEC §8): an HTTP GET per phone event, with `$variables` substituted and URL-encoded.

`ActionEvents` turns engine events into the named events of SPEC §5 (`registered`, `established`, ...)
with the variables of the call; `ActionUrls` sends the GETs from one worker on the asyncio loop, in
order, with a short timeout, never waiting in the phone's path. A URL that keeps failing is logged
once until it works again. `substitute()` also fills the idle-screen text (seed 3.11), unencoded.

At start-up, as a desk phone does: `registered` for every account that registers (also one that did before
the services started), then `setup_completed` once each registering account's first attempt has been
answered (or after SETUP_WAIT_S). At stop the GETs still waiting are sent, for at most FLUSH_S.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from tuiphone.engine.events import (
    CallLogEntry,
    CallState,
    Event,
    FeaturesChanged,
    IncomingCall,
    LineState,
    RegState,
    SipMessage,
)
from tuiphone.engine.sipuri import split_name_uri
from tuiphone.services.identity import PhoneIdentity

log = logging.getLogger(__name__)

TIMEOUT_S = 3.0
QUEUE_MAX = 200
SETUP_WAIT_S = 32.0       # a first REGISTER with no answer has timed out by then (SIP timer F)
FLUSH_S = 2.0             # how long stop() keeps sending the GETs still waiting
VARIABLES = ("mac", "phone_ip", "product", "program_version", "language", "local", "display_local", "remote",
             "display_remote", "active_user", "call_id", "account", "event")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_IN_USE = (LineState.DIALING, LineState.CALLING, LineState.TALKING, LineState.HELD)


def substitute(template: str, values: Mapping[str, str], *, encode: bool,
               unknown: Callable[[str], None] | None = None) -> str:
    """Replace `$name` / `${name}` by values[name] (percent-encoded when `encode`); unknown names stay
    as written and are reported to `unknown`."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            if unknown is not None:
                unknown(name)
            return match.group(0)
        return quote(values[name], safe="") if encode else values[name]
    return _VARIABLE.sub(one, template)


def with_scheme(url: str) -> str:
    return url if "://" in url else "http://" + url


@dataclass(frozen=True)
class Action:
    """One named event (SPEC §5) and the call it is about."""
    event: str
    account: int | None = None
    remote: str = ""
    display_remote: str = ""
    call_id: str = ""


@dataclass
class _LineSeen:
    state: LineState
    established: bool = False


@dataclass
class ActionEvents:
    """Engine events in, SPEC §5 events out. Call from one thread (the loop) in event order."""
    lines: dict[int, _LineSeen] = field(default_factory=dict)
    registered: dict[int, bool] = field(default_factory=dict)
    dnd: bool | None = None
    forwarding: bool | None = None

    def seed(self, phone: Any) -> None:
        """Start from the phone's present state, so only later changes count as events; registrations
        excepted: every account starts unregistered, so the first `registered` is an event (ActionUrls
        feeds the registrations made before it subscribed)."""
        features = phone.feature_state()
        self.dnd = features.dnd
        self.forwarding = bool(features.forward_always or features.forward_busy or features.forward_no_answer)
        self.registered = {}
        self.lines = {call.line: _LineSeen(call.state, call.state in (LineState.TALKING, LineState.HELD))
                      for call in phone.lines()}

    def feed(self, event: Event) -> list[Action]:
        if isinstance(event, CallState):
            return self._call(event)
        if isinstance(event, IncomingCall):
            return [Action("incoming_call", event.account, event.remote_number or event.remote_uri,
                           event.remote_name, getattr(event, "call_id", ""))]
        if isinstance(event, RegState):
            was = self.registered.get(event.account, False)
            self.registered[event.account] = event.registered
            if event.registered != was:
                return [Action("registered" if event.registered else "unregistered", event.account)]
            return []
        if isinstance(event, CallLogEntry):
            if event.disposition == "missed":
                return [Action("missed_call", event.account, event.remote_number or event.remote_uri,
                               event.remote_name)]
            return []
        if isinstance(event, FeaturesChanged):
            return self._features(event)
        if isinstance(event, SipMessage) and event.direction == "out" and event.first_line.startswith("REFER "):
            return [self._transfer(event)]
        return []

    def _call(self, call: CallState) -> list[Action]:
        in_use_before = sum(1 for s in self.lines.values() if s.state in _IN_USE)
        seen = self.lines.get(call.line)
        acts: list[Action] = []
        about: dict[str, Any] = {"account": call.account, "remote": call.remote_number or call.remote_uri,
                 "display_remote": call.remote_name, "call_id": getattr(call, "call_id", "")}
        if call.state == LineState.ENDED:
            self.lines.pop(call.line, None)
            if seen is not None:
                acts.append(Action("terminated", **about))
        else:
            if seen is None:
                seen = self.lines[call.line] = _LineSeen(call.state)
                if call.direction == "out" and call.state in (LineState.CALLING, LineState.DIALING):
                    acts.append(Action("outgoing_call", **about))
            previous, seen.state = seen.state, call.state
            if call.state == LineState.TALKING and not seen.established:
                seen.established = True
                acts.append(Action("established", **about))
            elif previous == LineState.TALKING and call.state == LineState.HELD:
                acts.append(Action("hold", **about))
            elif previous == LineState.HELD and call.state == LineState.TALKING:
                acts.append(Action("unhold", **about))
        in_use_after = sum(1 for s in self.lines.values() if s.state in _IN_USE)
        if in_use_before == 0 and in_use_after > 0:
            acts.insert(0, Action("off_hook", **about))
        elif in_use_before > 0 and in_use_after == 0:
            acts.append(Action("on_hook", **about))
        return acts

    def _features(self, f: FeaturesChanged) -> list[Action]:
        acts: list[Action] = []
        forwarding = bool(f.forward_always or f.forward_busy or f.forward_no_answer)
        if self.dnd is not None and f.dnd != self.dnd:
            acts.append(Action("dnd_on" if f.dnd else "dnd_off"))
        if self.forwarding is not None and forwarding != self.forwarding:
            acts.append(Action("forward_on" if forwarding else "forward_off"))
        self.dnd, self.forwarding = f.dnd, forwarding
        return acts

    @staticmethod
    def _transfer(msg: SipMessage) -> Action:
        refer_to = re.search(r"^(?:Refer-To|r):\s*(.+)$", msg.text, re.MULTILINE | re.IGNORECASE)
        target = refer_to.group(1).strip() if refer_to else ""
        kind = "attended_transfer" if "replaces" in target.lower() else "blind_transfer"
        name, _, number = split_name_uri(target.split("?", 1)[0].strip("<>") if target else "")
        return Action(kind, remote=number or target, display_remote=name, call_id=msg.call_id)


class ActionUrls:
    """Sends the configured Action URLs for a phone's events. `handle()` runs on the event loop."""

    def __init__(self, config: Any, phone: Any, *, timeout_s: float = TIMEOUT_S, flush_s: float = FLUSH_S):
        self.config = config
        self.phone = phone
        self.timeout_s = timeout_s
        self.flush_s = flush_s
        self.events = ActionEvents()
        self.events.seed(phone)
        self.identity = PhoneIdentity.of(phone)
        self.sent = 0
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE_MAX)
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task | None = None
        self._failing: set[str] = set()
        self._unknown: set[str] = set()
        self._dropping = False
        self._awaiting: set[int] | None = None      # accounts whose first registration attempt is unanswered
        self._setup_timer: asyncio.TimerHandle | None = None
        self._setup_sent = False

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        self._worker = asyncio.get_running_loop().create_task(self._send_all())

    async def stop(self) -> None:
        """Send what is still waiting (at most `flush_s`: a `terminated` just before the phone exits goes
        out), then stop."""
        if self._setup_timer is not None:
            self._setup_timer.cancel()
            self._setup_timer = None
        if self._worker is not None:
            try:
                await asyncio.wait_for(self._queue.join(), self.flush_s)
            except TimeoutError:
                log.warning("Action URLs: %d not sent at stop (no answer within %g s)", self._queue.qsize(),
                            self.flush_s)
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def handle(self, event: Event) -> None:
        for action in self.events.feed(event):
            self.fire(action)
        if isinstance(event, RegState) and self._awaiting and event.sip_status and event.account in self._awaiting:
            self._awaiting.discard(event.account)      # its first attempt is answered (200 or a failure)
            if not self._awaiting:
                self.setup_completed()

    def subscribed(self) -> None:
        """Call on the loop once the phone's events reach `handle`: `registered` for the accounts that
        registered before, and `setup_completed` once every registering account has had its first answer."""
        regs = self.phone.registrations()
        registering = {i for i, a in enumerate(self.config.accounts) if a.enabled and a.sip_server and a.register}
        self._awaiting = registering & set(regs)
        for state in regs.values():
            self.handle(state)
        if self._awaiting:
            self._setup_timer = asyncio.get_running_loop().call_later(SETUP_WAIT_S, self.setup_completed)
        else:
            self.setup_completed()

    def setup_completed(self) -> None:
        """`setup_completed`, once."""
        if self._setup_timer is not None:
            self._setup_timer.cancel()
            self._setup_timer = None
        self._awaiting = set()
        if not self._setup_sent:
            self._setup_sent = True
            self.fire(Action("setup_completed", default_account(self.config)))

    def fire(self, action: Action) -> None:
        template = getattr(self.config.action_url, action.event, "")
        if not template:
            return
        url = with_scheme(substitute(template, self.values(action), encode=True, unknown=self._unknown_name))
        try:
            self._queue.put_nowait((action.event, url))
            self._dropping = False
        except asyncio.QueueFull:
            if not self._dropping:
                log.warning("Action URLs: %d are waiting to be sent; dropping new ones until the queue drains",
                            QUEUE_MAX)
            self._dropping = True

    def values(self, action: Action) -> dict[str, str]:
        return variables(self.config, self.identity, action)

    def _unknown_name(self, name: str) -> None:
        if name not in self._unknown:
            self._unknown.add(name)
            log.warning("Action URL variable $%s is unknown and is sent as written; known: %s",
                        name, ", ".join("$" + v for v in VARIABLES))

    async def _send_all(self) -> None:
        while True:
            event, url = await self._queue.get()
            try:
                await self._send(event, url)
            finally:
                self._queue.task_done()

    async def _send(self, event: str, url: str) -> None:
        assert self._session is not None
        try:
            async with self._session.get(URL(url), allow_redirects=False) as resp:
                await resp.read()
                problem = f"HTTP {resp.status}" if resp.status >= 400 else ""
        except TimeoutError:
            problem = f"no answer in {self.timeout_s:g} s"
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            problem = str(exc) or type(exc).__name__
        if problem:
            if event not in self._failing:
                self._failing.add(event)
                log.warning("Action URL for %s failed (%s): %s; further failures of it are not logged until it "
                            "works again", event, problem, url)
            return
        self.sent += 1
        if event in self._failing:
            self._failing.discard(event)
            log.info("Action URL for %s works again", event)


def default_account(config: Any) -> int | None:
    """The account events without a call are about: the first enabled one with a server."""
    return next((i for i, a in enumerate(config.accounts) if a.enabled and a.sip_server), None)


def variables(config: Any, identity: PhoneIdentity, action: Action) -> dict[str, str]:
    """Every SPEC §8 variable for `action` ($account counts from 1, as the screen does)."""
    index = action.account
    acc = config.accounts[index] if index is not None and 0 <= index < len(config.accounts) else None
    local = acc.user_id if acc is not None else ""
    return {
        "mac": identity.mac, "phone_ip": identity.phone_ip, "product": identity.product,
        "program_version": identity.program_version, "language": config.phone.language,
        "local": local, "display_local": (acc.display_name or acc.name) if acc is not None else "",
        "remote": action.remote, "display_remote": action.display_remote, "active_user": local,
        "call_id": action.call_id,
        "account": "" if acc is None or index is None else str(index + 1), "event": action.event,
    }


def idle_text(template: str, config: Any, phone: Any) -> str:
    """The idle-screen text (phone.idle_text) with the Action URL variables filled in, not URL-encoded."""
    if not template:
        return ""
    action = Action("idle", default_account(config))
    return substitute(template, variables(config, PhoneIdentity.of(phone), action), encode=False)
