"""A bare pjsua2 phone for the call-setup benchmark: nothing of tuiphone, only pjsua2 and numpy.

    python bench/bare_pjsua.py caller   # places calls when told to (the side tuiphone is measured against)
    python bench/bare_pjsua.py callee   # answers every call at once with 200 OK and plays a 440 Hz tone

Both read one JSON command per line on stdin and write one JSON reply per line on stdout; `call_setup.py`
drives them. The caller uses the same threading and media settings as tuiphone's engine (pjsua polled from
one thread, 16 kHz bridge, null sound device, G722 > PCMU > PCMA, no VAD, no echo canceller) and one
AudioMediaPort per call, so a difference in the numbers is the cost of the engine around pjsua2.
The module also holds the small protocol helpers the tuiphone worker in `call_setup.py` shares.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np
import pjsua2 as pj

# BARE_PJSUA_C_MEDIA=1 (bench/load.py --bare-c-media): the caller plays pjmedia's C tone too and reads no frame,
# and the bridge runs at 8 kHz (no resampling of G.711): pjsua2 with no Python at all per frame, its own ceiling
C_MEDIA = bool(os.environ.get("BARE_PJSUA_C_MEDIA"))
CLOCK_RATE = 8000 if C_MEDIA else 16000
FRAME_SAMPLES = 320                 # 20 ms at 16 kHz
TONE_HZ = 440.0
POLL_MS = 10                        # the same poll interval as tuiphone's SIP thread
CODECS = tuple(os.environ.get("BARE_PJSUA_CODECS", "G722,PCMU,PCMA").split(","))   # tuiphone's default order
# (bench/load.py sets PCMU first: G.711, as on trunks)


# ----- protocol helpers (shared with the tuiphone worker) -----------------------------------------------
def open_reply_channel() -> TextIO:
    """Keep a private copy of stdout for replies; fd 1 then goes to stderr, so pjlib's printf banner
    and console log can never end up inside a reply."""
    sys.stdout.flush()
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    return reply


def send(channel: TextIO, obj: dict[str, Any]) -> None:
    channel.write(json.dumps(obj) + "\n")
    channel.flush()


def command_queue() -> queue.SimpleQueue[dict[str, Any] | None]:
    """Commands read from stdin by a daemon thread (None = stdin closed), so the pjsua thread never blocks."""
    q: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()

    def read() -> None:
        for line in sys.stdin:
            if line.strip():
                q.put(json.loads(line))
        q.put(None)

    threading.Thread(target=read, name="commands", daemon=True).start()
    return q


def cpu_seconds() -> float:
    """User + system CPU time of this whole process (every thread, pjmedia's clock thread included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def tone_frames(freq_hz: float = TONE_HZ, level_dbfs: float = -12.0) -> list[bytes]:
    """One second of a sine as 20 ms frames of int16 bytes; 440 whole cycles, so it loops without a click."""
    t = np.arange(CLOCK_RATE, dtype=np.float64)
    pcm = np.rint(32767 * 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * freq_hz / CLOCK_RATE * t)).astype(np.int16)
    raw = pcm.tobytes()
    step = FRAME_SAMPLES * 2
    return [raw[i:i + step] for i in range(0, len(raw), step)]


# ----- the bare endpoint ----------------------------------------------------------------------------
class BarePort(pj.AudioMediaPort):
    """Sends a looped tone, reads every received frame into numpy, notes when the first audible one came."""

    def __init__(self, frames: list[bytes]):
        super().__init__()
        self.frames = frames
        self.next = 0
        self.first_audio: float | None = None

    def onFrameRequested(self, frame: Any) -> None:
        data = self.frames[self.next]
        self.next = (self.next + 1) % len(self.frames)
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = len(data)

    def onFrameReceived(self, frame: Any) -> None:
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO:
            return
        pcm = np.frombuffer(bytes(frame.buf), dtype=np.int16)
        if self.first_audio is None and pcm.any():
            self.first_audio = time.monotonic()


class BareCall(pj.Call):
    def __init__(self, app: BareEndpoint, acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.app = app
        self.port: BarePort | None = None
        self.media_at: float | None = None
        self.confirmed_at: float | None = None
        self.ended = False

    def onCallState(self, prm: Any) -> None:
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended = True       # dropped on the next loop turn: deleting a Call inside its callback is unsafe

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()      # kept in a name: iterating a temporary's vector reads freed memory
        for i, mi in enumerate(info.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.app.connect_audio(self, self.getAudioMedia(i))
                return

    @property
    def first_audio(self) -> float | None:
        if C_MEDIA:
            return self.media_at       # no frame is read: the media is up, pjmedia's tone flows
        return self.port.first_audio if self.port is not None else None


class BareAccount(pj.Account):
    def __init__(self, app: BareEndpoint):
        super().__init__()
        self.app = app

    def onIncomingCall(self, prm: Any) -> None:
        self.app.incoming(prm.callId)


class BareEndpoint:
    """One pjsua2 endpoint on 127.0.0.1, polled from the thread that created it (this process's main thread)."""

    def __init__(self, role: str):
        self.role = role
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 32
        cfg.logConfig.level = 1
        cfg.logConfig.consoleLevel = 1
        cfg.logConfig.msgLogging = 0
        cfg.medConfig.clockRate = CLOCK_RATE
        cfg.medConfig.sndClockRate = CLOCK_RATE
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        self.ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.port = 0
        tc.boundAddress = tc.publicAddress = "127.0.0.1"
        tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        self.address = self.ep.transportGetInfo(tid).localName
        self.ep.audDevManager().setNullDev()
        self.ep.libStart()
        for info in self.ep.codecEnum2():
            name = info.codecId.split("/", 1)[0].upper()
            self.ep.codecSetPriority(info.codecId, 250 - 10 * CODECS.index(name) if name in CODECS else 0)
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{role}@{self.address}"
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.port = 0      # any free RTP port, as tuiphone does
        self.acc = BareAccount(self)
        self.acc.create(acfg, True)
        self.calls: list[BareCall] = []
        self.frames = tone_frames()
        self.answered = 0
        self.tone: pj.ToneGenerator | None = None
        if role == "callee" or C_MEDIA:
            self.tone = pj.ToneGenerator()
            self.tone.createToneGenerator(CLOCK_RATE, 1)
            desc = pj.ToneDesc()
            desc.freq1 = desc.freq2 = int(TONE_HZ)
            desc.on_msec, desc.off_msec, desc.volume = 1000, 0, 0
            tones = pj.ToneDescVector()
            tones.append(desc)
            self.tone.play(tones, True)

    # --- callbacks (this thread) ---
    def incoming(self, call_id: int) -> None:
        call = BareCall(self, self.acc, call_id)
        self.calls.append(call)
        prm = pj.CallOpParam()
        prm.statusCode = 200
        call.answer(prm)
        self.answered += 1

    def connect_audio(self, call: BareCall, am: pj.AudioMedia) -> None:
        if self.tone is not None:          # the callee: a C tone generator, so its cost stays out of the way
            self.tone.startTransmit(am)
            call.media_at = call.media_at or time.monotonic()
            return
        if call.port is None:
            fmt = pj.MediaFormatAudio()
            fmt.type = pj.PJMEDIA_TYPE_AUDIO
            fmt.clockRate = CLOCK_RATE
            fmt.channelCount = 1
            fmt.bitsPerSample = 16
            fmt.frameTimeUsec = 20000
            call.port = BarePort(self.frames)
            call.port.createPort(f"bare{call.getId()}", fmt)
        call.port.startTransmit(am)
        am.startTransmit(call.port)

    # --- loop ---
    def poll(self) -> None:
        self.ep.libHandleEvents(POLL_MS)
        if any(c.ended for c in self.calls):
            self.calls = [c for c in self.calls if not c.ended]

    def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            self.poll()
        return True

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()

    def place(self, uri: str) -> BareCall:
        call = BareCall(self, self.acc)
        call.makeCall(uri, pj.CallOpParam(True))
        self.calls.append(call)
        return call

    def hangup_all(self, timeout: float = 5.0) -> bool:
        for call in self.calls:
            if not call.ended:
                call.hangup(pj.CallOpParam())
        return self.wait_until(lambda: not self.calls, timeout)

    def destroy(self) -> None:
        try:
            self.ep.hangupAllCalls()
        except pj.Error:
            pass
        self.wait_until(lambda: not self.calls, 2.0)
        self.calls.clear()
        self.tone = None
        self.acc.shutdown()
        self.acc = None  # type: ignore[assignment]
        gc.collect()     # every pjsua2 object must be gone before libDestroy, or pjlib asserts at exit
        self.ep.libDestroy()

    # --- commands ---
    def setup(self, uri: str, timeout: float) -> dict[str, Any]:
        """One call: place it, wait for 200 OK and the first audible frame, hang up."""
        t0 = time.monotonic()
        call = self.place(uri)
        ok = self.wait_until(lambda: call.first_audio is not None or call.ended, timeout)
        reply: dict[str, Any] = {"ok": ok and call.first_audio is not None, "answered": call.confirmed_at is not None,
                                 "media": call.port is not None}
        if reply["ok"]:
            reply["invite_to_200_ms"] = (call.confirmed_at - t0) * 1000  # type: ignore[operator]
            reply["invite_to_media_ms"] = (call.first_audio - t0) * 1000  # type: ignore[operator]
        reply["ended_cleanly"] = self.hangup_all()
        return reply

    def cpu(self, uri: str, calls: int, window: float, settle: float, timeout: float) -> dict[str, Any]:
        """CPU over `window` s with no calls, then with `calls` established calls, audio both ways."""
        self.run_for(settle)
        c0, w0 = cpu_seconds(), time.monotonic()
        self.run_for(window)
        idle_cpu, idle_wall = cpu_seconds() - c0, time.monotonic() - w0
        placed = [self.place(uri) for _ in range(calls)]
        flowing = self.wait_until(lambda: all(c.first_audio is not None or c.ended for c in placed), timeout)
        established = sum(c.first_audio is not None and not c.ended for c in placed)
        self.run_for(settle)
        c0, w0 = cpu_seconds(), time.monotonic()
        self.run_for(window)
        busy_cpu, busy_wall = cpu_seconds() - c0, time.monotonic() - w0
        still = sum(not c.ended for c in placed)
        loss, jitter = [], []       # what each call received, as pjmedia counted it (RTCP stats)
        for c in placed:
            try:
                st = c.getStreamStat(0).rtcp
                rx, lost = st.rxStat.pkt, st.rxStat.loss
                loss.append(100.0 * lost / (rx + lost) if rx + lost else 100.0)
                jitter.append(st.rxStat.jitterUsec.max / 1000.0)
            except pj.Error:
                loss.append(100.0)
        ended = self.hangup_all()
        return {"ok": flowing and established == calls and still == calls, "established": established,
                "idle_cpu_s": idle_cpu, "idle_wall_s": idle_wall, "busy_cpu_s": busy_cpu,
                "busy_wall_s": busy_wall, "ended_cleanly": ended, "max_loss_pct": max(loss, default=0.0),
                "max_jitter_ms": max(jitter, default=0.0)}


def serve(role: str) -> int:
    reply = open_reply_channel()
    app = BareEndpoint(role)
    commands = command_queue()
    send(reply, {"ready": True, "address": app.address})
    try:
        while True:
            try:
                cmd = commands.get_nowait()
            except queue.Empty:
                app.poll()
                continue
            if cmd is None or cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "setup":
                send(reply, app.setup(cmd["uri"], cmd["timeout"]))
            elif cmd["cmd"] == "cpu":
                send(reply, app.cpu(cmd["uri"], cmd["calls"], cmd["window"], cmd["settle"], cmd["timeout"]))
            elif cmd["cmd"] == "stats":
                send(reply, {"answered": app.answered, "calls": len(app.calls)})
            else:
                send(reply, {"ok": False, "error": f"unknown command {cmd['cmd']!r}"})
    finally:
        app.destroy()
    send(reply, {"bye": True})
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("caller", "callee"):
        print("usage: python bench/bare_pjsua.py caller|callee (driven by bench/call_setup.py)", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(sys.argv[1]))
