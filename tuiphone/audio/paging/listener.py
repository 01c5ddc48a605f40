"""PagingListener: joins up to 10 groups on one thread and plays one page at a time, by priority.

Pages go through a jitter buffer into a frame sink (16 kHz int16, 20 ms frames), and the listener
says when pages start and end. List order is priority (1 = highest); with `priority_active` a higher
page replaces a lower one, otherwise the first page holds. A page ends after `silence_timeout`
without packets.
"""

from __future__ import annotations

import logging
import math
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from tuiphone.audio.frames import RATE, FrameSink
from tuiphone.audio.jitter import JitterBuffer
from tuiphone.audio.paging.codec import CODEC_BY_PT
from tuiphone.audio.paging.groups import PagingError, PagingGroup, check_groups
from tuiphone.audio.paging.sender import _own_ssrcs
from tuiphone.audio.rtp import MAX_DATAGRAM, PTIME_MS, ReceptionStats, parse_packet

log = logging.getLogger("tuiphone.audio.paging")   # the name it had as one module, as the logs show it

SILENCE_TIMEOUT = 1.0
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


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
        selector = self._selector
        assert selector is not None        # start() makes it before the thread runs
        step = PTIME_MS / 1000.0
        next_tick = time.monotonic() + step
        try:
            while not self._stopping:
                now = time.monotonic()
                timeout = max(0.0, next_tick - now) if self._playing else 0.25
                for key, _ in selector.select(timeout):
                    if key.data < 0:
                        self._drain_wake()
                    else:
                        self._receive(cast(socket.socket, key.fileobj), key.data)   # only sockets are registered
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
        may_start = self.may_start
        assert may_start is not None       # _packet asks only when there is one
        try:
            return bool(may_start(group))
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
        assert playing is not None         # _run ticks only while a page plays
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
        assert playing is not None         # callers finish only a playing page
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
