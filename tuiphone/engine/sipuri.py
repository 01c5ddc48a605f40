"""Small pure helpers for the name and user parts of SIP addresses."""

from __future__ import annotations

import re

from tuiphone.engine.wiretext import from_wire

_NAME_RE = re.compile(r'^\s*"?([^"<]*?)"?\s*<(.+)>')
_USER_RE = re.compile(r"sips?:([^@;>]+)@")


def network_text(text: str) -> str:
    """Text as it came from the network, made fit to store and show (see wiretext.from_wire: bytes that are
    not UTF-8 become U+FFFD)."""
    return from_wire(text)


def split_name_uri(text: str) -> tuple[str, str, str]:
    """'"Alice" <sip:100@h>' -> ('Alice', 'sip:100@h', '100'); the user is '' when the URI has none.
    Bytes that are not UTF-8 come back as replacement characters (see `network_text`)."""
    text = network_text(text)
    name, uri = "", text.strip()
    m = _NAME_RE.match(text)
    if m:
        name, uri = m.group(1).strip(), m.group(2).strip()
    um = _USER_RE.search(uri)
    return name, uri, (um.group(1) if um else "")


def request_user(first_line: str) -> str:
    """The user part of a request line's URI ('INVITE sip:echo@h SIP/2.0' -> 'echo')."""
    m = _USER_RE.search(first_line)
    return m.group(1) if m else ""
