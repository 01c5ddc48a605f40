"""Small pure helpers for the name and user parts of SIP addresses."""

from __future__ import annotations

import re

_NAME_RE = re.compile(r'^\s*"?([^"<]*?)"?\s*<(.+)>')
_USER_RE = re.compile(r"sips?:([^@;>]+)@")


def split_name_uri(text: str) -> tuple[str, str, str]:
    """'"Alice" <sip:100@h>' -> ('Alice', 'sip:100@h', '100'); the user is '' when the URI has none."""
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
