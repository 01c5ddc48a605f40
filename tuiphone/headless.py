"""The headless modes behind `tuiphone register|call|answer|options`: run the phone, report a result.

Each run_* function returns (exit_code, report) where report is the JSON object SPEC §6 describes.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuiphone.audio.echo import EchoDelay
from tuiphone.audio.meter import LevelMeter
from tuiphone.audio.recorder import CallRecorder
from tuiphone.audio.sources import SilenceSource, ToneSource, WavSource
from tuiphone.engine.backend import CallMedia
from tuiphone.engine.events import CallState, DtmfReceived, IncomingCall, LineState, RegState
from tuiphone.engine.media_watch import ended_for_dead_media
from tuiphone.engine.options import OptionsPinger, OptionsTarget
from tuiphone.engine.phone import ECHO_DELAY_S, Phone, PhoneError
from tuiphone.engine.quality import CallQuality
from tuiphone.load.record import classify
from tuiphone.stop_signals import signal_name

POLL_S = 0.1
QUALITY_EVERY_S = 0.5
WIND_DOWN_S = 3.0       # after SIGTERM/SIGHUP/Ctrl-C: how long the hang-ups may take before the report is printed


@dataclass
class AudioPlan:
    """What a headless call plays and records."""
    play: Path | None = None
    tone: float | None = None
    echo: bool = False
    record: Path | None = None
    stereo: bool = False        # record both sides: local left, remote right (else only what the far end sends)

    def media(self, suffix: str = "") -> tuple[CallMedia, LevelMeter, CallRecorder | None]:
        meter = LevelMeter()
        sinks: list[Any] = [meter]
        source: Any
        if self.echo:
            source = EchoDelay(delay_s=ECHO_DELAY_S)
            sinks.append(source)
        elif self.play is not None:
            source = WavSource.from_file(self.play, loop=True)
        elif self.tone is not None:
            source = ToneSource(self.tone)
        else:
            source = SilenceSource()
        writer = None
        if self.record is not None:
            path = self.record if not suffix else self.record.with_name(f"{self.record.stem}{suffix}.wav")
            writer = CallRecorder(path, stereo=self.stereo)
            sinks.append(writer.rx_sink)
            if self.stereo:
                source = writer.tx_tap(source)
        return CallMedia(source=source, sinks=sinks), meter, writer


@dataclass
class _CallWatch:
    line: int
    started: float = field(default_factory=time.monotonic)
    answered_at: float | None = None
    ended_at: float | None = None
    last: CallState | None = None
    quality: CallQuality | None = None
    dtmf: list[str] = field(default_factory=list)
    next_quality: float = 0.0
    cut: bool = False            # still up when the run was stopped by a signal


def _classify(status: int, answered: bool, timed_out: bool) -> str:
    """As a load call's result (load/record.py), but `call` reports its own timeout as no_answer."""
    result = classify(status, answered, timed_out)
    return "no_answer" if result == "timeout" else result


def _events(phone: Phone, events: queue.Queue[Any] | None) -> queue.Queue[Any]:
    """The run's event queue: running_phone subscribes one before the SIP port opens (RunningPhone.events),
    so no early call is missed; without one, subscribe now."""
    if events is None:
        events = queue.Queue()
        phone.subscribe(events.put)
    return events


def _sample_quality(phone: Phone, watch: _CallWatch) -> None:
    now = time.monotonic()
    if watch.answered_at is None or watch.ended_at is not None or now < watch.next_quality:
        return
    watch.next_quality = now + QUALITY_EVERY_S
    try:
        watch.quality = phone.quality(watch.line).result(2)
    except (PhoneError, KeyError, TimeoutError):
        pass


def _call_report(watch: _CallWatch, meter: LevelMeter, timed_out: bool) -> dict[str, Any]:
    last = watch.last
    status = last.sip_status if last else 0
    answered_at = watch.answered_at
    answered = answered_at is not None
    q = watch.quality
    report: dict[str, Any] = {
        "result": _classify(status, answered, timed_out),
        "sip_status": status,
        "reason": last.reason if last else "",
        "setup_ms": round((answered_at - watch.started) * 1000, 1) if answered_at is not None else None,
        "duration_s": (round(((watch.ended_at or time.monotonic()) - answered_at), 2)
                       if answered_at is not None else 0.0),
    }
    report.update(q.to_json() if q else {"codec": last.codec if last else "", "rx": {"packets": 0, "lost": 0,
                  "jitter_ms": 0.0}, "tx": {"packets": 0}, "rtt_ms": 0.0, "mos": 0.0})
    report["rx_level_dbfs"] = round(meter.average_dbfs, 1)
    report["dtmf_received"] = "".join(watch.dtmf)
    return report


def run_call(phone: Phone, target: str, *, account: int | None, audio: AudioPlan, duration: float,
             dtmf: str, expect_dtmf: str | None, min_mos: float | None, timeout: float,
             events: queue.Queue[Any] | None = None) -> tuple[int, dict]:
    """Place one call, keep it `duration` seconds, send/expect DTMF, and report."""
    events = _events(phone, events)
    media, meter, writer = audio.media()
    report: dict[str, Any] = {"target": target}
    try:
        line = phone.call(target, account, media).result(10)
    except PhoneError as exc:
        report.update(result=exc.result, sip_status=0, reason=str(exc))
        return 1, report
    watch = _CallWatch(line=line)
    deadline = watch.started + timeout
    hangup_at: float | None = None
    dtmf_at: float | None = None
    timed_out = False
    interrupted: str | None = None
    try:
        while watch.ended_at is None:
            now = time.monotonic()
            if watch.answered_at is None and now > deadline and not timed_out:
                timed_out = True
                phone.hangup(line)
            if hangup_at is not None and now >= hangup_at:
                hangup_at = None
                _sample_quality_now(phone, watch)
                phone.hangup(line)
            if dtmf_at is not None and now >= dtmf_at:
                dtmf_at = None
                phone.send_dtmf(line, dtmf)
            if now > deadline + duration + 15:     # the far end never confirmed the end: give up
                break
            _sample_quality(phone, watch)
            try:
                ev = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(ev, DtmfReceived) and ev.line == line:
                watch.dtmf.append(ev.digit)
            elif isinstance(ev, CallState) and ev.line == line:
                watch.last = ev
                if ev.state == LineState.TALKING and watch.answered_at is None:
                    watch.answered_at = time.monotonic()
                    hangup_at = watch.answered_at + duration
                    if dtmf:
                        dtmf_at = watch.answered_at + 0.5
                elif ev.state == LineState.ENDED:
                    watch.ended_at = time.monotonic()
    except KeyboardInterrupt as exc:      # SIGTERM, SIGHUP, Ctrl-C: hang up, then report as usual
        interrupted = signal_name(exc)
        if watch.ended_at is None:
            _hang_up_now(phone, watch)
            _wait_for_ends(events, {line: watch})
    finally:
        if writer is not None:
            writer.stop()
    report.update(_call_report(watch, meter, timed_out))
    if interrupted is not None:
        report["interrupted"] = interrupted
        if watch.cut:
            report["reason"] = f"interrupted by {interrupted}"
        return 1, report
    # a call the phone ended because the far end went silent (features.rtp_timeout) failed
    checks_ok = report["result"] == "answered" and not ended_for_dead_media(report["reason"])
    if expect_dtmf is not None:
        ok = expect_dtmf in report["dtmf_received"]
        report["checks"] = {**report.get("checks", {}), "expect_dtmf": ok}
        checks_ok &= ok
    if min_mos is not None:
        ok = report["mos"] >= min_mos
        report["checks"] = {**report.get("checks", {}), "min_mos": ok}
        checks_ok &= ok
    return (0 if checks_ok else 1), report


def _sample_quality_now(phone: Phone, watch: _CallWatch) -> None:
    watch.next_quality = 0.0
    _sample_quality(phone, watch)


def _hang_up_now(phone: Phone, watch: _CallWatch) -> None:
    """A call the run was stopped in: its last quality, then hang up (ringing calls are declined)."""
    watch.cut = True
    _sample_quality_now(phone, watch)
    phone.hangup(watch.line)


def _wait_for_ends(events: queue.Queue[Any], watches: dict[int, _CallWatch],
                   on_end: Callable[[CallState], None] | None = None) -> None:
    """Wait up to WIND_DOWN_S for the calls of `watches` (by line) to end; calls still up then are reported
    as they are. Events other than those calls' states are dropped: the run is over."""
    deadline = time.monotonic() + WIND_DOWN_S
    waiting = {line for line, w in watches.items() if w.ended_at is None}
    while waiting and time.monotonic() < deadline:
        try:
            ev = events.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if isinstance(ev, CallState) and ev.line in waiting:
            watches[ev.line].last = ev
            if ev.state == LineState.ENDED:
                watches[ev.line].ended_at = time.monotonic()
                waiting.discard(ev.line)
                if on_end is not None:
                    on_end(ev)


def run_answer(phone: Phone, *, account: int | None, audio: AudioPlan, duration: float | None, count: int,
               timeout: float, ring: float = 0.0, dtmf: str = "",
               events: queue.Queue[Any] | None = None) -> tuple[int, dict]:
    """Answer `count` calls (on `account` when given) after ringing `ring` s, send `dtmf` once answered,
    and keep each call `duration` s or until the caller hangs up."""
    events = _events(phone, events)
    calls: list[dict[str, Any]] = []
    active: dict[int, tuple[_CallWatch, LevelMeter, CallRecorder | None, IncomingCall, float | None]] = {}
    to_answer: dict[int, tuple[float, CallMedia]] = {}     # line -> (when, media)
    to_dtmf: dict[int, float] = {}
    answered = 0
    deadline = time.monotonic() + timeout
    interrupted: str | None = None

    def close(line: int) -> None:
        """The call on `line` has ended (or the run has): its report joins the list."""
        watch, meter, writer, inc, _ = active.pop(line)
        watch.ended_at = watch.ended_at or time.monotonic()
        to_answer.pop(line, None)
        to_dtmf.pop(line, None)
        if writer is not None:
            writer.stop()
        # the remote may have changed during the call (an attended transfer replaced it)
        remote = watch.last or inc
        rep = {"line": line, "remote_uri": remote.remote_uri, "remote_number": remote.remote_number,
               "remote_name": remote.remote_name, "caller_uri": inc.remote_uri,
               "account": None if inc.account is None else inc.account + 1}
        rep.update(_call_report(watch, meter, timed_out=False))
        if watch.cut:
            rep["reason"] = f"interrupted by {interrupted}"
        calls.append(rep)

    try:
        while len(calls) < count:
            now = time.monotonic()
            if now > deadline and not active:
                break
            for line, (watch, _, _, _, hang_at) in list(active.items()):
                if hang_at is not None and now >= hang_at and watch.ended_at is None:
                    _sample_quality_now(phone, watch)
                    phone.hangup(line)
                    active[line] = active[line][:4] + (None,)
                _sample_quality(phone, watch)
            for line, (when, media) in list(to_answer.items()):
                if now >= when:
                    del to_answer[line]
                    phone.answer(line, media)
            for line, when in list(to_dtmf.items()):
                if now >= when:
                    del to_dtmf[line]
                    phone.send_dtmf(line, dtmf)
            try:
                ev = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(ev, IncomingCall):
                if (account is not None and ev.account != account) or answered >= count:
                    phone.reject(ev.line, 486)
                    continue
                answered += 1
                media, meter, writer = audio.media(suffix=f"-{answered}" if count > 1 else "")
                watch = _CallWatch(line=ev.line)
                active[ev.line] = (watch, meter, writer, ev, None)
                to_answer[ev.line] = (time.monotonic() + ring, media)
            elif isinstance(ev, DtmfReceived) and ev.line in active:
                active[ev.line][0].dtmf.append(ev.digit)
            elif isinstance(ev, CallState) and ev.line in active:
                watch, meter, writer, inc, hang_at = active[ev.line]
                watch.last = ev
                if ev.state == LineState.TALKING and watch.answered_at is None:
                    watch.answered_at = time.monotonic()
                    if duration is not None:
                        active[ev.line] = (watch, meter, writer, inc, watch.answered_at + duration)
                    if dtmf:
                        to_dtmf[ev.line] = watch.answered_at + 0.5
                elif ev.state == LineState.ENDED:
                    close(ev.line)
    except KeyboardInterrupt as exc:      # SIGTERM, SIGHUP, Ctrl-C: hang up every call, then report as usual
        interrupted = signal_name(exc)
        for entry in list(active.values()):
            _hang_up_now(phone, entry[0])
        _wait_for_ends(events, {line: entry[0] for line, entry in active.items()},
                       on_end=lambda ev: close(ev.line))
        for line in list(active):               # no end seen in time: reported as they were
            close(line)
    ok = interrupted is None and len(calls) >= count and all(
        c["result"] == "answered" and not ended_for_dead_media(c["reason"]) for c in calls)
    report: dict[str, Any] = {"answered": sum(c["result"] == "answered" for c in calls), "calls": calls}
    if interrupted is not None:
        report["interrupted"] = interrupted
    return (0 if ok else 1), report


def run_register(phone: Phone, *, account: int, timeout: float,
                 events: queue.Queue[Any] | None = None) -> tuple[int, dict]:
    """Register one account and report; unregisters before returning so the registrar is left clean."""
    events = _events(phone, events)
    report: dict[str, Any] = {"account": account + 1, "registered": False, "sip_status": 0,
                              "reason": "", "expires": 0}
    regs = phone.registrations()
    if account not in regs:
        report["reason"] = (f"Account {account + 1} has no SIP server or registration is off: "
                            f"set accounts[{account}].sip_server and register = true.")
        return 1, report
    deadline = time.monotonic() + timeout
    state: RegState | None = None
    while time.monotonic() < deadline:
        try:
            ev = events.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if isinstance(ev, RegState) and ev.account == account:
            state = ev
            if ev.registered or ev.sip_status in (401, 403, 404, 407):
                break
    if state is None:
        report["reason"] = f"no answer from the registrar within {timeout:g} s"
        return 1, report
    report.update(registered=state.registered, sip_status=state.sip_status, reason=state.reason,
                  expires=state.expires, server=state.server)
    if state.registered:
        phone.register(account, False).result(5)
        end = time.monotonic() + 2
        while time.monotonic() < end:
            try:
                ev = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(ev, RegState) and ev.account == account and not ev.registered:
                break
    return (0 if state.registered else 1), report


def run_options(target: str, *, count: int, interval: float, bind: str, timeout: float) -> tuple[int, dict]:
    """Ping a SIP target with OPTIONS `count` times and report round-trip times."""
    tgt = OptionsTarget.parse(target)
    replies = []
    with OptionsPinger(tgt, bind=bind, timeout=timeout) as pinger:
        for i in range(count):
            if i:
                time.sleep(interval)
            replies.append(pinger.ping())
    rtts = [r.rtt_ms for r in replies if r.rtt_ms is not None]
    report = {
        "target": tgt.uri, "transport": tgt.transport, "sent": count, "received": len(rtts),
        "lost": count - len(rtts),
        "rtt_ms": {"min": round(min(rtts), 2), "avg": round(sum(rtts) / len(rtts), 2),
                   "max": round(max(rtts), 2)} if rtts else None,
        "sip_status": replies[-1].sip_status if replies else 0,
        "reason": replies[-1].reason if replies else "",
        "replies": [{"seq": r.seq, "sip_status": r.sip_status, "reason": r.reason,
                     "rtt_ms": None if r.rtt_ms is None else round(r.rtt_ms, 2)} for r in replies],
    }
    return (0 if rtts else 1), report
