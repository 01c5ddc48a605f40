"""Phone: lines, accounts and calls — the one API the UI, the CLI and the services call.

Commands are safe from any thread: they hand their work to the SIP thread and return a Future.
The phone logic itself runs only on the SIP thread (inside backend callbacks and submitted jobs), so it
needs no locks. Events are frozen dataclasses handed to subscribers on the SIP thread; a subscriber
must return quickly (post a message, put on a queue).

This module is the façade: the commands and the backend's callbacks. The phone's parts do the work —
engine/lines.py (the line table and its history rows), registration.py (accounts, failover, keep-alive),
dialing.py (what a dialed text calls), incoming.py (incoming rules, forwarding, auto-answer, echo test),
recording.py, conference.py, transfer.py, programmable_keys.py (speed dial, BLF, pickup, intercom) and
voicemail.py (MWI).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from tuiphone.engine.backend import CallMedia, IncomingInfo, SipBackend, TransportSettings
from tuiphone.engine.blocklist import Blocklist
from tuiphone.engine.conference import Conference
from tuiphone.engine.dialing import ANONYMOUS_FROM, Dialing, default_account
from tuiphone.engine.events import (
    CallState,
    DtmfReceived,
    Event,
    FeaturesChanged,
    LineState,
    Mwi,
    Notice,
    RegState,
    SipMessage,
)
from tuiphone.engine.featurestate import FeatureError, FeatureState
from tuiphone.engine.handset import Handset
from tuiphone.engine.incoming import AUTO_ANSWER_DELAY_S, ECHO_CODE, ECHO_DELAY_S, GHOST_SOURCES, Incoming
from tuiphone.engine.lines import Line, LineTable
from tuiphone.engine.media_watch import MediaWatch, dead_media_reason
from tuiphone.engine.phone_error import PhoneError
from tuiphone.engine.programmable_keys import INTERCOM_HEADERS, ProgrammableKeys, blf_state
from tuiphone.engine.recording import Recording
from tuiphone.engine.registration import LEAVE_TIMEOUT_S, RETRY_MAX_S, Registration, Registrations
from tuiphone.engine.sipports import why_no_transport
from tuiphone.engine.sounds import CallSounds
from tuiphone.engine.transfer import Transfers
from tuiphone.engine.voicemail import mailbox, parse_message_summary
from tuiphone.logthrottle import LogThrottle

if TYPE_CHECKING:
    from tuiphone.audio.local import LocalAudio
    from tuiphone.config import AccountConfig, Config

# names the rest of the program (and the tests) import from here
__all__ = ["ANONYMOUS_FROM", "AUTO_ANSWER_DELAY_S", "ECHO_CODE", "ECHO_DELAY_S", "GHOST_SOURCES",
           "INTERCOM_HEADERS", "LEAVE_TIMEOUT_S", "RETRY_MAX_S", "Line", "Phone", "PhoneError", "blf_state",
           "parse_message_summary"]

log = logging.getLogger(__name__)


class Phone:
    """The phone. Build it with a config and a backend, `start()` it, call its commands, `stop()` it."""

    def __init__(self, config: Config, backend: SipBackend, *, port: int | None = None, bind: str | None = None,
                 save_config: Callable[[object], None] | None = None, blocklist: Blocklist | None = None,
                 local_audio: LocalAudio | None = None, data_dir: str | None = None,
                 echo_service: bool = True) -> None:
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
        self._noise = LogThrottle(log)         # a scanner costs a few log lines a minute, whatever it sends
        self.voicemail: dict[int | None, tuple[bool, int, int]] = {}   # account -> (waiting, new, old)
        self.line_table = LineTable(backend, config.phone.lines, self._emit)
        self.features = FeatureState(config, self._emit, save_config, blocklist)
        self.local_audio = local_audio
        self.data_dir = data_dir
        self.handset = Handset(self)                      # the local audio: joined to the talking line(s)
        self.registration = Registrations(self)
        self.dialing = Dialing(self)
        self.incoming = Incoming(self)
        self.recording = Recording(self)
        self.transfers = Transfers(self)
        self.conf = Conference(self)
        self.keys = ProgrammableKeys(self)
        self.ghost_calls = self.incoming.ghost_calls     # source address -> INVITEs refused
        self.blf = self.keys.blf                          # key index -> idle | ringing | busy | offline | unknown
        self.pager = None                                 # engine.pager.Pager, set by whoever builds the phone
        if local_audio is not None:
            self.subscribe(CallSounds(local_audio, config.features, notice=self._emit))
        self.media_watch = MediaWatch(backend, self._media_calls, lambda: self.config.features.rtp_timeout,
                                      self._media_dead)
        self.subscribe(self.media_watch.on_event)

    @property
    def max_lines(self) -> int:
        return self.line_table.max_lines

    # the registration tests reach the keep-alive through these two
    @property
    def _regs(self) -> dict[int, Registration]:
        return self.registration.regs

    def _on_keepalive(self, reg: Registration, answered: bool) -> None:
        self.registration.on_keepalive(reg, answered)

    # ----- events ----------------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def _emit(self, event: Event) -> None:
        self.handset.before_event(event)
        for fn in tuple(self._subscribers):
            try:
                fn(event)
            except Exception as exc:     # once per event: at most a few lines a minute, whatever the network sends
                self._noise.failed("subscriber", f"event subscriber {getattr(fn, '__qualname__', fn)!s:.60}", exc)
        self.handset.after_event(event)

    def silence_ringer(self, line: int | None = None) -> None:
        """Stop the ringtone of `line` (default: every ringing line). The caller still hears ringing and the
        call can still be answered; a call that comes in later rings again. Safe from any thread."""
        self.backend.submit(lambda: self.handset.silence(line))

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
            self.handset.start()
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
        for line in list(self.line_table.numbers.values()):
            if line.state != LineState.ENDED and not self.backend.call_alive(line.cid):
                log.info("line %d: its call is gone; the line is free again", line.number)
                self.on_call_state(line.cid, "disconnected", line.sip_status or 0, "the call is gone")

    def _end_stale(self, cid: int) -> None:
        """The stack gave `cid` to a new call: a line still on the old call with that id has ended."""
        if cid in self.line_table.cids:
            self.on_call_state(cid, "disconnected", 0, "the call is gone")

    def stop(self) -> None:
        self.registration.stop_keepalives()
        self.registration.unregister_all()
        self.backend.stop()
        if self.local_audio is not None:
            self.local_audio.stop()

    def _add_accounts(self) -> None:
        self.registration.add_all()
        self.keys.watch()

    # ----- live reconfiguration ----------------------------------------------------------------------
    def reconfigure_account(self, index: int, account: AccountConfig) -> Future[Any]:
        """Put `account` (an AccountConfig) in place of config.accounts[index] — or add it, when index is
        len(accounts) — and apply it now: the stack's account is made anew and registers with the new settings;
        an account now disabled (or with no SIP server) unregisters. RegState events follow as usual.
        The config is changed in memory only: saving it is the caller's job."""
        def job() -> None:
            self.registration.replace(index, account)
            self.keys.rewatch(index)
            self._emit(self.features.snapshot())       # the account's anonymous flag may have changed
        return self.backend.submit(job)

    # ----- registration ----------------------------------------------------------------------------
    def register(self, account: int, on: bool = True) -> Future[Any]:
        return self.backend.submit(lambda: self.registration.register(account, on))

    def registrations(self) -> dict[int, RegState]:
        return self.registration.states()

    def on_reg_state(self, account: int, sip_status: int, reason: str, expires: int) -> None:
        self.registration.on_reg_state(account, sip_status, reason, expires)

    # ----- placing calls ---------------------------------------------------------------------------
    def resolve_target(self, target: str, account: int | None = None) -> tuple[int | None, str]:
        """Turn what the user dialed into (account or None for direct, SIP URI). Raises PhoneError."""
        return self.dialing.resolve(target, account)

    def call(self, target: str, account: int | None = None, media: CallMedia | None = None,
             headers: dict[str, str] | None = None) -> Future[Any]:
        """Dial target on a free line; the Future gives the line number, or None when `target` was a
        feature code the phone carried out itself (a Notice says what it did), or raises PhoneError."""
        return self.dialing.call(target, account, media, headers)

    # ----- incoming calls --------------------------------------------------------------------------
    def on_incoming_call(self, cid: int, account: int | None, info: IncomingInfo) -> None:
        self.incoming.on_incoming_call(cid, account, info)

    def forward(self, line: int, target: str) -> Future[Any]:
        """Send a ringing call elsewhere (302 with a Diversion, reason deflection); the Future gives the URI.
        A target the dial plan refuses raises PhoneError and the call keeps ringing."""
        return self.backend.submit(lambda: self.incoming.deflect(line, target))

    # ----- call control ----------------------------------------------------------------------------
    def answer(self, line: int, media: CallMedia | None = None) -> Future[Any]:
        def job() -> None:
            ln = self.line_table.get(line)
            if ln.state != LineState.RINGING:
                raise PhoneError(f"Line {line} is not ringing.", "failed")
            self.line_table.hold_others(line)
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

    def reject(self, line: int, code: int = 486) -> Future[Any]:
        def job() -> None:
            ln = self.line_table.get(line)
            if ln.state != LineState.RINGING:
                raise PhoneError(f"Line {line} is not ringing.", "failed")
            self._answer_line(ln, code)
        return self.backend.submit(job)

    def hangup(self, line: int) -> Future[Any]:
        return self.backend.submit(lambda: self.backend.hangup(self.line_table.get(line).cid))

    def hangup_all(self) -> Future[Any]:
        def job() -> None:
            for ln in list(self.line_table.numbers.values()):
                self.backend.hangup(ln.cid)
        return self.backend.submit(job)

    def hold(self, line: int) -> Future[Any]:
        def job() -> None:
            ln = self.line_table.get(line)
            if ln.state == LineState.TALKING:
                self.backend.hold(ln.cid)
                ln.state = LineState.HELD
                self._emit(ln.snapshot())
        return self.backend.submit(job)

    def resume(self, line: int) -> Future[Any]:
        """Take a held line back; the line that was talking goes on hold (one active line)."""
        def job() -> None:
            ln = self.line_table.get(line)
            if ln.state != LineState.HELD:
                raise PhoneError(f"Line {line} is not on hold.", "failed")
            self.line_table.hold_others(line)
            self.backend.unhold(ln.cid)
            ln.state = LineState.TALKING
            self._emit(ln.snapshot())
        return self.backend.submit(job)

    def mute(self, line: int, on: bool = True) -> Future[Any]:
        def job() -> None:
            ln = self.line_table.get(line)
            self.backend.set_mute(ln.cid, on)
            ln.muted = on
            self._emit(ln.snapshot())
        return self.backend.submit(job)

    def set_media(self, line: int, media: CallMedia) -> Future[Any]:
        def job() -> None:
            ln = self.line_table.get(line)
            ln.media = media
            self.backend.set_media(ln.cid, media)
        return self.backend.submit(job)

    def send_dtmf(self, line: int, digits: str) -> Future[Any]:
        bad = [d for d in digits if d.upper() not in "0123456789*#ABCD"]
        def job() -> None:
            if bad:
                raise PhoneError(f"'{bad[0]}' is not a DTMF digit: use 0-9, *, # or A-D.", "failed")
            ln = self.line_table.get(line)
            if ln.state != LineState.TALKING:
                raise PhoneError(f"Line {line} is not in a call.", "failed")
            method = "rfc2833"
            if ln.account is not None:
                method = self.config.accounts[ln.account].dtmf
            self.backend.send_dtmf(ln.cid, digits.upper(), method)
        return self.backend.submit(job)

    def blind_transfer(self, line: int, target: str) -> Future[Any]:
        return self.backend.submit(lambda: self.transfers.blind(line, target))

    def attended_transfer(self, line: int, other_line: int) -> Future[Any]:
        """Connect the party on `line` with the party on `other_line` (REFER with Replaces), then leave."""
        return self.backend.submit(lambda: self.transfers.attended(self.line_table.get(line),
                                                                   self.line_table.get(other_line)))

    # ----- recording (seed 3.3) ---------------------------------------------------------------------------
    def record(self, line: int, on: bool = True) -> Future[Any]:
        """Start or stop recording a line (both sides); the Future gives the file's path."""
        return self.backend.submit(lambda: self.recording.record(line, on))

    # ----- conference (seed 2.14–2.16): mixed in pjsua's bridge ---------------------------------------
    def conference(self, lines: list[int] | None = None) -> Future[Any]:
        """Join lines (default: every talking or held line) into one local conference and talk to all of them."""
        return self.backend.submit(lambda: self.conf.join(lines))

    def split_conference(self, keep: int | None = None) -> Future[Any]:
        """Break the conference into separate lines; `keep` stays talking (talk to one member alone), the rest hold."""
        return self.backend.submit(lambda: self.conf.split(keep))

    def hold_conference(self, on: bool = True) -> Future[Any]:
        """Hold (or resume) every member at once (held calls carry no audio)."""
        return self.backend.submit(lambda: self.conf.hold(on))

    def end_conference(self) -> Future[Any]:
        return self.backend.submit(self.conf.end)

    def leave_conference(self) -> Future[Any]:
        """The initiator leaves and the other two keep talking (an attended transfer between them)."""
        return self.backend.submit(self.conf.leave)

    # ----- features (DND, forwarding, call waiting, anonymous, blocklist) -------------------------------
    def _feature(self, fn: Callable[[], str]) -> Future[Any]:
        def job() -> str:
            try:
                text = fn()
            except FeatureError as exc:
                raise PhoneError(str(exc), "failed") from None
            self._notice(text)
            return text
        return self.backend.submit(job)

    def set_dnd(self, on: bool) -> Future[Any]:
        return self._feature(lambda: self.features.set_dnd(on))

    def set_forward(self, kind: str, target: str) -> Future[Any]:
        """kind: always | busy | no_answer; an empty target turns that forwarding off."""
        return self._feature(lambda: self.features.set_forward(kind, target))

    def set_call_waiting(self, on: bool) -> Future[Any]:
        return self._feature(lambda: self.features.set_call_waiting(on))

    def set_anonymous(self, account: int, on: bool) -> Future[Any]:
        return self._feature(lambda: self.features.set_anonymous(account, on))

    def block(self, entry: str) -> Future[Any]:
        return self._feature(lambda: self.features.block(entry))

    def unblock(self, entry: str) -> Future[Any]:
        return self._feature(lambda: self.features.unblock(entry))

    def feature_state(self) -> FeaturesChanged:
        return self.features.snapshot()

    def quality(self, line: int) -> Future[Any]:
        return self.backend.submit(lambda: self.backend.quality(self.line_table.get(line).cid))

    def lines(self) -> list[CallState]:
        return [ln.snapshot() for ln in sorted(self.line_table.numbers.values(), key=lambda x: x.number)]

    def dtmf_received(self, line: int) -> Future[Any]:
        return self.backend.submit(lambda: "".join(self.line_table.get(line).dtmf_received))

    # ----- backend callbacks -----------------------------------------------------------------------
    def on_call_state(self, cid: int, state: str, sip_status: int, reason: str, call_id: str = "") -> None:
        if cid in self.incoming.service_calls:
            if state == "disconnected":
                self.incoming.service_calls.pop(cid, None)
            return
        line = self.line_table.cids.get(cid)
        if line is None:
            return
        line.sip_status, line.reason = sip_status, reason
        if line.end_reason:           # the phone ended it: say why, not how the far end answered the BYE
            line.reason = line.end_reason
        line.call_id = call_id or line.call_id
        if state == "confirmed":
            first_answer = line.answered is None
            if first_answer and self.config.features.record == "auto":
                self.recording.start(line)
            if first_answer:
                line.answered = time.monotonic()
            talking_elsewhere = any(o is not line and o.state == LineState.TALKING
                                    for o in self.line_table.numbers.values())
            if first_answer and talking_elsewhere and line.state != LineState.HELD:
                # answered while the user talks on another line: it waits on hold (one active line)
                self.backend.hold(cid)
                line.state = LineState.HELD
            elif line.state != LineState.HELD:
                line.state = LineState.TALKING
        elif state == "disconnected":
            line.state = LineState.ENDED
            self.recording.stop(line)
            self.line_table.log_line(line)
            self.line_table.cids.pop(cid, None)
            if self.line_table.numbers.get(line.number) is line:
                del self.line_table.numbers[line.number]
            self.transfers.forget(cid)
        elif state in ("early", "calling", "connecting") and line.direction == "out":
            line.state = LineState.CALLING
        self._emit(line.snapshot())

    def _media_calls(self) -> list[tuple[int, int]]:
        """(call id, line) of the calls that should be receiving media: talking, held by neither side."""
        return [(ln.cid, ln.number) for ln in self.line_table.numbers.values()
                if ln.state == LineState.TALKING and not ln.remote_hold]

    def _media_dead(self, cid: int, number: int, timeout: float) -> None:
        line = self.line_table.cids.get(cid)
        if line is None:
            return
        line.end_reason = dead_media_reason(timeout)
        self._notice(f"Line {number}: nothing heard from the far end for {timeout:g} s; the call was ended.")
        self.backend.hangup(cid)

    def on_media_state(self, cid: int, active: bool, remote_hold: bool, codec: str) -> None:
        line = self.line_table.cids.get(cid)
        if line is None:
            return
        line.remote_hold, line.codec = remote_hold, codec or line.codec
        self._emit(line.snapshot())

    def on_dtmf(self, cid: int, digit: str, method: str) -> None:
        line = self.line_table.cids.get(cid)
        if line is None:
            return
        line.dtmf_received.append(digit)
        self._emit(DtmfReceived(line=line.number, digit=digit, method=method))

    def on_new_call(self, cid: int, account: int | None, remote_uri: str, replaces: int | None) -> None:
        """A call pjsua made for us: the target of a REFER we accepted, or an INVITE that Replaces one of ours."""
        self.transfers.on_new_call(cid, account, remote_uri, replaces)

    def on_transfer_status(self, cid: int, sip_status: int, reason: str, final: bool) -> None:
        self.transfers.on_transfer_status(cid, sip_status, reason, final)

    # ----- voicemail (MWI) ---------------------------------------------------------------------------
    def on_mwi(self, account: int | None, body: str) -> None:
        waiting, new, old = parse_message_summary(body)
        if account is None:
            account = default_account(self.config)   # an unsolicited NOTIFY that matched no account
        self.voicemail[account] = (waiting, new, old)
        self._emit(Mwi(account=account, waiting=waiting, new=new, old=old))

    def dial_voicemail(self, account: int | None = None, media: CallMedia | None = None) -> Future[Any]:
        """Call the account's voicemail access code (seed 2.11)."""
        index, code = mailbox(self.config, account)
        return self.call(code, index, media)

    # ----- programmable keys: speed dial, BLF, pickup, intercom ---------------------------------------
    def on_buddy_state(self, handle: int, status: str, activity: str, note: str) -> None:
        self.keys.on_buddy_state(handle, status, activity, note)

    def key_states(self) -> dict[int, str]:
        """What each BLF key shows, by key index: idle | ringing | busy | offline | unknown (the last NOTIFY)."""
        return dict(self.blf)

    def dial_key(self, index: int, media: CallMedia | None = None) -> Future[Any]:
        """Press programmable key `index` (0-based, as in config.keys) in speed_dial, blf or intercom mode.
        speed_dial calls its number, intercom calls it asking for auto-answer, blf calls it — or, while the
        monitored extension rings, picks that call up (the key's pickup_code + number). The Future gives the line."""
        return self.backend.submit(lambda: self.keys.press(index, media))

    def intercom(self, target: str, account: int | None = None, media: CallMedia | None = None) -> Future[Any]:
        """Call asking the far phone to answer by itself (Call-Info answer-after=0, Alert-Info auto answer)."""
        return self.call(target, account, media, headers=dict(INTERCOM_HEADERS))

    def on_sip_message(self, msg: SipMessage) -> None:
        self._emit(msg)
