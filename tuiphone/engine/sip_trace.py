"""SIP trace: every SIP message in and out, written as text with time and addresses, and grouped by
dialog (Call-ID) for the trace screen's ladder."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
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


# ----- dialogs: the trace grouped by Call-ID, for the ladder ----------------------------------------------
_HEADER = {"from": "from", "f": "from", "to": "to", "t": "to", "cseq": "cseq"}


def is_request(msg: SipMessage) -> bool:
    return not msg.first_line.startswith("SIP/")


def header(msg: SipMessage, name: str) -> str:
    """The first value of a header (compact forms too: f, t); "" when the message has none."""
    for line in msg.text.replace("\r\n", "\n").split("\n\n", 1)[0].split("\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and _HEADER.get(key.strip().lower()) == name:
            return value.strip()
    return ""


def method_of(msg: SipMessage) -> str:
    """A request's method, or the method a response answers (from its CSeq)."""
    if is_request(msg):
        return msg.first_line.split(" ", 1)[0].upper()
    words = header(msg, "cseq").split()
    return words[1].upper() if len(words) > 1 else ""


def label(msg: SipMessage) -> str:
    """What the ladder writes on an arrow: "INVITE", or "180 Ringing" for a response."""
    if is_request(msg):
        return method_of(msg)
    return msg.first_line.split(" ", 1)[1].strip() if " " in msg.first_line else msg.first_line


def party(value: str) -> str:
    """The user (or host) of a From/To header: '"Bob" <sip:1002@pbx>;tag=x' -> '1002'."""
    uri = value[value.find("<") + 1:value.find(">")] if "<" in value else value.split(";", 1)[0]
    uri = uri.split(":", 1)[1] if ":" in uri else uri
    user, sep, host = uri.partition("@")
    return (user if sep and user else host or user).split(";", 1)[0]


@dataclass
class Dialog:
    """The messages of one Call-ID in the order they went, and the parties and peers they show."""
    call_id: str
    messages: list[SipMessage] = field(default_factory=list)

    @property
    def started(self) -> float:
        return self.messages[0].time

    @property
    def method(self) -> str:
        """The method that began the dialog (INVITE for a call), or the first one answered."""
        first = next((m for m in self.messages if is_request(m)), self.messages[0])
        return method_of(first)

    @property
    def parties(self) -> tuple[str, str]:
        """(from, to) users of the first request."""
        first = next((m for m in self.messages if is_request(m)), self.messages[0])
        return party(header(first, "from")), party(header(first, "to"))

    @property
    def peers(self) -> list[str]:
        """The far ends ("TLS 1.2.3.4:5061"), in the order they first appear."""
        return list(dict.fromkeys(peer(m) for m in self.messages))

    @property
    def last(self) -> str:
        """What became of the dialog: its latest request or final response ("BYE 200", "INVITE 486")."""
        for msg in reversed(self.messages):
            provisional = not is_request(msg) and msg.first_line[8:9] == "1"
            if not provisional and method_of(msg) != "ACK":
                break
        if is_request(msg):
            return method_of(msg)
        return f"{method_of(msg)} {msg.first_line[8:11]}".strip()

    def matches(self, text: str) -> bool:
        """Whether a search text is in the Call-ID, the parties, the peers or a message's first line."""
        text = text.strip().lower()
        if not text:
            return True
        words = [self.call_id, *self.parties, *self.peers, *(m.first_line for m in self.messages)]
        return any(text in w.lower() for w in words)


def peer(msg: SipMessage) -> str:
    return f"{msg.transport} {msg.remote}"


def dialogs(messages: Iterable[SipMessage]) -> list[Dialog]:
    """The messages grouped by Call-ID, each dialog where its first message was."""
    by_id: dict[str, Dialog] = {}
    for msg in messages:
        by_id.setdefault(msg.call_id, Dialog(msg.call_id)).messages.append(msg)
    return list(by_id.values())
