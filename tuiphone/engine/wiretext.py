"""Text that came off the network, made safe to store, show and log.

pjsua2's SWIG layer turns the bytes of a SIP message into a str with `surrogateescape`: a byte that is not
UTF-8 becomes a lone surrogate (U+DC80..U+DCFF), which no UTF-8 file, database or terminal accepts.
`from_wire` gives each such byte as U+FFFD instead, so a caller named b'\\xff\\xfe\\xc3(' reaches the phone
as '\ufffd\ufffd\ufffd(' and nothing downstream raises.
"""

from __future__ import annotations


def from_wire(text: str | None) -> str:
    """`text` with every undecodable byte (and any other lone surrogate) as U+FFFD; '' for None."""
    if not text:
        return ""
    if text.isascii():
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:       # a surrogate that is no escaped byte (U+D800..U+DC7F): one U+FFFD for it
        kept = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF and not 0xDC80 <= ord(c) <= 0xDCFF else c
                       for c in text)
        return kept.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
