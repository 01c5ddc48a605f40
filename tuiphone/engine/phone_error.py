"""PhoneError: a command the phone cannot carry out (raised by the Phone and its parts)."""

from __future__ import annotations


class PhoneError(Exception):
    """A command the phone cannot carry out; `str()` is a sentence for the user, `result` a short code."""

    def __init__(self, message: str, result: str = "failed"):
        super().__init__(message)
        self.result = result
