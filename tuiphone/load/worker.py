"""One load worker: its own pjsua endpoint (this wheel holds 4 calls per process), placing or answering the
calls the parent gives it, and one JSON line per finished call back to the parent.

    python -m tuiphone.load.worker      # first stdin line: the spec (role "uac" or "uas"); then commands

Calls go straight to the PjsuaBackend with this module's own listener: no Phone, so no line model (no hold
of the other calls), no history rows, no Action URLs (with --with-services the parent writes and sends them
from this worker's `call` lines: load/services.py). Everything per call runs on the SIP thread (timers
of the backend); the main thread only reads commands. Role "reg" takes no call: it holds the registration of
the answering side's account, its Contact the front's address (load/run.py run_answer). A call's audio is
pjmedia's alone (a looped WAV player, or the call's own audio back for --echo, and a WAV recorder of what it
hears): no Python runs per frame; once a second the worker reads what the recorder wrote into the call's
analyser (tuiphone/load/media.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from tuiphone.engine.backend import AccountSettings, CallMedia, PortMedia, TransportSettings
from tuiphone.load.media import BlockAnalyser, LoopedTone, WavTail, bridge_rate, tone_verdict, write_loop
from tuiphone.load.record import classify

QUALITY_EVERY_S = 1.0
DTMF_AFTER_S = 0.5
RETRY_FOR_S = 2.0             # a call refused for want of a free slot is retried this long
REGISTER_WAIT_S = 10.0        # the first registration's answer
REREGISTER_S = 5.0            # a refresh that failed is tried again after this (the registering worker)
UNREGISTER_WAIT_S = 3.0       # at the end: how long the un-REGISTER may take
FLUSH_S = 0.06                # after a call ends: pjmedia writes out the rest of what it heard (up to 0.25 s
                              # of audio in its recorder's buffer) on the bridge's next tick, then it is read
ROTATE_S = 20.0               # a call's file of what it heard (not a recording) is replaced this often: its
                              # memory (tmpfs) stays flat on long calls


def _scratch_dir() -> str:
    """A folder of the worker's own for its WAV files: in memory (/dev/shm) when there is one."""
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="tuiphone-load-", dir=base)


@dataclass
class _Call:
    n: int                          # the parent's number for the call (uac) or the worker's (uas)
    cid: int = -1
    t0: float = field(default_factory=time.monotonic)     # the INVITE (uac) or its arrival (uas)
    queued: float = field(default_factory=time.monotonic)
    pdd_ms: float | None = None
    setup_ms: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    status: int = 0
    reason: str = ""
    codec: str = ""
    quality: Any = None
    dtmf: list[str] = field(default_factory=list)
    analyser: BlockAnalyser = field(default_factory=BlockAnalyser)
    media: CallMedia | None = None
    tail: WavTail | None = None     # what pjmedia wrote of what the call heard, read once a second
    recording: str = ""             # NAME-N.wav (--record)
    heard_since: float = 0.0        # when the file being written now was started
    timed_out: bool = False
    cut: bool = False               # still up when the run was stopped
    remote: str = ""
    rejected: bool = False          # refused on purpose (uas: reject_pct)
    call_id: str = ""               # the SIP Call-ID (told to the parent with --with-services)


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class LoadWorker:
    """The BackendListener of one worker process; sends records through `out`."""

    def __init__(self, spec: dict[str, Any], out: TextIO):
        from tuiphone.engine.sip import PjsuaBackend

        self.spec = spec
        self.role = spec["role"]
        self._out = out
        self._out_lock = threading.Lock()
        self.calls: dict[int, _Call] = {}         # by pjsua call id
        self.up = 0
        self.finishing = 0                        # ended calls whose record waits for the rest of their audio
        self._seen = 0
        self._stopping = False
        self._reg = threading.Event()               # registered (a 2xx)
        self._reg_answered = threading.Event()      # the first REGISTER had its final answer
        self._reg_status = 0
        self._reg_reason = ""
        self._unregistering = False
        self._unreg = threading.Event()
        self.registrations = 0                      # 2xx answers to REGISTER (the first and the refreshes)
        self._heard_files = 0
        codecs = tuple(spec.get("codecs") or ("PCMU", "PCMA", "G722"))
        self.rate = rate = bridge_rate(codecs)           # of the bridge, the WAV files, the analysis
        self.scratch = _scratch_dir()
        self._play = ""                                  # the WAV file pjmedia loops to every call
        if spec.get("echo"):
            pass
        elif spec.get("play"):
            from tuiphone.audio.wav import read_wav
            self._play = write_loop(os.path.join(self.scratch, "play.wav"), read_wav(spec["play"], rate), rate)
        elif spec.get("tone"):
            self._play = write_loop(os.path.join(self.scratch, "tone.wav"),
                                    LoopedTone(float(spec["tone"]), rate=rate).loop(), rate)
        else:
            import numpy as np
            self._play = write_loop(os.path.join(self.scratch, "silence.wav"), np.zeros(rate, dtype=np.int16), rate)
        self.backend = PjsuaBackend(self)
        try:
            self.backend.start(TransportSettings(bind_address=spec.get("bind") or "127.0.0.1",
                                                 port=spec.get("port", 0), transports=("udp",), codecs=codecs,
                                                 clock_rate=rate, offer_srtp=self.role != "uac",
                                                 sip_messages=False))
        except BaseException:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        self.account: int | None = None
        try:
            if spec.get("account"):
                self._set_account(spec["account"])
        except BaseException:
            self.backend.stop()
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise

    def _set_account(self, account: dict[str, Any]) -> None:
        acc = AccountSettings(**self._account_fields(account))
        self.account = acc.index
        self.backend.submit(lambda: self.backend.set_account(acc)).result(10)
        if acc.register and acc.registrar:
            self._reg_answered.wait(REGISTER_WAIT_S)
            if self.role == "reg" and not self._reg.is_set():
                why = f"{self._reg_status} {self._reg_reason}".strip() if self._reg_answered.is_set() else \
                    f"no answer within {REGISTER_WAIT_S:g} s"
                raise RuntimeError(f"account {acc.index + 1} could not register at {acc.registrar}: {why}")

    def _account_fields(self, account: dict[str, Any]) -> dict[str, Any]:
        """The account's settings; `contact_port` (the registering worker behind the answering side's front)
        becomes a forced Contact on this worker's own host and that port, so the registrar sends every INVITE
        to the front."""
        fields = dict(account)
        port = fields.pop("contact_port", None)
        if port:
            host = self.backend.local_address().rsplit(":", 1)[0]
            fields["contact"] = f"<sip:{fields['user_id']}@{host}:{port}>"
        return fields

    # ----- output --------------------------------------------------------------------------------
    def send(self, obj: dict[str, Any]) -> None:
        with self._out_lock:
            try:
                self._out.write(json.dumps(obj) + "\n")
                self._out.flush()
            except (BrokenPipeError, ValueError):
                pass

    # ----- media ---------------------------------------------------------------------------------
    def _media(self, call: _Call) -> CallMedia:
        """pjmedia's ports for the call: the worker's loop (or an echo) out, a WAV file of what it hears."""
        if self.spec.get("record"):
            path = str(self._record_path())
            call.recording = path
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            path = self._heard_path()
        call.tail = WavTail(path, temporary=not call.recording)
        call.analyser = BlockAnalyser(rate=self.rate)
        call.heard_since = time.monotonic()
        call.media = CallMedia(ports=PortMedia(play=self._play, echo=bool(self.spec.get("echo")), record=path))
        return call.media

    def _heard_path(self) -> str:
        self._heard_files += 1
        return os.path.join(self.scratch, f"heard-{self._heard_files}.wav")

    def _hear(self, call: _Call) -> None:
        """What the call heard since the last time, into its analyser (SIP thread, once a second)."""
        if call.tail is None:
            return
        samples = call.tail.read()
        if len(samples):
            call.analyser.write(samples)
        if (call.tail.temporary and call.media is not None and call.media.ports is not None
                and call.ended_at is None and time.monotonic() - call.heard_since >= ROTATE_S):
            path = self._heard_path()
            call.tail.switch(path)
            call.heard_since = time.monotonic()
            call.media = CallMedia(ports=replace(call.media.ports, record=path))
            try:
                self.backend.set_media(call.cid, call.media)
            except ValueError:
                pass                  # the call has just ended

    def _record_path(self) -> Path:
        """NAME-N.wav with N counted over every worker of the run (a counter file under a lock)."""
        base = Path(self.spec["record"])
        counter = self.spec["counter_file"]
        fd = os.open(counter, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            n = int(os.read(fd, 32) or b"0") + 1
            os.lseek(fd, 0, 0)
            os.ftruncate(fd, 0)
            os.write(fd, str(n).encode())
        finally:
            os.close(fd)
        return base.with_name(f"{base.stem}-{n}.wav")

    # ----- commands (main thread -> SIP thread) ----------------------------------------------------
    def place(self, n: int) -> None:
        self.backend.submit(lambda: self._place(n))

    def _place(self, n: int, call: _Call | None = None, media: CallMedia | None = None) -> None:
        if call is None:
            call = _Call(n=n)
            media = self._media(call)
        if self._stopping:
            self._finish(call)
            return
        try:
            call.t0 = time.monotonic()
            call.cid = self.backend.make_call(self.account, self.spec["uri"], {}, media)  # type: ignore[arg-type]
        except ValueError as exc:
            # the slot of a call that just ended is freed a moment later (pjsua, the socket budget): retry
            if time.monotonic() - call.queued < RETRY_FOR_S and ("TOOMANY" in str(exc) or "sockets" in str(exc)):
                self.backend.schedule(0.05, lambda: self._place(n, call, media))
                return
            call.reason, call.ended_at = str(exc), time.monotonic()
            self._finish(call)
            return
        self.calls[call.cid] = call
        self.up += 1
        cid = call.cid
        self.backend.schedule(self.spec.get("timeout", 30.0), lambda: self._answer_timeout(cid, call))

    def _answer_timeout(self, cid: int, call: _Call) -> None:
        if self.calls.get(cid) is call and call.answered_at is None:
            call.timed_out = True
            self.backend.hangup(cid)

    def stop_all(self) -> None:
        """Hang up (or decline) every call; their records follow as they end."""
        def stop() -> None:
            self._stopping = True
            for cid, call in list(self.calls.items()):
                call.cut = True
                self._sample(call)
                self.backend.hangup(cid, 0 if call.answered_at is not None or self.role == "uac" else 486)
        self.backend.submit(stop).result(10)

    # ----- per call, on the SIP thread -----------------------------------------------------------
    def _sample(self, call: _Call) -> None:
        if call.answered_at is None or call.ended_at is not None:
            return
        try:
            call.quality = self.backend.quality(call.cid)
        except ValueError:
            pass

    def _tick(self, cid: int, call: _Call) -> None:
        if self.calls.get(cid) is not call:
            return
        self._sample(call)
        self._hear(call)
        self.backend.schedule(QUALITY_EVERY_S, lambda: self._tick(cid, call))

    def _end(self, cid: int, call: _Call) -> None:
        if self.calls.get(cid) is call:
            self._sample(call)
            self.backend.hangup(cid)

    def _talking(self, cid: int, call: _Call) -> None:
        now = time.monotonic()
        call.answered_at = now
        call.setup_ms = (now - call.t0) * 1000
        self.backend.schedule(QUALITY_EVERY_S, lambda: self._tick(cid, call))
        duration = self.spec.get("duration")
        if duration is not None:
            self.backend.schedule(duration, lambda: self._end(cid, call))
        digits = self.spec.get("dtmf")
        if digits:
            def dtmf() -> None:
                if self.calls.get(cid) is call:
                    try:
                        self.backend.send_dtmf(cid, digits, "rfc2833")
                    except Exception:       # the call ended meanwhile (pjsua2's own error)
                        pass
            self.backend.schedule(DTMF_AFTER_S, dtmf)

    def _finish(self, call: _Call) -> None:
        """Report the call once what it heard is all read: right away when nothing was recorded, else after
        its recorder (gone with the call) has written out its buffer."""
        if call.tail is None or call.answered_at is None:
            self._report(call)
            return
        self.finishing += 1

        def report() -> None:
            self.finishing -= 1
            self._report(call)
        self.backend.schedule(FLUSH_S, report)

    def _report(self, call: _Call) -> None:
        if call.tail is not None:
            self._hear(call)
            call.tail.close()
        self.send({"record": self.record(call)})

    def record(self, call: _Call) -> dict[str, Any]:
        spec = self.spec
        answered = call.answered_at is not None
        end = call.ended_at or time.monotonic()
        q = call.quality
        heard = call.analyser.result()
        rec: dict[str, Any] = {
            "n": call.n, "worker": spec.get("index", 0),
            "result": classify(call.status, answered, call.timed_out), "sip_status": call.status,
            "reason": call.reason, "pdd_ms": None if call.pdd_ms is None else round(call.pdd_ms, 1),
            "setup_ms": None if call.setup_ms is None else round(call.setup_ms, 1),
            "talk_s": round(end - call.answered_at, 2) if call.answered_at is not None else 0.0,
            "codec": (q.codec if q else "") or call.codec,
            "mos": round(q.mos, 2) if q else None, "loss_pct": round(q.rx_loss_pct, 2) if q else None,
            "jitter_ms": round(q.jitter_ms, 2) if q else None, "rtt_ms": round(q.rtt_ms, 2) if q else None,
            "rx_packets": q.rx_packets if q else 0, "tx_packets": q.tx_packets if q else 0,
            **heard.to_json(), "dtmf_received": "".join(call.dtmf),
        }
        if self.role == "uas":
            rec["remote_uri"] = call.remote
            rec["rejected_by_us"] = call.rejected
            if call.recording:
                rec["recording"] = call.recording
        failures: list[str] = []
        if call.cut:
            failures.append("interrupted")
        if not answered and call.timed_out:
            failures.append(f"no answer within {spec.get('timeout', 30.0):g} s")
        elif not answered and not call.rejected:
            failures.append(f"not answered: {call.status or ''} {call.reason}".strip())
        else:
            if spec.get("expect_tone"):
                why = tone_verdict(heard, float(spec["expect_tone"]))
                if why:
                    failures.append(why)
            if spec.get("expect_echo"):
                why = tone_verdict(heard, float(spec.get("tone") or 0), "echo")
                if why:
                    failures.append(why)
            if spec.get("expect_dtmf") is not None and spec["expect_dtmf"] not in rec["dtmf_received"]:
                failures.append(f"DTMF lost: received '{rec['dtmf_received']}', expected '{spec['expect_dtmf']}'")
            if spec.get("min_mos") is not None and (rec["mos"] or 0.0) < spec["min_mos"]:
                failures.append(f"MOS {rec['mos']} below {spec['min_mos']}")
        rec["passed"] = not failures
        rec["failure"] = "; ".join(failures)
        return rec

    def _told_start(self, call: _Call, uri: str, name: str, number: str, source: str) -> None:
        """--with-services: the parent writes the call's history row and sends its Action URLs."""
        if self.spec.get("services"):
            self.send({"call": "start", "n": call.n, "uri": uri, "name": name, "number": number, "source": source,
                       "call_id": call.call_id, "started": time.time()})

    # ----- BackendListener (SIP thread) ------------------------------------------------------------
    def on_reg_state(self, account: int, sip_status: int, reason: str, expires: int) -> None:
        self._reg_status, self._reg_reason = sip_status, reason
        if self._unregistering:
            self._unreg.set()
            return
        if 200 <= sip_status < 300:
            self._reg.set()
            self.registrations += 1
        elif self.role == "reg" and self._reg.is_set() and not self._stopping:
            # a refresh failed (pjsua does not retry: retryIntervalSec 0): try again, the run goes on
            self.backend.schedule(REREGISTER_S, lambda: None if self._stopping else
                                  self.backend.register(account, True))
        self._reg_answered.set()
        if self.role == "reg":
            self.send({"registration": {"status": sip_status, "reason": reason, "expires": expires}})

    def unregister(self) -> bool | None:
        """Remove our registration (an un-REGISTER, waited for): True when the registrar took it, None when
        there was none."""
        if self.account is None or not self._reg.is_set():
            return None

        def unreg() -> None:
            self._unregistering = True
            self.backend.register(self.account, False)    # type: ignore[arg-type]
        self.backend.submit(unreg).result(5)
        return self._unreg.wait(UNREGISTER_WAIT_S) and 200 <= self._reg_status < 300

    def on_incoming_call(self, cid: int, account: int | None, info: Any) -> None:
        if self.role != "uas" or self._stopping:
            self.backend.answer(cid, 486)
            return
        self._seen += 1
        call = _Call(n=self._seen, cid=cid, remote=info.remote_uri, call_id=info.call_id)
        self.calls[cid] = call
        self.up += 1
        self._told_start(call, info.remote_uri, info.remote_name, info.remote_number, info.source)
        pct = self.spec.get("reject_pct", 0)
        if pct and (self._seen * pct) // 100 != ((self._seen - 1) * pct) // 100:
            call.status, call.rejected = 486, True
            self.backend.answer(cid, 486)
            self.send({"up": self.up})
            return
        self.send({"up": self.up})
        self.backend.answer(cid, 180)
        media = self._media(call)
        ring = self.spec.get("ring", 0.0)

        def pick_up() -> None:
            if self.calls.get(cid) is call:
                try:
                    self.backend.answer(cid, 200, media)
                except ValueError:
                    pass
        self.backend.schedule(ring, pick_up)

    def on_call_state(self, cid: int, state: str, sip_status: int, reason: str, call_id: str = "") -> None:
        call = self.calls.get(cid)
        if call is None:
            return
        if sip_status:
            call.status = sip_status
            call.reason = reason
        if not call.call_id and self.role == "uac":
            call.call_id = call_id
            self._told_start(call, self.spec["uri"], "", "", "")
        if state == "early" and call.pdd_ms is None and self.role == "uac":
            call.pdd_ms = (time.monotonic() - call.t0) * 1000
        elif state == "confirmed" and call.answered_at is None:
            self._talking(cid, call)
            if self.role == "uac":
                self.send({"talking": 1})
            if self.spec.get("services"):
                self.send({"call": "up", "n": call.n})
        elif state == "disconnected":
            call.ended_at = time.monotonic()
            del self.calls[cid]
            self.up -= 1
            self._finish(call)
            if self.role == "uas":
                self.send({"up": self.up})

    def on_media_state(self, cid: int, active: bool, remote_hold: bool, codec: str) -> None:
        call = self.calls.get(cid)
        if call is not None and codec:
            call.codec = codec

    def on_dtmf(self, cid: int, digit: str, method: str) -> None:
        call = self.calls.get(cid)
        if call is not None:
            call.dtmf.append(digit)

    def __getattr__(self, name: str) -> Any:      # the rest of BackendListener: nothing to do under load
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def serve() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # the parent handles Ctrl-C and tells us to stop
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", buffering=1)         # pjlib's own prints go to stderr, never the pipe
    os.dup2(2, 1)
    spec = json.loads(sys.stdin.readline())
    try:
        worker = LoadWorker(spec, out)
    except Exception as exc:                             # the port is taken, the account is refused...
        out.write(json.dumps({"error": str(exc) or type(exc).__name__}) + "\n")
        out.flush()
        return 1
    worker.send({"ready": True, "address": worker.backend.local_address(), "max_calls": worker.backend.max_calls(),
                 "scratch": worker.scratch,
                 "registered": worker._reg.is_set(), "reg_status": worker._reg_status})
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd["cmd"] == "call":
                worker.place(cmd["n"])
            elif cmd["cmd"] == "stop":
                worker.stop_all()
                break
    finally:
        worker.stop_all()
        deadline = time.monotonic() + 3.0
        while (worker.up > 0 or worker.finishing > 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        unregistered = worker.unregister()
        cpu = _cpu_s()
        worker.backend.stop()
        shutil.rmtree(worker.scratch, ignore_errors=True)
        from tuiphone.engine.sip.load_media import frame_ports_made
        worker.send({"bye": True, "cpu_s": round(cpu, 3), "left": worker.up, "unregistered": unregistered,
                     "registrations": worker.registrations, "frame_ports": frame_ports_made()})
    return 0


if __name__ == "__main__":
    sys.exit(serve())
