"""SIP trace: every SIP message in and out, written as text with time and addresses."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import TextIO

from tuiphone.engine.events import Event, SipMessage


def format_message(msg: SipMessage) -> str:
    when = dt.datetime.fromtimestamp(msg.time).isoformat(timespec="milliseconds")
    arrow = "<<" if msg.direction == "in" else ">>"
    way = "from" if msg.direction == "in" else "to"
    body = msg.text.replace("\r\n", "\n").rstrip("\n")
    return f"{arrow} {when} {msg.direction.upper()} {msg.transport} {way} {msg.remote}\n{body}\n\n"


class SipTraceWriter:
    """An event subscriber that appends every SipMessage to a text file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file: TextIO = open(self.path, "a", encoding="utf-8", errors="replace", buffering=1)
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, SipMessage):
            with self._lock:
                if not self._file.closed:
                    self._file.write(format_message(event))
                    self.count += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()
