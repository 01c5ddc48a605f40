"""Phone: lines, accounts and calls — the one API the UI, the CLI and the services call.

Commands are safe from any thread: they hand their work to the SIP thread and return a Future.
The phone logic itself runs only on the SIP thread (inside backend callbacks and submitted jobs), so it
needs no locks. Events are frozen dataclasses handed to subscribers on the SIP thread; a subscriber
must return quickly (post a message, put on a queue).
"""

from __future__ import annotations

import logging
from pathlib import Path
import re
import socket
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Callable

from tuiphone.audio.echo import EchoDelay
from tuiphone.audio.recorder import CallRecorder, recording_path
from tuiphone.engine.backend import (
    AccountSettings,
    CallMedia,
    IncomingInfo,
    SipBackend,
    TransportSettings,
)
from tuiphone.engine.blocklist import Blocklist
from tuiphone.engine.dialplan import DialPlan, DialPlanError
from tuiphone.engine.featurestate import FeatureError, FeatureState
from tuiphone.engine.star_codes import FeatureCode, FeatureCodeError, parse_feature_code
from tuiphone.engine.policy import IncomingContext, Verdict, decide
from tuiphone.engine.directip import DirectIpError, is_direct_ip, keypad_to_uri, normalize_target
from tuiphone.engine.events import (
    CallLogEntry,
    CallStarted,
    CallState,
    DtmfReceived,
    Event,
    GhostCall,
    Blf,
    IncomingCall,
    LineState,
    Mwi,
    Notice,
    RegState,
    SipMessage,
    TransferProgress,
)
from tuiphone.engine.media_watch import MediaWatch, dead_media_reason
from tuiphone.engine.registrar_health import RegistrarWatch
from tuiphone.engine.sipports import why_no_transport
from tuiphone.engine.sounds import CallSounds
from tuiphone.engine.sipuri import split_name_uri
from tuiphone.logthrottle import LogThrottle

log = logging.getLogger(__name__)
GHOST_SOURCES = 256                 # sources counted one by one; more are counted together (memory stays bounded)
OTHER_SOURCES = "other addresses"

ECHO_CODE = "*43"
ECHO_USER = "echo"
ECHO_DELAY_S = 1.0
AUTO_ANSWER_DELAY_S = 0.5     # time for the auto-answer beep
ANONYMOUS_FROM = '"Anonymous" <sip:anonymous@anonymous.invalid>'
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0
_AUTH_FAILURES = {401, 403, 407}
LEAVE_TIMEOUT_S = 5.0         # how long a disabled account may wait for the answer to its un-REGISTER
UNREGISTER_WAIT_S = 2.0       # at stop: how long to wait for the answers to the un-REGISTERs


_VOICE_RE = re.compile(r"^Voice-Message\s*:\s*(\d+)\s*/\s*(\d+)", re.I | re.M)
_WAITING_RE = re.compile(r"^Messages-Waiting\s*:\s*(yes|no)", re.I | re.M)


INTERCOM_HEADERS = {"Call-Info": "<sip:127.0.0.1>;answer-after=0", "Alert-Info": "info=alert-autoanswer"}


def blf_state(status: str, activity: str, note: str) -> str:
    """Presence (PIDF/RPID) -> what a BLF key shows."""
    text = note.lower()
    if status == "offline":
        return "offline"
    if "ring" in text or "early" in text:
        return "ringing"
    if activity == "busy" or any(w in text for w in ("on the phone", "on-the-phone", "busy", "talk", "confirmed")):
        return "busy"
    if status == "online":
        return "idle"
    return "unknown"


def parse_message_summary(body: str) -> tuple[bool, int, int]:
    """RFC 3842 body -> (messages waiting, new voice messages, old voice messages)."""
    waiting = _WAITING_RE.search(body)
    voice = _VOICE_RE.search(body)
    new, old = (int(voice.group(1)), int(voice.group(2))) if voice else (0, 0)
    return (waiting.group(1).lower() == "yes") if waiting else new > 0, new, old


def _user_host(uri: str) -> str:
    """'sip:alice@example.com:5060;x' -> 'alice@example.com'."""
    m = re.match(r"sips?:([^@;>]+)@([^;:>]+)", uri)
    return f"{m.group(1)}@{m.group(2)}" if m else ""


def _resolve_hosts(hostports) -> frozenset[str]:
    """IP addresses of host[:port] strings (the SIP servers an account may hear from)."""
    addrs: set[str] = set()
    for hp in hostports:
        host = hp[1:].split("]", 1)[0] if hp.startswith("[") else hp.rsplit(":", 1)[0] if hp.count(":") == 1 else hp
        try:
            addrs.update(info[4][0] for info in socket.getaddrinfo(host, None))
        except OSError:
            log.warning("cannot resolve %s: calls from it will count as ghost calls", host)
    return frozenset(addrs)


class _LocalTaps:
    """What the local microphone says (and, with the C local port, what the local speaker hears from the
    calls), copied to the recorders of the lines joined to the local audio — never to a held line's.

    With the local port in Python it is also that port's source (`read`). Its dicts are replaced whole:
    the audio threads iterate a stable one.
    """

    def __init__(self) -> None:
        self.source = None
        self.hears_calls = False       # rx frames come through `rx` (C port), not through call ports
        self._recorders: dict[int, CallRecorder] = {}
        self._joined: frozenset[int] = frozenset()
        self._live: tuple[CallRecorder, ...] = ()

    def add(self, cid: int, rec: CallRecorder) -> None:
        self._recorders = {**self._recorders, cid: rec}
        self._refresh()

    def remove(self, cid: int) -> None:
        if cid in self._recorders:
            self._recorders = {k: v for k, v in self._recorders.items() if k != cid}
            self._refresh()

    def set_joined(self, cids: set[int]) -> None:
        self._joined = frozenset(cids)
        self._refresh()

    def _refresh(self) -> None:
        self._live = tuple(rec for cid, rec in self._recorders.items() if cid in self._joined)

    def tx(self, frame) -> None:
        for rec in self._live:
            rec.tx(frame)

    def rx(self, frame) -> None:
        for rec in self._live:
            rec.rx(frame)

    def read(self, n: int):
        frame = self.source.read(n)
        for rec in self._live:
            rec.tx(frame)
        return frame


class PhoneError(Exception):
    """A command the phone cannot carry out; `str()` is a sentence for the user, `result` a short code."""

    def __init__(self, message: str, result: str = "failed"):
        super().__init__(message)
        self.result = result


@dataclass
class Line:
    number: int
    cid: int
    direction: str
    account: int | None
    remote_uri: str
    remote_name: str = ""
    remote_number: str = ""
    state: LineState = LineState.CALLING
    sip_status: int = 0
    reason: str = ""
    remote_hold: bool = False
    muted: bool = False
    codec: str = ""
    media: CallMedia = field(default_factory=CallMedia)
    started: float = field(default_factory=time.monotonic)
    wall_start: float = field(default_factory=time.time)
    answered: float | None = None
    forwarded: bool = False
    conference: bool = False
    recording: bool = False
    call_id: str = ""
    dtmf_received: list[str] = field(default_factory=list)
    history_key: str = field(default_factory=lambda: uuid.uuid4().hex)   # one history row per call
    end_reason: str = ""          # why the phone itself ended the call (dead media), for the screen and history

    def snapshot(self) -> CallState:
        return CallState(line=self.number, state=self.state, direction=self.direction, account=self.account,
                         remote_uri=self.remote_uri, remote_name=self.remote_name,
                         remote_number=self.remote_number, sip_status=self.sip_status, reason=self.reason,
                         remote_hold=self.remote_hold, muted=self.muted, codec=self.codec,
                         conference=self.conference, recording=self.recording, call_id=self.call_id)


@dataclass
class _Registration:
    """One account's registration and failover state."""
    index: int
    candidates: list[tuple[str, str]]         # (registrar, outbound proxy) in failover order
    current: int = 0
    registered: bool = False
    sip_status: int = 0
    reason: str = ""
    expires: int = 0
    wanted: bool = True
    backoff: float = RETRY_MIN_S
    retry: object | None = None
    lost_pings: int = 0
    keepalive: RegistrarWatch | None = None  # OPTIONS to the registrar (engine/registrar_health.py)
    leave_timer: object | None = None         # removing a disabled account once its un-REGISTER is answered

    @property
    def server(self) -> str:
        return self.candidates[self.current][0]

    @property
    def proxy(self) -> str:
        return self.candidates[self.current][1]


class Phone:
    """The phone. Build it with a config and a backend, `start()` it, call its commands, `stop()` it."""

    def __init__(self, config, backend: SipBackend, *, port: int | None = None, bind: str | None = None,
                 save_config: Callable[[object], None] | None = None, blocklist: Blocklist | None = None,
                 local_audio=None, data_dir: str | None = None, echo_service: bool = True):
        """`save_config(config)` is called when a feature (DND, forwarding, …) changes the config.
        `local_audio` (audio.local.LocalAudio) is the user's microphone and speaker: the active line (or the
        whole conference) is joined to it, and rings and call progress tones are played on it.
        `echo_service`: the built-in echo test answers direct calls to sip:echo@ (off for `tuiphone answer`,
        where every call that arrives is the command's)."""
        self.config = config
        self.backend = backend
        backend.listener = self
        self._port = (0 if config.sip.random_port else config.sip.port) if port is None else port
        self._port_given = port is not None
        self.echo_service = echo_service
        self._bind = config.sip.bind_address if bind is None else bind
        self._subscribers: list[Callable[[Event], None]] = []
        self._lines: dict[int, Line] = {}
        self._by_cid: dict[int, Line] = {}
        self._service_calls: dict[int, CallMedia] = {}   # echo-test calls: answered, never on a line
        self._regs: dict[int, _Registration] = {}
        self._leaving: dict[int, _Registration] = {}      # disabled accounts waiting for their un-REGISTER
        self._plans: dict[int, DialPlan] = {}
        self._transfer_line: dict[int, int] = {}
        self._consult_leg: dict[int, Line] = {}            # attended transfer: REFER's call -> the other leg
        self._server_addrs: dict[int, frozenset[str]] = {}
        self._once_anonymous: set[int] = set()
        self.ghost_calls: dict[str, int] = {}            # source address -> INVITEs refused
        self._noise = LogThrottle(log)         # a scanner costs a few log lines a minute, whatever it sends
        self.voicemail: dict[int | None, tuple[bool, int, int]] = {}   # account -> (waiting, new, old)
        self._blf_keys: dict[int, int] = {}               # presence handle -> key index
        self.blf: dict[int, str] = {}                     # key index -> idle | ringing | busy | offline | unknown
        self.max_lines = config.phone.lines
        self.features = FeatureState(config, self._emit, save_config, blocklist)
        self.local_audio = local_audio
        self.data_dir = data_dir
        self._recorders: dict[int, CallRecorder] = {}     # line -> its recording
        self._taps = _LocalTaps()                         # what the local audio says and hears, to recorders
        self._joined: set[int] = set()                    # call ids joined to the local audio
        self._silenced: set[int] = set()                  # ringing lines whose ringtone the user silenced
        self.pager = None                                 # engine.pager.Pager, set by whoever builds the phone
        if local_audio is not None:
            self.subscribe(CallSounds(local_audio, config.features, notice=self._emit))
        self.media_watch = MediaWatch(backend, self._media_calls, lambda: self.config.features.rtp_timeout,
                                      self._media_dead)
        self.subscribe(self.media_watch.on_event)

    # ----- events ----------------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def _emit(self, event: Event) -> None:
        if isinstance(event, CallState) and self.local_audio is not None:
            self._sync_local()
        for fn in tuple(self._subscribers):
            try:
                fn(event)
            except Exception as exc:     # once per event: at most a few lines a minute, whatever the network sends
                self._noise.failed("subscriber", f"event subscriber {getattr(fn, '__qualname__', fn)!s:.60}", exc)
        if isinstance(event, CallState) and event.state != LineState.RINGING and self._silenced:
            self._silenced.discard(event.line)
            self._keep_silent()      # a call that rang over a silenced one has gone: quiet again

    def _sync_local(self) -> None:
        """The user hears and speaks on the talking line(s) only: join or leave the local audio port."""
        talking = {ln.cid for ln in self._lines.values() if ln.state == LineState.TALKING}
        for cid in talking - self._joined:
            self.backend.join_local(cid, True)
        for cid in self._joined - talking:
            if cid in self._by_cid:
                self.backend.join_local(cid, False)
        self._joined = talking
        self._taps.set_joined(talking)

    # ----- ringer ----------------------------------------------------------------------------------
    def silence_ringer(self, line: int | None = None) -> None:
        """Stop the ringtone of `line` (default: every ringing line). The caller still hears ringing and the
        call can still be answered; a call that comes in later rings again. Safe from any thread."""
        def job() -> None:
            ringing = self._ringing_lines()
            self._silenced |= ringing if line is None else ringing & {line}
            self._keep_silent()
        self.backend.submit(job)

    def _ringing_lines(self) -> set[int]:
        return {ln.number for ln in self._lines.values() if ln.state == LineState.RINGING}

    def _keep_silent(self) -> None:
        """The ringer stays off while every line still ringing was silenced (CallSounds rings for new calls)."""
        ringing = self._ringing_lines()
        if self.local_audio is not None and ringing and ringing <= self._silenced:
            self.local_audio.stop_ring()

    def _notice(self, text: str, level: str = "info") -> None:
        log.log(logging.WARNING if level != "info" else logging.INFO, "%s", text)
        self._emit(Notice(text, level))

    # ----- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the transports and add the accounts; raises PhoneError when the SIP port cannot be opened."""
        c = self.config
        codecs: list[str] = []
        for acc in c.accounts:
            for codec in acc.codecs:
                if codec not in codecs:
                    codecs.append(codec)
        tls = c.sip.tls
        settings = TransportSettings(
            bind_address=self._bind, port=self._port, transports=tuple(c.sip.transports),
            tls_port=tls.port, tls_verify_server=tls.verify_server, tls_ca_file=tls.ca_file,
            tls_cert_file=tls.cert_file, tls_key_file=tls.key_file,
            codecs=tuple(codecs or ("G722", "PCMU", "PCMA")),
            stun_server=c.sip.stun_server, rtp_port=c.sip.rtp_port_min,
            rtp_port_range=c.sip.rtp_port_max - c.sip.rtp_port_min + 1 if c.sip.rtp_port_min else 0,
        )
        try:
            self.backend.start(settings)
        except OSError as exc:
            raise PhoneError(*why_no_transport(exc, port_given=self._port_given)) from None
        if self.local_audio is not None:
            self.local_audio.start()
            link = self.backend.submit(self.backend.open_local_port).result(10)
            if link is not None:
                self.local_audio.attach_bridge(link, tx_tap=self._taps.tx, rx_tap=self._taps.rx)
                self._taps.hears_calls = True
            else:
                self._taps.source = self.local_audio.mic
                media = CallMedia(source=self._taps, sinks=[self.local_audio.speaker])
                self.backend.submit(lambda: self.backend.set_local_media(media)).result(10)
        self._fit_lines()
        self.backend.submit(self._add_accounts).result(10)
        self._emit(self.features.snapshot())

    def _fit_lines(self) -> None:
        """Say so when there are more lines than calls the stack holds at once (the pjsua2 wheel holds 4):
        the lines stay, and a call beyond the stack's limit is refused 486 (see engine/capacity.py)."""
        most = self.backend.max_calls()
        if self.max_lines > most:
            log.info("phone.lines is %d but the SIP stack holds %d calls at once: a call beyond %d is refused "
                     "busy (486)", self.max_lines, most, most)

    def check_lines(self) -> None:
        """Free every line whose call the stack no longer has (a call that vanished without a final state).
        The backend calls this every few seconds on the SIP thread."""
        for line in list(self._lines.values()):
            if line.state != LineState.ENDED and not self.backend.call_alive(line.cid):
                log.info("line %d: its call is gone; the line is free again", line.number)
                self.on_call_state(line.cid, "disconnected", line.sip_status or 0, "the call is gone")

    def _end_stale(self, cid: int) -> None:
        """The stack gave `cid` to a new call: a line still on the old call with that id has ended."""
        if cid in self._by_cid:
            self.on_call_state(cid, "disconnected", 0, "the call is gone")

    def stop(self) -> None:
        for reg in self._regs.values():
            if reg.keepalive is not None:
                reg.keepalive.stop()
        self._unregister_all()
        self.backend.stop()
        if self.local_audio is not None:
            self.local_audio.stop()

    def _unregister_all(self) -> None:
        """Unregister the registered accounts and wait (at most UNREGISTER_WAIT_S) for the registrar's answers:
        the stack gives up an unanswered un-REGISTER (a digest challenge needs a second one) when it is
        destroyed, and the registrar would keep sending calls to a contact that is gone."""
        def job() -> list[int]:
            leaving = [reg for reg in self._regs.values() if reg.registered]
            for reg in leaving:
                reg.wanted = False
                self._cancel_retry(reg)
                self.backend.register(reg.index, False)
            return [reg.index for reg in leaving]
        try:
            leaving = self.backend.submit(job).result(UNREGISTER_WAIT_S)
        except Exception:          # a SIP thread that is gone or stuck: the stop goes on
            return
        deadline = time.monotonic() + UNREGISTER_WAIT_S
        while time.monotonic() < deadline and any(i in self._regs and self._regs[i].registered for i in leaving):
            time.sleep(0.02)

    def _add_accounts(self) -> None:
        for index in range(len(self.config.accounts)):
            self._add_account(index)
        self._watch_blf_keys()

    def _add_account(self, index: int, replacing: bool = False) -> None:
        """Give the stack account `index` as configured; `replacing`: the stack still has an older one there,
        which set_account swaps for the new one without registering it, so register here."""
        acc = self.config.accounts[index]
        if not acc.enabled:
            return
        try:
            self._plans[index] = DialPlan.parse(acc.dial_plan)
        except DialPlanError as exc:
            self._notice(f"Account {index + 1}: {exc}; numbers on this account cannot be dialed.", "error")
        if not acc.sip_server:
            return
        cands = [(acc.sip_server, acc.outbound_proxy)]
        if acc.backup_outbound_proxy:
            cands.append((acc.sip_server, acc.backup_outbound_proxy))
        if acc.secondary_sip_server:
            cands.append((acc.secondary_sip_server, acc.outbound_proxy))
            if acc.backup_outbound_proxy:
                cands.append((acc.secondary_sip_server, acc.backup_outbound_proxy))
        if acc.accept_only_from_server:      # only guarding accounts need the servers' addresses
            self._server_addrs[index] = _resolve_hosts(h for pair in cands for h in pair if h)
        reg = _Registration(index=index, candidates=cands, wanted=acc.register)
        self._regs[index] = reg
        self.backend.set_account(self._account_settings(reg))
        if replacing and acc.register:
            self.backend.register(index, True)
        if acc.register and acc.options_keepalive:
            self._start_keepalive(reg)

    # ----- live reconfiguration ----------------------------------------------------------------------
    def reconfigure_account(self, index: int, account) -> Future:
        """Put `account` (an AccountConfig) in place of config.accounts[index] — or add it, when index is
        len(accounts) — and apply it now: the stack's account is made anew and registers with the new settings;
        an account now disabled (or with no SIP server) unregisters. RegState events follow as usual.
        The config is changed in memory only: saving it is the caller's job."""
        def job() -> None:
            accounts = self.config.accounts
            if not 0 <= index <= len(accounts):
                raise PhoneError(f"There is no account {index + 1} to change: the config has {len(accounts)}, "
                                 f"so a new one is account {len(accounts) + 1}.", "failed")
            old = self._regs.pop(index, None)
            leaving = self._leaving.pop(index, None)
            for reg in (old, leaving):
                if reg is not None:
                    self._retire(reg)
            if index == len(accounts):
                accounts.append(account)
            else:
                accounts[index] = account
            self._plans.pop(index, None)
            self._server_addrs.pop(index, None)
            self._add_account(index, replacing=old is not None or leaving is not None)
            if index not in self._regs:
                gone = old or leaving
                if gone is not None:
                    self._leave(gone)
            self._rewatch_blf_keys(index)
            self._emit(self.features.snapshot())       # the account's anonymous flag may have changed
        return self.backend.submit(job)

    def _rewatch_blf_keys(self, account: int) -> None:
        """The account's server or identity may have changed: subscribe its BLF keys anew."""
        for handle, key_index in list(self._blf_keys.items()):
            if self.config.keys[key_index].account - 1 == account:
                self.backend.unwatch(handle)
                del self._blf_keys[handle]
                self.blf.pop(key_index, None)
        if any(k.mode == "blf" and k.account - 1 == account for k in self.config.keys):
            self._watch_blf_keys(account)
            for index, key in enumerate(self.config.keys):
                if key.mode == "blf" and key.account - 1 == account:   # what it showed came from the old account
                    self._emit(Blf(key=index, extension=key.value, state=self.blf.get(index, "unknown")))

    def _retire(self, reg: _Registration) -> None:
        """Stop what keeps an account's registration going: its retry timer and its OPTIONS keep-alive."""
        reg.wanted = False
        self._cancel_retry(reg)
        if reg.keepalive is not None:
            reg.keepalive.stop()
        if reg.leave_timer is not None:
            self.backend.cancel(reg.leave_timer)
            reg.leave_timer = None

    def _leave(self, reg: _Registration) -> None:
        """Unregister an account that is no longer used, then remove it from the stack (bounded wait)."""
        if not reg.registered:
            self.backend.remove_account(reg.index)
            reg.sip_status, reg.reason, reg.expires = 0, "account disabled", 0
            self._emit(self._reg_event(reg))
            return
        self._leaving[reg.index] = reg
        reg.leave_timer = self.backend.schedule(LEAVE_TIMEOUT_S, lambda: self._left(reg))
        self.backend.register(reg.index, False)

    def _left(self, reg: _Registration) -> None:
        if self._leaving.get(reg.index) is not reg:
            return       # enabled again meanwhile: the stack's account is the new one now
        del self._leaving[reg.index]
        reg.leave_timer = None
        self.backend.remove_account(reg.index)
        if reg.registered:       # the server never answered the un-REGISTER: say it is gone all the same
            reg.registered, reg.sip_status, reg.reason, reg.expires = False, 0, "account disabled", 0
            self._emit(self._reg_event(reg))

    def _watch_blf_keys(self, account: int | None = None) -> None:
        """Subscribe to the presence of every BLF key's extension (only the keys of `account`, when given)."""
        for index, key in enumerate(self.config.keys):
            if key.mode != "blf" or (account is not None and key.account - 1 != account):
                continue
            acc_index = key.account - 1
            if acc_index not in self._regs:
                self._notice(f"BLF key {index + 1} ({key.value}): account {key.account} is disabled or has no "
                             "SIP server.", "warning")
                continue
            uri = f"sip:{key.value}@{self.config.accounts[acc_index].sip_server}"
            try:
                self._blf_keys[self.backend.watch(acc_index, uri)] = index
            except Exception as exc:     # a bad URI must not stop the phone starting
                self._notice(f"BLF key {index + 1}: cannot watch {uri}: {exc}", "warning")
                continue
            self.blf[index] = "unknown"

    def _account_settings(self, reg: _Registration) -> AccountSettings:
        acc = self.config.accounts[reg.index]
        return AccountSettings(
            index=reg.index, user_id=acc.user_id, auth_id=acc.auth_id or acc.user_id, password=acc.password,
            display_name=acc.display_name, domain=acc.sip_server, registrar=reg.server if acc.register else "",
            mwi=acc.mwi,
            proxy=reg.proxy, transport=acc.transport, srtp=acc.srtp, reg_expires=acc.reg_expires,
            register=acc.register and reg.wanted,
        )

    # ----- registration ----------------------------------------------------------------------------
    def register(self, account: int, on: bool = True) -> Future:
        def job() -> None:
            reg = self._regs.get(account)
            if reg is None:
                raise PhoneError(f"Account {account + 1} has no SIP server to register with.")
            reg.wanted = on
            reg.backoff = RETRY_MIN_S
            self._cancel_retry(reg)
            self.backend.register(account, on)
        return self.backend.submit(job)

    def registrations(self) -> dict[int, RegState]:
        return {i: self._reg_event(r) for i, r in self._regs.items()}

    def _reg_event(self, reg: _Registration) -> RegState:
        return RegState(account=reg.index, registered=reg.registered, sip_status=reg.sip_status,
                        reason=reg.reason, expires=reg.expires, server=reg.server)

    def on_reg_state(self, account: int, sip_status: int, reason: str, expires: int) -> None:
        reg = self._regs.get(account)
        if reg is None:
            leaving = self._leaving.get(account)
            if leaving is not None:      # the answer to a disabled account's un-REGISTER
                leaving.sip_status, leaving.reason = sip_status, reason
                leaving.registered, leaving.expires = False, 0
                self._emit(self._reg_event(leaving))
                # not inside the stack's own registration callback: remove the account on the next turn
                self.backend.schedule(0.0, lambda: self._left(leaving))
            return
        reg.sip_status, reg.reason = sip_status, reason
        ok = 200 <= sip_status < 300
        was = reg.registered
        reg.registered = ok and expires > 0
        if reg.registered != was:
            log.info("Account %d: %s %s (%s %s)", account + 1, "registered with" if reg.registered else
                     "not registered with", reg.server, sip_status, reason)
        reg.expires = expires if ok else 0
        self._emit(self._reg_event(reg))
        if ok or not reg.wanted:
            reg.backoff = RETRY_MIN_S
            return
        # Failed: a wrong password will not be cured by another server; anything else fails over.
        if sip_status not in _AUTH_FAILURES and len(reg.candidates) > 1:
            reg.current = (reg.current + 1) % len(reg.candidates)
            self._notice(f"Account {account + 1}: registration failed ({sip_status} {reason}); "
                         f"trying {reg.server}" + (f" via {reg.proxy}" if reg.proxy else "") + ".", "warning")
            self.backend.set_account(self._account_settings(reg))
            delay = 0.0 if reg.backoff <= RETRY_MIN_S else reg.backoff
        else:
            delay = reg.backoff
        self._schedule_retry(reg, delay)

    def _schedule_retry(self, reg: _Registration, delay: float) -> None:
        self._cancel_retry(reg)

        def retry() -> None:
            reg.retry = None
            if reg.wanted and not reg.registered:
                self.backend.register(reg.index, True)
        reg.retry = self.backend.schedule(delay, retry)
        reg.backoff = min(RETRY_MAX_S, reg.backoff * 2)

    def _cancel_retry(self, reg: _Registration) -> None:
        if reg.retry is not None:
            self.backend.cancel(reg.retry)
            reg.retry = None

    def _start_keepalive(self, reg: _Registration) -> None:
        acc = self.config.accounts[reg.index]
        reg.keepalive = RegistrarWatch(self.backend, acc.options_interval, lambda: reg.proxy or reg.server,
                                       acc.transport, self._bind, lambda ok: self._on_keepalive(reg, ok),
                                       name=f"keepalive{reg.index}")
        reg.keepalive.start()

    def _on_keepalive(self, reg: _Registration, answered: bool) -> None:
        acc = self.config.accounts[reg.index]
        hop = reg.proxy or reg.server
        if answered:
            lost, reg.lost_pings = reg.lost_pings, 0
            if lost and reg.wanted:
                # The server is back, and may have restarted and forgotten us (Kamailio's usrloc in memory
                # does): register again now, not when the backoff or the expiry says. An answer after answers
                # says nothing new and leaves the backoff alone (a server may answer OPTIONS and refuse REGISTER).
                log.info("Account %d: %s answers again after %d lost keep-alive%s; registering again.",
                         reg.index + 1, hop, lost, "" if lost == 1 else "s")
                self._cancel_retry(reg)
                reg.backoff = RETRY_MIN_S
                self.backend.register(reg.index, True)
            return
        reg.lost_pings += 1
        if reg.lost_pings == acc.options_max_lost and reg.wanted:
            text = (f"Account {reg.index + 1}: {hop} stopped answering ({reg.lost_pings} keep-alives lost); "
                    "not registered until it answers again.")
            log.info("%s", text)
            self._emit(Notice(text, "warning"))
            self.on_reg_state(reg.index, 408, f"{hop} does not answer OPTIONS", 0)

    # ----- placing calls ---------------------------------------------------------------------------
    def resolve_target(self, target: str, account: int | None = None) -> tuple[int | None, str]:
        """Turn what the user dialed into (account or None for direct, SIP URI). Raises PhoneError."""
        text = target.strip()
        if not text:
            raise PhoneError("Nothing to dial: enter a number, a SIP URI or an IP address.", "failed")
        if account is not None and not 0 <= account < len(self.config.accounts):
            raise PhoneError(f"There is no account {account + 1}: the config has "
                             f"{len(self.config.accounts)}.", "failed")
        if text == ECHO_CODE:
            return None, f"sip:{ECHO_USER}@{self.backend.local_address()}"
        try:
            if is_direct_ip(text):
                return None, keypad_to_uri(text)
            if text.lower().startswith(("sip:", "sips:")) or "@" in text:
                uri = normalize_target(text, default_domain=None)
                return (account if account is not None and account in self._regs else None), uri
        except DirectIpError as exc:
            raise PhoneError(str(exc), "failed") from None
        index = account if account is not None else self._default_account()
        if index is None:
            raise PhoneError(f"{text} is a number, but no account is configured to dial it through: "
                             "give a SIP URI or a direct IP (like 192*168*1*60#5062).", "failed")
        acc = self.config.accounts[index]
        if not acc.enabled:
            raise PhoneError(f"Account {index + 1} is disabled: set accounts[{index}].enabled = true.", "failed")
        if not acc.sip_server:
            raise PhoneError(f"Account {index + 1} has no SIP server: set accounts[{index}].sip_server.", "failed")
        plan = self._plans.get(index)
        if plan is None:
            raise PhoneError(f"Account {index + 1} has an invalid dial plan: fix accounts[{index}].dial_plan.",
                             "blocked_by_dial_plan")
        verdict = plan.check(text, acc.dial_plan_prefix)
        if not verdict.allowed:
            raise PhoneError(verdict.reason, "blocked_by_dial_plan")
        try:
            uri = normalize_target(verdict.number, default_domain=acc.sip_server)
        except DirectIpError as exc:
            raise PhoneError(str(exc), "failed") from None
        if acc.transport != "udp":
            uri += f";transport={acc.transport}"
        return index, uri

    def _default_account(self) -> int | None:
        for i, acc in enumerate(self.config.accounts):
            if acc.enabled and acc.sip_server:
                return i
        return None

    def call(self, target: str, account: int | None = None, media: CallMedia | None = None,
             headers: dict[str, str] | None = None) -> Future:
        """Dial target on a free line; the Future gives the line number, or None when `target` was a
        feature code the phone carried out itself (a Notice says what it did), or raises PhoneError."""
        def job() -> int | None:
            dialed, anonymous_once = target.strip(), False
            code = self._local_feature(dialed, account)
            if code is not None:
                if code.name != "anonymous_once":
                    try:
                        self._notice(self.features.apply(code, account if account is not None
                                                         else self._default_account()))
                    except FeatureError as exc:
                        raise PhoneError(str(exc), "failed") from None
                    return None
                dialed, anonymous_once = code.argument, True
            acc, uri = self.resolve_target(dialed, account)
            return self._place_call(acc, uri, target, media, headers, anonymous_once)
        return self.backend.submit(job)

    def _place_call(self, acc: int | None, uri: str, dialed: str, media: CallMedia | None,
                    headers: dict[str, str] | None, anonymous_once: bool = False) -> int:
        """Send the INVITE for a resolved target on a free line (SIP thread); the line number."""
        number = self._free_line()
        if number is None:
            raise PhoneError(f"All {self.max_lines} lines are busy: end a call first.", "failed")
        m = media or CallMedia()
        hdrs, from_uri = dict(headers or {}), ""
        if anonymous_once or (acc is not None and self.config.accounts[acc].anonymous):
            hdrs["Privacy"] = "id"
            from_uri = ANONYMOUS_FROM
        try:
            cid = self.backend.make_call(acc, uri, hdrs, m, from_uri)
        except ValueError as exc:
            raise PhoneError(str(exc), "failed") from None
        self._end_stale(cid)
        self._hold_others(None)     # only once the new call exists: a refused call leaves the talk alone
        _, _, user = split_name_uri(uri)
        line = Line(number=number, cid=cid, direction="out", account=acc, remote_uri=uri,
                    remote_number=user or dialed, media=m)
        self._lines[number] = line
        self._by_cid[cid] = line
        self._emit(line.snapshot())
        self._call_started(line)
        return number

    def _local_feature(self, dialed: str, account: int | None) -> FeatureCode | None:
        index = account if account is not None else self._default_account()
        if index is not None and not self.config.accounts[index].local_call_features:
            return None    # the server handles star codes for this account
        try:
            return parse_feature_code(dialed)
        except FeatureCodeError as exc:
            raise PhoneError(str(exc), "failed") from None

    def _free_line(self) -> int | None:
        for n in range(1, self.max_lines + 1):
            if n not in self._lines:
                return n
        return None

    def _hold_others(self, keep: int | None, spare: frozenset[int] = frozenset()) -> None:
        """One active line: every other talking line goes on hold (a whole conference, when `keep` is a member;
        never the lines in `spare`)."""
        keep_conf = keep is not None and self._lines.get(keep) is not None and self._lines[keep].conference
        for line in self._lines.values():
            if line.number == keep or line.number in spare or (keep_conf and line.conference):
                continue
            if line.state == LineState.TALKING:
                self.backend.hold(line.cid)
                line.state = LineState.HELD
                self._emit(line.snapshot())

    # ----- incoming calls --------------------------------------------------------------------------
    def on_incoming_call(self, cid: int, account: int | None, info: IncomingInfo) -> None:
        self._end_stale(cid)
        if self.echo_service and info.request_user == ECHO_USER and account is None:
            echo = EchoDelay(delay_s=ECHO_DELAY_S)
            media = CallMedia(source=echo, sinks=[echo])
            self._service_calls[cid] = media
            self.backend.answer(cid, 200, media)
            return
        verdict = decide(info, self._incoming_context(account, info))
        if verdict.action == "reject":
            self.backend.answer(cid, verdict.code)
            self._turned_away(account, info, verdict)
            return
        if verdict.action == "forward":
            self._forward(cid, account, info, verdict)
            return
        number = self._free_line()
        assert number is not None      # decide() turns callers away when no line is free
        self.backend.answer(cid, 180)   # ringing at once: the UI hears of the call only afterwards
        line = Line(number=number, cid=cid, direction="in", account=account, remote_uri=info.remote_uri,
                    remote_name=info.remote_name, remote_number=info.remote_number, state=LineState.RINGING,
                    call_id=info.call_id)
        line.wall_start = time.time()
        self._lines[number] = line
        self._by_cid[cid] = line
        self._emit(line.snapshot())
        self._call_started(line)
        self._emit(IncomingCall(line=number, account=account, remote_uri=info.remote_uri,
                                remote_name=info.remote_name, remote_number=info.remote_number,
                                source=info.source, ringtone=self._ringtone_for(account, info.remote_number),
                                auto_answer=verdict.auto_answer, call_id=info.call_id))
        if verdict.auto_answer:
            self.backend.schedule(AUTO_ANSWER_DELAY_S, lambda: self._auto_answer(line))
        elif verdict.forward_after is not None:
            self.backend.schedule(verdict.forward_after, lambda: self._forward_unanswered(line, verdict.target))

    def _incoming_context(self, account: int | None, info: IncomingInfo) -> IncomingContext:
        f = self.config.features
        acc = self.config.accounts[account] if account is not None else None
        busy = any(ln.state in (LineState.TALKING, LineState.HELD, LineState.CALLING) for ln in self._lines.values())
        if acc is not None:
            only_server, servers = acc.accept_only_from_server, self._server_addrs.get(account, frozenset())
        else:
            # a call that matched no account (direct IP) is still a ghost when any account guards against them
            only_server = any(a.enabled and a.accept_only_from_server for a in self.config.accounts)
            servers = frozenset().union(*self._server_addrs.values()) if self._server_addrs else frozenset()
        return IncomingContext(
            account_user=acc.user_id if acc else None, contact_user=acc.user_id if acc else None,
            server_addresses=servers, accept_only_from_server=only_server,
            # a call that matched no account is still checked when any account guards its user ID
            check_user_id=acc.check_user_id if acc else any(
                a.enabled and a.check_user_id for a in self.config.accounts),
            known_users=frozenset(a.user_id for a in self.config.accounts if a.enabled and a.user_id),
            reject_anonymous=acc.reject_anonymous if acc else any(
                a.enabled and a.reject_anonymous for a in self.config.accounts),
            auto_answer=acc.auto_answer if acc else "off", dnd=f.dnd, call_waiting=f.call_waiting,
            forward_always=f.forward_always, forward_busy=f.forward_busy, forward_no_answer=f.forward_no_answer,
            forward_no_answer_delay=f.forward_no_answer_delay, busy=busy, free_line=self._free_line() is not None,
            blocked=self.features.blocklist.matches(info.remote_number, _user_host(info.remote_uri)) is not None,
        )

    def _ringtone_for(self, account: int | None, number: str) -> str:
        for rule in self.config.features.ring_rules:
            try:
                if number and DialPlan.parse("{" + rule.match + "}").allow(number):
                    return rule.ringtone
            except DialPlanError:
                continue
        return self.config.accounts[account].ringtone if account is not None else "ring1"

    def _turned_away(self, account: int | None, info: IncomingInfo, verdict: Verdict) -> None:
        caller = info.remote_number or info.remote_uri
        if verdict.ghost:
            source = info.source
            if source not in self.ghost_calls and len(self.ghost_calls) >= GHOST_SOURCES:
                source = OTHER_SOURCES
            self.ghost_calls[source] = self.ghost_calls.get(source, 0) + 1
            total = sum(self.ghost_calls.values())
            self._noise.warning("ghost call", "ghost call: refused INVITE from %s with %d: %s", info.source,
                               verdict.code, verdict.reason)
            self._emit(GhostCall(account=account, source=info.source, sip_status=verdict.code,
                                 reason=verdict.reason, total=total))
            return     # scanners fill no history: they are counted and logged
        disposition = {486: "dnd" if self.config.features.dnd else "busy", 603: "blocked"}.get(verdict.code, "rejected")
        self._log_call("in", account, info.remote_uri, info.remote_name, info.remote_number, time.time(), 0.0,
                       disposition, verdict.reason)
        if verdict.code in (603, 486) and disposition in ("blocked", "dnd"):
            self._notice(f"{verdict.reason.capitalize()}: call from {caller} refused.")

    def _forward(self, cid: int, account: int | None, info: IncomingInfo, verdict: Verdict, key: str = "") -> None:
        try:
            _, uri = self.resolve_target(verdict.target, account)
        except PhoneError as exc:
            self._notice(f"Cannot forward to {verdict.target}: {exc}", "warning")
            self.backend.answer(cid, 486)
            return
        reason = {"forward always": "unconditional", "busy: forwarded": "user-busy",
                  "do not disturb: forwarded": "do-not-disturb"}.get(verdict.reason, "no-answer")
        self._redirect(cid, account, info, verdict.target, uri, reason, key=key)

    def _redirect(self, cid: int, account: int | None, info: IncomingInfo, target: str, uri: str,
                  reason: str, started: float | None = None, key: str = "") -> None:
        """Answer 302 with `uri` in Contact and a Diversion (RFC 5806) naming us, and log the call as forwarded."""
        self.backend.answer(cid, 302, headers={"Contact": f"<{uri}>",
                                              "Diversion": f"<{self._own_uri(account)}>;reason={reason}"})
        self._log_call("in", account, info.remote_uri, info.remote_name, info.remote_number,
                       time.time() if started is None else started, 0.0, "forwarded",
                       f"forwarded to {target} ({reason})", key)

    def forward(self, line: int, target: str) -> Future:
        """Send a ringing call elsewhere (302 with a Diversion, reason deflection); the Future gives the URI.
        A target the dial plan refuses raises PhoneError and the call keeps ringing."""
        def job() -> str:
            ln = self._line(line)
            if ln.state != LineState.RINGING or ln.direction != "in":
                raise PhoneError(f"Line {line} is not ringing: only a ringing call can be forwarded.", "failed")
            try:
                _, uri = self.resolve_target(target, ln.account)
            except PhoneError as exc:
                raise PhoneError(f"Cannot forward line {line} to {target.strip() or 'nothing'}: {exc}",
                                 exc.result) from None
            info = IncomingInfo(ln.remote_uri, ln.remote_name, ln.remote_number, "", "")
            ln.forwarded = True     # before the 302, which ends the call: logged here as forwarded, not missed
            self._redirect(ln.cid, ln.account, info, target.strip(), uri, "deflection", ln.wall_start,
                           ln.history_key)
            return uri
        return self.backend.submit(job)

    def _forward_unanswered(self, line: Line, target: str) -> None:
        if self._lines.get(line.number) is not line or line.state != LineState.RINGING:
            return
        info = IncomingInfo(line.remote_uri, line.remote_name, line.remote_number, "", "")
        line.forwarded = True     # before the 302: it ends the call at once, and this call is logged as forwarded
        self._forward(line.cid, line.account, info, Verdict("forward", 302, "no answer", target=target),
                      line.history_key)

    def _auto_answer(self, line: Line) -> None:
        if self._lines.get(line.number) is line and line.state == LineState.RINGING:
            self._hold_others(line.number)
            self.backend.answer(line.cid, 200, line.media)

    def _own_uri(self, account: int | None) -> str:
        if account is None:
            return f"sip:tuiphone@{self.backend.local_address()}"
        acc = self.config.accounts[account]
        return f"sip:{acc.user_id}@{acc.sip_server}"

    def _log_call(self, direction: str, account: int | None, uri: str, name: str, number: str, started: float,
                  duration: float, disposition: str, reason: str = "", key: str = "") -> None:
        self._emit(CallLogEntry(direction=direction, account=account, remote_uri=uri, remote_name=name,
                                remote_number=number, started=started, duration_s=round(duration, 2),
                                disposition=disposition, reason=reason, key=key))

    def _call_started(self, line: Line) -> None:
        """A line took a call: its history row can be written now (the CallLogEntry at its end has the key)."""
        self._emit(CallStarted(key=line.history_key, line=line.number, direction=line.direction,
                               account=line.account, remote_uri=line.remote_uri, remote_name=line.remote_name,
                               remote_number=line.remote_number, started=line.wall_start))

    def on_new_call(self, cid: int, account: int | None, remote_uri: str, replaces: int | None) -> None:
        """A call pjsua made for us: the target of a REFER we accepted, or an INVITE that Replaces one of ours."""
        old = self._by_cid.pop(replaces, None) if replaces is not None else None
        name, uri, user = split_name_uri(remote_uri)
        self._end_stale(cid)
        if old is not None:
            line = replace(old, cid=cid, remote_uri=uri or old.remote_uri, remote_name=name,
                           remote_number=user or old.remote_number, dtmf_received=[])
            self._lines[line.number] = line
        else:
            number = self._free_line()
            if number is None:
                self.backend.hangup(cid, 486)
                return
            # the transfer target we were REFERred to becomes the active line
            self._hold_others(None)
            line = Line(number=number, cid=cid, direction="out", account=account, remote_uri=uri,
                        remote_name=name, remote_number=user)
            self._lines[number] = line
            self._call_started(line)
        self._by_cid[cid] = line
        self._emit(line.snapshot())

    # ----- call control ----------------------------------------------------------------------------
    def _line(self, number: int) -> Line:
        line = self._lines.get(number)
        if line is None:
            raise PhoneError(f"Line {number} has no call.", "failed")
        return line

    def answer(self, line: int, media: CallMedia | None = None) -> Future:
        def job() -> None:
            ln = self._line(line)
            if ln.state != LineState.RINGING:
                raise PhoneError(f"Line {line} is not ringing.", "failed")
            self._hold_others(line)
            if media is not None:
                ln.media = media
            self._answer_line(ln, 200)
        return self.backend.submit(job)

    def _answer_line(self, ln: Line, code: int) -> None:
        try:
            self.backend.answer(ln.cid, code, ln.media if code == 200 else None)
        except ValueError:
            self.on_call_state(ln.cid, "disconnected", 0, "the call is gone")
            raise PhoneError(f"Line {ln.number} has no call any more: the caller hung up.", "failed") from None

    def reject(self, line: int, code: int = 486) -> Future:
        def job() -> None:
            ln = self._line(line)
            if ln.state != LineState.RINGING:
                raise PhoneError(f"Line {line} is not ringing.", "failed")
            self._answer_line(ln, code)
        return self.backend.submit(job)

    def hangup(self, line: int) -> Future:
        return self.backend.submit(lambda: self.backend.hangup(self._line(line).cid))

    def hangup_all(self) -> Future:
        def job() -> None:
            for ln in list(self._lines.values()):
                self.backend.hangup(ln.cid)
        return self.backend.submit(job)

    def hold(self, line: int) -> Future:
        def job() -> None:
            ln = self._line(line)
            if ln.state == LineState.TALKING:
                self.backend.hold(ln.cid)
                ln.state = LineState.HELD
                self._emit(ln.snapshot())
        return self.backend.submit(job)

    def resume(self, line: int) -> Future:
        """Take a held line back; the line that was talking goes on hold (one active line)."""
        def job() -> None:
            ln = self._line(line)
            if ln.state != LineState.HELD:
                raise PhoneError(f"Line {line} is not on hold.", "failed")
            self._hold_others(line)
            self.backend.unhold(ln.cid)
            ln.state = LineState.TALKING
            self._emit(ln.snapshot())
        return self.backend.submit(job)

    def mute(self, line: int, on: bool = True) -> Future:
        def job() -> None:
            ln = self._line(line)
            self.backend.set_mute(ln.cid, on)
            ln.muted = on
            self._emit(ln.snapshot())
        return self.backend.submit(job)

    def set_media(self, line: int, media: CallMedia) -> Future:
        def job() -> None:
            ln = self._line(line)
            ln.media = media
            self.backend.set_media(ln.cid, media)
        return self.backend.submit(job)

    def send_dtmf(self, line: int, digits: str) -> Future:
        bad = [d for d in digits if d.upper() not in "0123456789*#ABCD"]
        def job() -> None:
            if bad:
                raise PhoneError(f"'{bad[0]}' is not a DTMF digit: use 0-9, *, # or A-D.", "failed")
            ln = self._line(line)
            if ln.state != LineState.TALKING:
                raise PhoneError(f"Line {line} is not in a call.", "failed")
            method = "rfc2833"
            if ln.account is not None:
                method = self.config.accounts[ln.account].dtmf
            self.backend.send_dtmf(ln.cid, digits.upper(), method)
        return self.backend.submit(job)

    def blind_transfer(self, line: int, target: str) -> Future:
        def job() -> None:
            ln = self._line(line)
            _, uri = self.resolve_target(target, ln.account)
            self._transfer_line[ln.cid] = line
            self.backend.blind_transfer(ln.cid, uri)
        return self.backend.submit(job)

    def attended_transfer(self, line: int, other_line: int) -> Future:
        """Connect the party on `line` with the party on `other_line` (REFER with Replaces), then leave."""
        def job() -> None:
            ln, other = self._line(line), self._line(other_line)
            self._transfer_line[ln.cid] = line
            self._consult_leg[ln.cid] = other
            self.backend.attended_transfer(ln.cid, other.cid)
        return self.backend.submit(job)

    # ----- recording (seed 3.3) ---------------------------------------------------------------------------
    def record(self, line: int, on: bool = True) -> Future:
        """Start or stop recording a line (both sides); the Future gives the file's path."""
        def job() -> str | None:
            ln = self._line(line)
            if on:
                if self.config.features.record == "off":
                    raise PhoneError("Recording is turned off: set features.record to manual or auto.", "failed")
                if ln.state not in (LineState.TALKING, LineState.HELD):
                    raise PhoneError(f"Line {line} is not in a call.", "failed")
                return str(self._start_recording(ln) or "")
            path = self._stop_recording(ln)
            return str(path) if path else None
        return self.backend.submit(job)

    def _record_dir(self) -> Path:
        folder = self.config.features.record_dir
        if folder:
            return Path(folder).expanduser()
        base = Path(self.data_dir) if self.data_dir else Path.cwd()
        return base / "recordings"

    def _start_recording(self, ln: Line) -> Path | None:
        if ln.number in self._recorders:
            return self._recorders[ln.number].path
        try:
            folder = self._record_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = recording_path(folder, ln.number, ln.remote_number or ln.remote_uri)
            rec = CallRecorder(path, stereo=self.config.features.record_stereo,
                               on_error=lambda text, n=ln.number: self.backend.submit(
                                   lambda: self._recording_failed(n, text)))
        except (OSError, ValueError) as exc:
            self._notice(f"Cannot record line {ln.number}: {exc}", "warning")
            return None
        self._recorders[ln.number] = rec
        if self.local_audio is not None:
            self._taps.add(ln.cid, rec)
        # with the C local port the taps hear the call too; otherwise the call's own port feeds the recorder
        media = CallMedia(source=ln.media.source,
                          sinks=[*ln.media.sinks, *(() if self._taps.hears_calls else (rec.rx_sink,))])
        if self.local_audio is None:
            media.source = rec.tx_tap(ln.media.source) if ln.media.source is not None else None
        ln.media = media
        self.backend.set_media(ln.cid, media)
        ln.recording = True
        self._emit(ln.snapshot())
        return path

    def _stop_recording(self, ln: Line) -> Path | None:
        rec = self._recorders.pop(ln.number, None)
        if rec is None:
            return None
        self._taps.remove(ln.cid)
        media = CallMedia(source=ln.media.source, sinks=[s for s in ln.media.sinks if s is not rec.rx_sink])
        ln.media = media
        if ln.state != LineState.ENDED:
            self.backend.set_media(ln.cid, media)
        ln.recording = False
        path = rec.stop()
        if ln.state != LineState.ENDED:
            self._emit(ln.snapshot())
        if path is not None:
            self._notice(f"Recording of line {ln.number} saved to {path}.")
        return path

    def _recording_failed(self, number: int, text: str) -> None:
        ln = self._lines.get(number)
        if ln is not None and number in self._recorders:
            self._stop_recording(ln)
        self._notice(f"Recording of line {number} stopped: {text}", "warning")

    # ----- conference (seed 2.14–2.16): mixed in pjsua's bridge ---------------------------------------
    def conference(self, lines: list[int] | None = None) -> Future:
        """Join lines (default: every talking or held line) into one local conference and talk to all of them."""
        def job() -> list[int]:
            members = [self._line(n) for n in lines] if lines is not None else [
                ln for ln in self._lines.values() if ln.state in (LineState.TALKING, LineState.HELD)]
            members += [ln for ln in self._lines.values() if ln.conference and ln not in members]
            if len(members) < 2:
                raise PhoneError("A conference needs at least two calls: hold one and call another.", "failed")
            limit = self.config.features.conference_max
            if len(members) + 1 > limit:
                raise PhoneError(f"A conference holds at most {limit} parties (features.conference_max).", "failed")
            for ln in members:
                if ln.state not in (LineState.TALKING, LineState.HELD):
                    raise PhoneError(f"Line {ln.number} is not in a call yet.", "failed")
            # a talking member stays up: holding it and resuming it at once raced two re-INVITEs, and the
            # resume could lose (the member then sat on hold, hearing no one)
            self._hold_others(None, spare=frozenset(ln.number for ln in members))
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    self.backend.link(a.cid, b.cid, True)
            for ln in members:
                ln.conference = True
                if ln.state == LineState.HELD:
                    self.backend.unhold(ln.cid)
                    ln.state = LineState.TALKING
                self._emit(ln.snapshot())
            return sorted(ln.number for ln in members)
        return self.backend.submit(job)

    def _members(self) -> list[Line]:
        return [ln for ln in self._lines.values() if ln.conference]

    def split_conference(self, keep: int | None = None) -> Future:
        """Break the conference into separate lines; `keep` stays talking (talk to one member alone), the rest hold."""
        def job() -> None:
            members = self._members()
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    self.backend.link(a.cid, b.cid, False)
            for ln in members:
                ln.conference = False
                if ln.number != keep and ln.state == LineState.TALKING:
                    self.backend.hold(ln.cid)
                    ln.state = LineState.HELD
                self._emit(ln.snapshot())
        return self.backend.submit(job)

    def hold_conference(self, on: bool = True) -> Future:
        """Hold (or resume) every member at once; they keep hearing each other? No: held calls carry no audio."""
        def job() -> None:
            for ln in self._members():
                if on and ln.state == LineState.TALKING:
                    self.backend.hold(ln.cid)
                    ln.state = LineState.HELD
                elif not on and ln.state == LineState.HELD:
                    self.backend.unhold(ln.cid)
                    ln.state = LineState.TALKING
                self._emit(ln.snapshot())
            if not on:
                self._hold_others(next((ln.number for ln in self._members()), None))
        return self.backend.submit(job)

    def end_conference(self) -> Future:
        return self.backend.submit(lambda: [self.backend.hangup(ln.cid) for ln in self._members()] and None)

    def leave_conference(self) -> Future:
        """The initiator leaves and the other two keep talking (an attended transfer between them)."""
        def job() -> None:
            members = self._members()
            if len(members) != 2:
                raise PhoneError("Leaving a conference keeps the others talking only when two others are left; "
                                 "end it or split it instead.", "failed")
            a, b = members
            self._transfer_line[a.cid] = a.number
            self._consult_leg[a.cid] = b
            self.backend.attended_transfer(a.cid, b.cid)
        return self.backend.submit(job)

    # ----- features (DND, forwarding, call waiting, anonymous, blocklist) -------------------------------
    def _feature(self, fn: Callable[[], str]) -> Future:
        def job() -> str:
            try:
                text = fn()
            except FeatureError as exc:
                raise PhoneError(str(exc), "failed") from None
            self._notice(text)
            return text
        return self.backend.submit(job)

    def set_dnd(self, on: bool) -> Future:
        return self._feature(lambda: self.features.set_dnd(on))

    def set_forward(self, kind: str, target: str) -> Future:
        """kind: always | busy | no_answer; an empty target turns that forwarding off."""
        return self._feature(lambda: self.features.set_forward(kind, target))

    def set_call_waiting(self, on: bool) -> Future:
        return self._feature(lambda: self.features.set_call_waiting(on))

    def set_anonymous(self, account: int, on: bool) -> Future:
        return self._feature(lambda: self.features.set_anonymous(account, on))

    def block(self, entry: str) -> Future:
        return self._feature(lambda: self.features.block(entry))

    def unblock(self, entry: str) -> Future:
        return self._feature(lambda: self.features.unblock(entry))

    def feature_state(self):
        return self.features.snapshot()

    def quality(self, line: int) -> Future:
        return self.backend.submit(lambda: self.backend.quality(self._line(line).cid))

    def lines(self) -> list[CallState]:
        return [ln.snapshot() for ln in sorted(self._lines.values(), key=lambda x: x.number)]

    def dtmf_received(self, line: int) -> Future:
        return self.backend.submit(lambda: "".join(self._line(line).dtmf_received))

    # ----- backend callbacks -----------------------------------------------------------------------
    def on_call_state(self, cid: int, state: str, sip_status: int, reason: str, call_id: str = "") -> None:
        if cid in self._service_calls:
            if state == "disconnected":
                self._service_calls.pop(cid, None)
            return
        line = self._by_cid.get(cid)
        if line is None:
            return
        line.sip_status, line.reason = sip_status, reason
        if line.end_reason:           # the phone ended it: say why, not how the far end answered the BYE
            line.reason = line.end_reason
        line.call_id = call_id or line.call_id
        if state == "confirmed":
            first_answer = line.answered is None
            if first_answer and self.config.features.record == "auto":
                self._start_recording(line)
            if first_answer:
                line.answered = time.monotonic()
            talking_elsewhere = any(o is not line and o.state == LineState.TALKING for o in self._lines.values())
            if first_answer and talking_elsewhere and line.state != LineState.HELD:
                # answered while the user talks on another line: it waits on hold (one active line)
                self.backend.hold(cid)
                line.state = LineState.HELD
            elif line.state != LineState.HELD:
                line.state = LineState.TALKING
        elif state == "disconnected":
            line.state = LineState.ENDED
            self._stop_recording(line)
            self._log_line(line)
            self._by_cid.pop(cid, None)
            if self._lines.get(line.number) is line:
                del self._lines[line.number]
            self._transfer_line.pop(cid, None)
            self._consult_leg.pop(cid, None)
        elif state in ("early", "calling", "connecting") and line.direction == "out":
            line.state = LineState.CALLING
        self._emit(line.snapshot())

    def _media_calls(self) -> list[tuple[int, int]]:
        """(call id, line) of the calls that should be receiving media: talking, held by neither side."""
        return [(ln.cid, ln.number) for ln in self._lines.values()
                if ln.state == LineState.TALKING and not ln.remote_hold]

    def _media_dead(self, cid: int, number: int, timeout: float) -> None:
        line = self._by_cid.get(cid)
        if line is None:
            return
        line.end_reason = dead_media_reason(timeout)
        self._notice(f"Line {number}: nothing heard from the far end for {timeout:g} s; the call was ended.")
        self.backend.hangup(cid)

    def _log_line(self, line: Line) -> None:
        if line.forwarded:
            return          # logged when it was forwarded
        talk = time.monotonic() - line.answered if line.answered is not None else 0.0
        if line.answered is not None:
            disposition = "answered"
        elif line.direction == "in":
            disposition = "missed" if line.sip_status in (0, 487) or line.sip_status < 300 else "rejected"
        else:
            disposition = "failed"
        self._log_call(line.direction, line.account, line.remote_uri, line.remote_name, line.remote_number,
                       line.wall_start, talk, disposition,
                       line.end_reason or f"{line.sip_status} {line.reason}".strip(), line.history_key)

    def on_media_state(self, cid: int, active: bool, remote_hold: bool, codec: str) -> None:
        line = self._by_cid.get(cid)
        if line is None:
            return
        line.remote_hold, line.codec = remote_hold, codec or line.codec
        self._emit(line.snapshot())

    def on_dtmf(self, cid: int, digit: str, method: str) -> None:
        line = self._by_cid.get(cid)
        if line is None:
            return
        line.dtmf_received.append(digit)
        self._emit(DtmfReceived(line=line.number, digit=digit, method=method))

    def on_transfer_status(self, cid: int, sip_status: int, reason: str, final: bool) -> None:
        number = self._transfer_line.get(cid)
        line = self._by_cid.get(cid)
        if number is None and line is not None:
            number = line.number
        if number is None:
            return
        self._emit(TransferProgress(line=number, sip_status=sip_status, reason=reason, final=final))
        # a 2xx sipfrag is the transferee's INVITE answered, final even if the subscription stays active
        if 200 <= sip_status < 300 and line is not None:
            # the transfer took: our legs are no longer needed. An attended transfer's target may keep our
            # consultation call (no Replaces support: it took the transferee as a new call), so end it too.
            consult = self._consult_leg.pop(cid, None)
            self.backend.hangup(cid)
            if consult is not None and self._by_cid.get(consult.cid) is consult:
                self.backend.hangup(consult.cid)

    def on_mwi(self, account: int | None, body: str) -> None:
        waiting, new, old = parse_message_summary(body)
        if account is None:
            account = self._default_account()   # an unsolicited NOTIFY that matched no account
        self.voicemail[account] = (waiting, new, old)
        self._emit(Mwi(account=account, waiting=waiting, new=new, old=old))

    def dial_voicemail(self, account: int | None = None, media: CallMedia | None = None) -> Future:
        """Call the account's voicemail access code (seed 2.11)."""
        index = account if account is not None else self._default_account()
        if index is None:
            raise PhoneError("No account is configured, so there is no voicemail to call.", "failed")
        code = self.config.accounts[index].voicemail
        if not code:
            raise PhoneError(f"Account {index + 1} has no voicemail number: set accounts[{index}].voicemail.")
        return self.call(code, index, media)

    def on_buddy_state(self, handle: int, status: str, activity: str, note: str) -> None:
        index = self._blf_keys.get(handle)
        if index is None:
            return
        state = blf_state(status, activity, note)
        self.blf[index] = state
        self._emit(Blf(key=index, extension=self.config.keys[index].value, state=state))

    def key_states(self) -> dict[int, str]:
        """What each BLF key shows, by key index: idle | ringing | busy | offline | unknown (the last NOTIFY)."""
        return dict(self.blf)

    def dial_key(self, index: int, media: CallMedia | None = None) -> Future:
        """Press programmable key `index` (0-based, as in config.keys) in speed_dial, blf or intercom mode.
        speed_dial calls its number, intercom calls it asking for auto-answer, blf calls it — or, while the
        monitored extension rings, picks that call up (the key's pickup_code + number). The Future gives the line."""
        def job() -> int | None:
            keys = self.config.keys
            if not 0 <= index < len(keys):
                raise PhoneError(f"There is no programmable key {index + 1}: the config has {len(keys)}.", "failed")
            key = keys[index]
            if key.mode not in ("speed_dial", "blf", "intercom"):
                raise PhoneError(f"Key {index + 1} is a {key.mode} key, not one that dials: "
                                 "only speed_dial, blf and intercom keys call a number.", "failed")
            if not key.value:
                raise PhoneError(f"Key {index + 1} has no number: set keys[{index}].value.", "failed")
            account = key.account - 1 if key.account <= len(self.config.accounts) else None
            if key.mode == "blf" and self.blf.get(index) == "ringing" and key.pickup_code:
                return self._pickup(key.pickup_code + key.value, account, media)
            headers = dict(INTERCOM_HEADERS) if key.mode == "intercom" else None
            return self.call(key.value, account, media, headers).result(0)
        return self.backend.submit(job)

    def _pickup(self, code: str, account: int | None, media: CallMedia | None) -> int:
        """Dial the server's pickup code (like **1002) as it is: the admin set it, so the dial plan does not apply."""
        index = account if account is not None else self._default_account()
        acc = self.config.accounts[index] if index is not None else None
        if acc is None or not acc.enabled or not acc.sip_server:
            raise PhoneError(f"Picking up {code} needs an enabled account with a SIP server.", "failed")
        try:
            uri = normalize_target(code, default_domain=acc.sip_server)
        except DirectIpError as exc:
            raise PhoneError(str(exc), "failed") from None
        if acc.transport != "udp":
            uri += f";transport={acc.transport}"
        return self._place_call(index, uri, code, media, None)

    def intercom(self, target: str, account: int | None = None, media: CallMedia | None = None) -> Future:
        """Call asking the far phone to answer by itself (Call-Info answer-after=0, Alert-Info auto answer)."""
        return self.call(target, account, media, headers=dict(INTERCOM_HEADERS))

    def on_sip_message(self, msg: SipMessage) -> None:
        self._emit(msg)
