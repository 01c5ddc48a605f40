"""Dead media ends calls: a talking call whose far end sends no RTP and no RTCP for `features.rtp_timeout`
seconds is hung up (a caller that crashed or lost its network never sends BYE).

Cheap by design: every CHECK_MAX_S (less for short timeouts) the SIP thread reads one counter per call
from the stack (`backend.rx_activity`: RTP packets received plus RTCP reports received) and notes when it
last moved. Only calls the user talks on count; a call on hold, either way, sends nothing by agreement
and is never ended for it. The beat runs only while some call is talking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from tuiphone.engine.backend import SipBackend
from tuiphone.engine.events import CallState, Event, LineState

log = logging.getLogger(__name__)

CHECK_MAX_S = 2.0
CHECK_MIN_S = 0.5


def check_every(timeout: float) -> float:
    """Seconds between checks: a third of the timeout, within CHECK_MIN_S..CHECK_MAX_S, so a call is
    ended at most that long after its timeout."""
    return max(CHECK_MIN_S, min(CHECK_MAX_S, timeout / 3))


DEAD_MEDIA = "no RTP for "


def dead_media_reason(timeout: float) -> str:
    """The reason a call ended for dead media gets, on screen and in history: "no RTP for 30 s"."""
    return f"{DEAD_MEDIA}{timeout:g} s"


def ended_for_dead_media(reason: str) -> bool:
    return reason.startswith(DEAD_MEDIA)


class MediaWatch:
    """Subscribe `on_event` to the phone's events. `calls()` gives (call id, line) of every call that should
    be receiving media now (talking, not held by either side); `timeout()` the seconds allowed without any
    (0 = off); `on_dead(cid, line, timeout)` ends a call. Everything runs on the SIP thread."""

    def __init__(self, backend: SipBackend, calls: Callable[[], Iterable[tuple[int, int]]],
                 timeout: Callable[[], float], on_dead: Callable[[int, int, float], None],
                 clock: Callable[[], float] | None = None) -> None:
        self.backend = backend
        self.calls = calls
        self.timeout = timeout
        self.on_dead = on_dead
        self.clock: Callable[[], float] = clock if clock is not None else getattr(backend, "monotonic", time.monotonic)
        self._seen: dict[int, tuple[int, float]] = {}     # cid -> (activity count, when it last moved)
        self._timer: object | None = None

    def on_event(self, event: Event) -> None:
        if (isinstance(event, CallState) and event.state == LineState.TALKING and self._timer is None
                and self.timeout() > 0):
            self._timer = self.backend.schedule(check_every(self.timeout()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        timeout = self.timeout()
        calls = list(self.calls()) if timeout > 0 else []
        now = self.clock()
        live: set[int] = set()
        for cid, line in calls:
            count = self.backend.rx_activity(cid)
            if count is None:              # no audio stream to judge (yet)
                continue
            live.add(cid)
            seen = self._seen.get(cid)
            if seen is None or seen[0] != count:
                self._seen[cid] = (count, now)
            elif now - seen[1] >= timeout:
                live.discard(cid)
                log.info("line %d: nothing from the far end for %.1f s (rtp_timeout %g s): ending the call",
                         line, now - seen[1], timeout)
                self.on_dead(cid, line, timeout)
        # a call that ended, or went on hold, starts afresh when it talks again
        self._seen = {cid: v for cid, v in self._seen.items() if cid in live}
        if timeout > 0 and any(True for _ in self.calls()):     # the calls left after any ended here
            self._timer = self.backend.schedule(check_every(timeout), self._tick)
