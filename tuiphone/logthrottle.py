"""Log lines that a flood cannot multiply: a few lines per kind per minute, then "N more suppressed".

Anything the network can trigger at will (a bad SIP packet, a garbled HTTP request, a scanner's INVITE)
logs through a `LogThrottle`: the first `burst` lines of each key in a window go out as they are, later
ones are counted, and the count is told once the window is over ("… (N more like this suppressed in the
last 60 s)"), with the next line of that key or the next call to the throttle, whichever comes first.
Free of UI imports: the engine uses it too. Thread-safe (pjsip logs from more than one thread).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

BURST = 3                 # lines per key per window
WINDOW_S = 60.0
MAX_KEYS = 256            # keys remembered at once: a flood of distinct keys cannot grow memory
LINE_CHARS = 300          # one short line: longer text is cut


def one_line(text: str, limit: int = LINE_CHARS) -> str:
    """The first line of `text`, stripped and cut to `limit` characters ('…' when cut)."""
    first = text.strip().split("\n", 1)[0].strip()
    return first if len(first) <= limit else first[:limit - 1] + "…"


@dataclass
class _Window:
    start: float
    shown: int = 0
    suppressed: int = 0
    level: int = logging.NOTSET
    what: str = ""          # the last suppressed line, shortened, to say what kind of line it was


class LogThrottle:
    """Rate-limited logging to `logger`: at most `burst` lines per key in each `window_s`."""

    def __init__(self, logger: logging.Logger, burst: int = BURST, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic):
        self.logger, self.burst, self.window_s, self.clock = logger, burst, window_s, clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._lock = threading.Lock()
        self.suppressed_total = 0
        self._next_sweep = 0.0

    def log(self, level: int, key: str, msg: str, *args: object) -> bool:
        """Log `msg % args` as one short line unless `key` used up its lines; True when it was logged."""
        now, text = self.clock(), _render(msg, args)
        with self._lock:
            due = self._take_due(now, skip=key)
            win = self._windows.get(key)
            ended = win is not None and now - win.start >= self.window_s
            if win is None or ended:
                if ended and win is not None and win.suppressed:
                    due.append((key, win))
                win = self._windows[key] = _Window(start=now)
                self._windows.move_to_end(key)
                while len(self._windows) > MAX_KEYS:
                    old_key, old = self._windows.popitem(last=False)
                    if old.suppressed:
                        due.append((old_key, old))
            show = win.shown < self.burst
            if show:
                win.shown += 1
            else:
                win.suppressed += 1
                win.level = max(win.level, level)
                win.what = win.what or text[:80]
                self.suppressed_total += 1
        for _, old in due:
            self._tell_suppressed(old, now)
        if show:
            self.logger.log(level, "%s", one_line(text))
        return show

    def debug(self, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.DEBUG, key, msg, *args)

    def info(self, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.INFO, key, msg, *args)

    def warning(self, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, key, msg, *args)

    def error(self, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.ERROR, key, msg, *args)

    def failed(self, key: str, what: str, exc: BaseException, level: int = logging.ERROR) -> bool:
        """A failure the network may be able to repeat at will: "<what> failed: Type: message" as one
        rate-limited line; the traceback only at debug level (for whoever runs with --log-level debug)."""
        shown = self.log(level, key, "%s failed: %s: %s", what, type(exc).__name__, exc)
        if shown and self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("%s failed", what, exc_info=exc)
        return shown

    def flush(self) -> None:
        """Tell every count still untold now (at shutdown, or in tests)."""
        now = self.clock()
        with self._lock:
            due = [(k, w) for k, w in self._windows.items() if w.suppressed]
            self._windows.clear()
        for _, win in due:
            self._tell_suppressed(win, now)

    def _take_due(self, now: float, skip: str) -> list[tuple[str, _Window]]:
        """Windows (other than `skip`'s) that are over with a count to tell; they are forgotten.
        Looked for at most once a second, so a flood of lines costs little."""
        if now < self._next_sweep:
            return []
        self._next_sweep = now + min(1.0, self.window_s)
        due = [(k, w) for k, w in self._windows.items()
               if k != skip and now - w.start >= self.window_s]
        for k, _ in due:
            del self._windows[k]
        return [(k, w) for k, w in due if w.suppressed]

    def _tell_suppressed(self, win: _Window, now: float) -> None:
        seconds = max(1.0, min(self.window_s, now - win.start))
        self.logger.log(win.level, "%d more like this suppressed in the last %.0f s: %s", win.suppressed,
                        seconds, one_line(win.what, 80))


def _render(msg: str, args: tuple[object, ...]) -> str:
    try:
        return msg % args if args else msg
    except (TypeError, ValueError):
        return " ".join([msg, *map(str, args)])
