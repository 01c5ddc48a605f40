"""Text off the wire (engine/wiretext.py): bytes that are no UTF-8 become U+FFFD, never lone surrogates."""

from __future__ import annotations

from tuiphone.engine.wiretext import from_wire


def swig(raw: bytes) -> str:
    """What pjsua2's SWIG layer hands Python for these bytes."""
    return raw.decode("utf-8", "surrogateescape")


def test_undecodable_bytes_become_replacement_characters():
    assert from_wire(swig(b'"\xff\xfe\xc3(" <sip:u@host>')) == '"\ufffd\ufffd\ufffd(" <sip:u@host>'
    assert from_wire(swig(b"caf\xc3\xa9")) == "café"          # real UTF-8 stays what it is
    assert from_wire("a\ud800b") == "a\ufffdb"    # a surrogate that is no escaped byte: one replacement
    assert from_wire("") == "" and from_wire(None) == ""


def test_the_result_always_encodes_as_utf8():
    for raw in (bytes(range(256)), b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"):
        from_wire(swig(raw)).encode("utf-8")
