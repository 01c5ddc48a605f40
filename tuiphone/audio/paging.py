"""Multicast paging (seed 3.5): send a page to a group, listen to up to 10 groups by priority.

- `PagingSender` encodes 20 ms frames of a frame source (mic, file, tone) and sends them as RTP
  to a multicast group on its own thread, on an absolute clock.
- `PagingListener` joins the groups on one thread, plays one page at a time through a jitter
  buffer into a frame sink (16 kHz int16, 20 ms frames), and says when pages start and end.
  List order is priority (1 = highest); with `priority_active` a higher page replaces a lower
  one, otherwise the first page holds. A page ends after `silence_timeout` without packets.
- `barge_level` says whether a page may interrupt a SIP call (`paging.barge`).
"""

from __future__ import annotations

import logging
import math
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuiphone.audio import g711
from tuiphone.audio.frames import RATE, FrameSink, FrameSource
from tuiphone.audio.g722codec import G722Decoder, G722Encoder
from tuiphone.audio.jitter import JitterBuffer
from tuiphone.audio.rtp import (
    MAX_DATAGRAM,
    PTIME_MS,
    Packetizer,
    ReceptionStats,
    parse_packet,
)

__all__ = [
    "CODECS", "MAX_GROUPS", "Page", "PagingCodec", "PagingError", "PagingGroup", "PagingListener",
    "PagingSender", "barge_level", "check_groups", "groups_from_config", "parse_group", "used_ports",
]

log = logging.getLogger(__name__)

MAX_GROUPS = 10
DEFAULT_TTL = 1              # pages stay on the local network unless a router is meant to pass them
SILENCE_TIMEOUT = 1.0
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


class PagingError(ValueError):
    """A paging group, port or socket that cannot be used; `str()` is a sentence for the user."""


# ---------------------------------------------------------------- rate 2:1 for the 8 kHz codecs


def _halfband(taps: int = 63) -> np.ndarray:
    """Low-pass at a quarter of the rate (4 kHz at 16 kHz): Blackman-windowed sinc, unity DC gain."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(n / 2) * np.blackman(taps)
    return (h / h.sum()).astype(np.float32)


_HALFBAND = _halfband()


class _Downsample2x:
    """16 kHz to 8 kHz for even-length frames, filter state kept across frames."""

    def __init__(self) -> None:
        self._hist = np.zeros(len(_HALFBAND) - 1, dtype=np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate((self._hist, x.astype(np.float32)))
        self._hist = buf[len(buf) - len(self._hist) :]
        y = np.convolve(buf, _HALFBAND, "valid")[::2]
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


class _Upsample2x:
    """8 kHz to 16 kHz: zero-stuffed and filtered (gain 2 restores the level), state kept."""

    def __init__(self) -> None:
        self._hist = np.zeros(len(_HALFBAND) - 1, dtype=np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        up = np.zeros(2 * len(x), dtype=np.float32)
        up[::2] = x
        buf = np.concatenate((self._hist, up))
        self._hist = buf[len(buf) - len(self._hist) :]
        y = np.convolve(buf, 2.0 * _HALFBAND, "valid")
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------- codecs


@dataclass(frozen=True)
class PagingCodec:
    """A codec pages can use: its RTP payload type and how to make an encoder/decoder for it.

    All three run an 8 kHz RTP clock (G.722 too, RFC 3551), and every payload byte is one tick.
    """

    name: str
    payload_type: int
    clock_rate: int = 8000

    def encoder(self) -> Callable[[np.ndarray], bytes]:
        """A function from 16 kHz int16 frames to payloads, with its own state."""
        if self.name == "G722":
            return G722Encoder().encode
        down = _Downsample2x()
        encode = g711.ulaw_encode if self.name == "PCMU" else g711.alaw_encode
        return lambda pcm: encode(down.process(pcm)).tobytes()

    def decoder(self) -> Callable[[bytes], np.ndarray]:
        """A function from payloads to 16 kHz int16 samples, with its own state."""
        if self.name == "G722":
            return G722Decoder().decode
        up = _Upsample2x()
        decode = g711.ulaw_decode if self.name == "PCMU" else g711.alaw_decode
        return lambda payload: up.process(decode(payload))


CODECS = {c.name: c for c in (PagingCodec("PCMU", 0), PagingCodec("PCMA", 8), PagingCodec("G722", 9))}
CODEC_BY_PT = {c.payload_type: c for c in CODECS.values()}


def paging_codec(name: str) -> PagingCodec:
    """The codec called `name` (any case: pcmu, PCMA, g722), or a PagingError."""
    codec = CODECS.get(name.upper())
    if codec is None:
        raise PagingError(f"{name!r} is not a paging codec; choose PCMU, PCMA or G722")
    return codec


# ---------------------------------------------------------------- groups and validation


@dataclass(frozen=True)
class PagingGroup:
    """A multicast group to listen to; priority 1 is the highest."""

    address: str
    port: int
    label: str = ""
    priority: int = 1

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"

    def __str__(self) -> str:
        return f"{self.label} ({self.target})" if self.label else self.target


def parse_group(text: str) -> tuple[str, int]:
    """`addr:port` of a paging group in 224.0.1.0-238.255.255.255, or a PagingError naming it."""
    from tuiphone.config import parse_multicast

    try:
        return parse_multicast(text.strip())
    except ValueError as exc:
        raise PagingError(f"paging group {text!r} {exc}") from None


def used_ports(cfg: Any) -> dict[int, str]:
    """Ports the phone's SIP transports and CTI server take, by port: {5060: "sip.port", ...}."""
    from tuiphone.config import parse_listen_address

    used: dict[int, str] = {}
    if cfg.sip.port:
        used[cfg.sip.port] = "sip.port"
    if cfg.sip.tls.port and "tls" in cfg.sip.transports:
        used.setdefault(cfg.sip.tls.port, "sip.tls.port")
    if cfg.cti.enabled:
        used.setdefault(parse_listen_address(cfg.cti.listen)[1], "cti.listen")
    return used


def check_port(target: str, port: int, used: Mapping[int, str]) -> None:
    """Refuse a paging port that SIP, RTP or CTI already uses (`used` maps port -> who)."""
    if port in used:
        raise PagingError(f"paging group {target} uses port {port}, which {used[port]} already uses; "
                          "pick another port")


def check_groups(entries: Iterable[str | tuple[str, int] | tuple[str, int, str]],
                 used: Mapping[int, str] | None = None) -> list[PagingGroup]:
    """Groups from `addr:port` strings or (addr, port[, label]) tuples, in priority order.

    Each must be a paging multicast address, listed once, on a port nothing else uses; at most 10.
    """
    groups: list[PagingGroup] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            address, port, label = *parse_group(entry), ""
        else:
            address, port, label = entry[0], int(entry[1]), (entry[2] if len(entry) > 2 else "")
            address, port = parse_group(f"{address}:{port}")
        if index >= MAX_GROUPS:
            raise PagingError(f"a phone listens to at most {MAX_GROUPS} paging groups; "
                              f"remove {address}:{port} or another one")
        group = PagingGroup(address, port, label, priority=index + 1)
        if any(g.target == group.target for g in groups):
            raise PagingError(f"paging group {group.target} is listed twice; list each group once")
        check_port(group.target, port, used or {})
        groups.append(group)
    return groups


def groups_from_config(cfg: Any) -> list[PagingGroup]:
    """The `[[paging.listen]]` groups of a loaded config, in priority order."""
    return check_groups(((*parse_group(g.address), g.label) for g in cfg.paging.listen), used_ports(cfg))


def barge_level(priority: int, barge: int) -> bool:
    """Whether a page of `priority` interrupts a SIP call: `paging.barge` 0 = never, N = 1..N-1 do."""
    return barge > 0 and 1 <= priority < barge


# ---------------------------------------------------------------- sender

_own_ssrcs: set[int] = set()   # pages this process sends, which its listeners must not play


class PagingSender:
    """Sends `source` to a multicast group as RTP, one packet per `ptime` ms, on its own thread.

    The page ends after `duration` seconds, when a source with `finished` runs out, or on `stop()`.
    """

    def __init__(self, group: str, port: int, codec: str = "PCMU", *, source: FrameSource,
                 ttl: int = DEFAULT_TTL, interface: str = "", ptime: int = PTIME_MS,
                 duration: float | None = None):
        self.group, self.port = parse_group(f"{group}:{port}")
        self.codec = paging_codec(codec)
        if not 10 <= ptime <= 80 or ptime % 10:
            raise PagingError(f"ptime {ptime} ms is not one of 10, 20, ... 80")
        if not 1 <= ttl <= 255:
            raise PagingError(f"a multicast TTL is 1-255, not {ttl}")
        self.ttl, self.interface, self.ptime = ttl, interface, ptime
        self.duration = duration
        self._source = source
        self._packetizer = Packetizer(self.codec.payload_type)
        self._encode = self.codec.encoder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.error: str | None = None     # why sending stopped early, as a sentence
        self.seconds = 0.0                # audio sent so far

    @property
    def ssrc(self) -> int:
        return self._packetizer.ssrc

    @property
    def packets(self) -> int:
        return self._packetizer.sent

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the socket (a PagingError says why it cannot) and start sending."""
        self._sock = _sender_socket(self.interface, self.ttl)
        _own_ssrcs.add(self.ssrc)
        self._thread = threading.Thread(target=self._run, name=f"page-{self.group}:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the page now and wait for the thread."""
        self._stop.set()
        self.wait(2.0)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the page to end; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self) -> None:
        n = RATE * self.ptime // 1000
        ticks = self.codec.clock_rate * self.ptime // 1000
        step = self.ptime / 1000.0
        frames = None if self.duration is None else math.ceil(self.duration / step - 1e-9)
        sent = 0
        deadline = time.monotonic()
        try:
            while not self._stop.is_set() and (frames is None or sent < frames):
                if getattr(self._source, "finished", False):
                    break
                payload = self._encode(self._source.read(n))
                try:
                    self._sock.sendto(self._packetizer.packet(payload, ticks), (self.group, self.port))
                except OSError as exc:
                    self.error = (f"cannot send the page to {self.group}:{self.port}: {exc.strerror}; "
                                  "check the interface has a route for multicast")
                    break
                sent += 1
                self.seconds = sent * step
                deadline += step
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -0.2:         # fell far behind (machine suspended): no burst
                    deadline = time.monotonic()
        finally:
            _own_ssrcs.discard(self.ssrc)
            self._sock.close()


def _sender_socket(interface: str, ttl: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)   # listeners on this box hear it
        if interface:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
            sock.bind((interface, 0))
    except OSError as exc:
        sock.close()
        raise PagingError(f"cannot send pages from interface {interface or 'default'}: "
                          f"{exc.strerror or exc}; use an address of this machine") from None
    return sock


# ---------------------------------------------------------------- listener


@dataclass(frozen=True)
class Page:
    """A page being played: which group, which codec, and who sends it (RTP SSRC, ip:port)."""

    group: PagingGroup
    codec: str
    ssrc: int
    sender: str


@dataclass
class GroupStats:
    """What arrived on one group (the listener thread writes; anyone may read)."""

    packets: int = 0          # valid RTP packets, whether played or not
    lost: int = 0             # by sequence numbers, per sender
    bad: int = 0              # datagrams that were not RTP, or of a payload type we cannot play
    late: int = 0             # came after their time in the jitter buffer
    waiting: int = 0          # packets of pages held back by a page of higher or equal rank
    pages: int = 0
    codec: str = ""           # of the last page played
    _senders: dict[int, ReceptionStats] = field(default_factory=dict, repr=False)

    def count(self, ssrc: int, sequence: int) -> None:
        stats = self._senders.get(ssrc)
        if stats is None:
            if len(self._senders) >= 16:   # spoofed SSRCs must not grow this without bound
                self._senders.pop(next(iter(self._senders)))
            stats = self._senders[ssrc] = ReceptionStats()
        before = stats.lost
        stats.add(sequence)
        self.packets += 1
        self.lost += stats.lost - before


@dataclass
class _Playing:
    page: Page
    index: int
    jitter: JitterBuffer
    last_packet: float


PageCallback = Callable[[Page], None]
PageEndCallback = Callable[[Page, str], None]


class PagingListener:
    """Joins up to 10 groups and plays one page at a time into `sink` (20 ms, 16 kHz int16 frames).

    `groups` are (addr, port, label) tuples, `addr:port` strings or PagingGroups, in priority order.
    `may_start(group)` (optional) is asked before a page starts; False keeps it waiting (a call in
    progress that the page may not barge into). Callbacks run on the listener's thread: keep them
    short. `on_page_end` gets the reason: "silence", "ended" (end_page), "replaced" or "stopped".
    """

    def __init__(self, groups: Sequence[Any], *, priority_active: bool = True,
                 on_page_start: PageCallback | None = None, on_page_end: PageEndCallback | None = None,
                 sink: FrameSink | None = None, interface: str = "",
                 may_start: Callable[[PagingGroup], bool] | None = None,
                 silence_timeout: float = SILENCE_TIMEOUT, jitter_ms: int = 60, ignore_own: bool = True,
                 used: Mapping[int, str] | None = None):
        self.groups = check_groups(
            [(g.address, g.port, g.label) if isinstance(g, PagingGroup) else g for g in groups], used)
        if not self.groups:
            raise PagingError("give at least one paging group to listen to")
        self.priority_active = priority_active
        self.on_page_start, self.on_page_end = on_page_start, on_page_end
        self.sink, self.interface, self.may_start = sink, interface, may_start
        self.silence_timeout, self.jitter_ms, self.ignore_own = silence_timeout, jitter_ms, ignore_own
        self.stats = [GroupStats() for _ in self.groups]
        self.seconds_played = 0.0         # page audio that arrived and was played
        self._energy = 0.0               # sum of squares of what was played, for the level
        self._playing: _Playing | None = None
        self._dismissed: dict[tuple[int, int], float] = {}   # (group, ssrc) ended by the user
        self._socks: list[socket.socket] = []
        self._selector: selectors.BaseSelector | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._end_requested = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._sink_failed = False

    # ------------------------------------------------------------ control (any thread)

    @property
    def active(self) -> Page | None:
        """The page being played, if any."""
        playing = self._playing
        return playing.page if playing else None

    @property
    def level_dbfs(self) -> float:
        """RMS level of the page audio played (concealment left out), in dBFS: a full-scale sine is 0."""
        n = self.seconds_played * RATE
        if n <= 0 or self._energy <= 0:
            return -120.0
        return max(-120.0, 10.0 * math.log10(self._energy / n / (32768.0**2) * 2.0))

    def start(self) -> None:
        """Join every group (a PagingError says which cannot be joined) and start listening."""
        self._selector = selectors.DefaultSelector()
        try:
            for index, group in enumerate(self.groups):
                sock = _listener_socket(group, self.interface)
                self._socks.append(sock)
                self._selector.register(sock, selectors.EVENT_READ, index)
        except PagingError:
            self._close()
            raise
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, -1)
        self._thread = threading.Thread(target=self._run, name="paging-listener", daemon=True)
        self._thread.start()

    def end_page(self) -> None:
        """Stop playing the current page; it does not come back until its sender pauses."""
        self._end_requested = True
        self._wake()

    def stop(self) -> None:
        """Leave the groups and end the thread (a playing page ends with reason "stopped")."""
        self._stopping = True
        self._wake()
        if self._thread is threading.current_thread():
            return                      # called from a callback: the loop ends when it returns
        if self._thread is not None:
            self._thread.join(2.0)
        else:
            self._close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass   # already closed, or the wake-up pipe is full: the thread is awake anyway

    # ------------------------------------------------------------ the listener thread

    def _run(self) -> None:
        step = PTIME_MS / 1000.0
        next_tick = time.monotonic() + step
        try:
            while not self._stopping:
                now = time.monotonic()
                timeout = max(0.0, next_tick - now) if self._playing else 0.25
                for key, _ in self._selector.select(timeout):
                    if key.data < 0:
                        self._drain_wake()
                    else:
                        self._receive(key.fileobj, key.data)
                if self._end_requested:
                    self._end_requested = False
                    self._dismiss_current()
                now = time.monotonic()
                if self._playing is None:
                    next_tick = now + step
                    self._forget_dismissed(now)
                    continue
                if now >= next_tick:
                    self._tick(now)
                    next_tick += step
                    if now - next_tick > 0.2:          # the thread was starved: skip, do not burst
                        next_tick = now + step
        except Exception:
            log.exception("paging listener stopped")
        finally:
            if self._playing is not None:
                self._finish_page("stopped")
            self._close()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(64):
                pass
        except OSError:
            pass   # nothing more to read

    def _receive(self, sock: socket.socket, index: int) -> None:
        for _ in range(64):    # a flood on one group must not starve the others or the clock
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.stats[index].bad += 1
                return
            self._packet(index, data, addr)

    def _packet(self, index: int, data: bytes, addr: tuple[str, int]) -> None:
        stats = self.stats[index]
        pkt = parse_packet(data)
        if pkt is None or pkt.payload_type not in CODEC_BY_PT or not pkt.payload:
            stats.bad += 1
            return
        if self.ignore_own and pkt.ssrc in _own_ssrcs:
            return
        stats.count(pkt.ssrc, pkt.sequence)
        now = time.monotonic()
        playing = self._playing
        if playing is not None and playing.index == index and playing.page.ssrc == pkt.ssrc:
            playing.last_packet = now
            playing.jitter.put(pkt.timestamp, pkt.payload)
            return
        if (index, pkt.ssrc) in self._dismissed:
            self._dismissed[(index, pkt.ssrc)] = now
            return
        outranks = playing is not None and self.priority_active and index < playing.index
        if playing is not None and not outranks:
            stats.waiting += 1
            return
        group = self.groups[index]
        if self.may_start is not None and not self._ask(group):
            stats.waiting += 1
            return
        if playing is not None:
            self._finish_page("replaced")
        self._begin_page(index, pkt, addr, now)

    def _ask(self, group: PagingGroup) -> bool:
        try:
            return bool(self.may_start(group))
        except Exception:
            log.exception("may_start failed for page on %s; not playing it", group)
            return False

    def _begin_page(self, index: int, pkt: Any, addr: tuple[str, int], now: float) -> None:
        codec = CODEC_BY_PT[pkt.payload_type]
        jitter = JitterBuffer(codec.decoder(), out_per_tick=RATE // codec.clock_rate,
                              frame=RATE * PTIME_MS // 1000, rate=RATE, target_ms=self.jitter_ms)
        jitter.put(pkt.timestamp, pkt.payload)
        page = Page(self.groups[index], codec.name, pkt.ssrc, f"{addr[0]}:{addr[1]}")
        self._playing = _Playing(page, index, jitter, now)
        self.stats[index].pages += 1
        self.stats[index].codec = codec.name
        self._call(self.on_page_start, page)

    def _tick(self, now: float) -> None:
        playing = self._playing
        if now - playing.last_packet > self.silence_timeout:
            self._finish_page("silence")
            return
        frame = playing.jitter.pop()
        if frame is None or playing.jitter.last_kind == "silence":
            return   # still filling, or the sender paused: the sink's own underrun is silence
        if playing.jitter.last_kind == "audio":
            self.seconds_played += len(frame) / RATE
            f = frame.astype(np.float64)
            self._energy += float(np.dot(f, f))
        if self.sink is not None and not self._sink_failed:
            try:
                self.sink.write(frame)
            except Exception:
                self._sink_failed = True    # one broken sink must not stop the listener
                log.exception("paging sink failed; pages go on without sound")

    def _dismiss_current(self) -> None:
        playing = self._playing
        if playing is not None:
            self._dismissed[(playing.index, playing.page.ssrc)] = time.monotonic()
            self._finish_page("ended")

    def _forget_dismissed(self, now: float) -> None:
        for key, seen in list(self._dismissed.items()):
            if now - seen > self.silence_timeout:
                del self._dismissed[key]

    def _finish_page(self, reason: str) -> None:
        playing, self._playing = self._playing, None
        self.stats[playing.index].late += playing.jitter.late
        self._call(self.on_page_end, playing.page, reason)

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("paging callback %r failed", callback)

    def _close(self) -> None:
        if self._selector is not None:
            self._selector.close()
        for sock in self._socks:
            sock.close()
        self._socks = []
        self._wake_r.close()
        self._wake_w.close()


def _listener_socket(group: PagingGroup, interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # other listeners on this box
        sock.bind((group.address, group.port))                       # this group's packets only
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        mreq = socket.inet_aton(group.address) + socket.inet_aton(interface or "0.0.0.0")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        where = f" on interface {interface}" if interface else ""
        raise PagingError(f"cannot join paging group {group}{where}: {exc.strerror or exc}; check the "
                          "interface address and that it has multicast and a route for 224.0.0.0/4") from None
    return sock
