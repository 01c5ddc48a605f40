"""Small pure helpers for the name and user parts of SIP addresses."""

from __future__ import annotations

import re

_NAME_RE = re.compile(r'^\s*"?([^"<]*?)"?\s*<(.+)>')
_USER_RE = re.compile(r"sips?:([^@;>]+)@")


def network_text(text: str) -> str:
    """Text as it came from the network, made fit to store and show: bytes that are not UTF-8 (which
    arrive as lone surrogates, U+DC80-U+DCFF) become replacement characters (U+FFFD), valid UTF-8 is kept."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    raw = bytearray()
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            raw.append(code - 0xDC00)                 # the byte as it was sent
        elif 0xD800 <= code <= 0xDFFF:
            raw += "\ufffd".encode()                  # a surrogate that stands for no byte
        else:
            raw += ch.encode()
    return raw.decode("utf-8", "replace")


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
