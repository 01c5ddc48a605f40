"""Voicemail: the message-waiting indication (RFC 3842 NOTIFY) per account, and calling the mailbox (seed 2.11)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tuiphone.engine.dialing import default_account
from tuiphone.engine.phone_error import PhoneError

if TYPE_CHECKING:
    from tuiphone.config import Config

_VOICE_RE = re.compile(r"^Voice-Message\s*:\s*(\d+)\s*/\s*(\d+)", re.I | re.M)
_WAITING_RE = re.compile(r"^Messages-Waiting\s*:\s*(yes|no)", re.I | re.M)


def parse_message_summary(body: str) -> tuple[bool, int, int]:
    """RFC 3842 body -> (messages waiting, new voice messages, old voice messages)."""
    waiting = _WAITING_RE.search(body)
    voice = _VOICE_RE.search(body)
    new, old = (int(voice.group(1)), int(voice.group(2))) if voice else (0, 0)
    return (waiting.group(1).lower() == "yes") if waiting else new > 0, new, old


def mailbox(config: Config, account: int | None) -> tuple[int, str]:
    """(account, voicemail access code) to call for `account` (default: the first usable one). Raises PhoneError."""
    index = account if account is not None else default_account(config)
    if index is None:
        raise PhoneError("No account is configured, so there is no voicemail to call.", "failed")
    code = config.accounts[index].voicemail
    if not code:
        raise PhoneError(f"Account {index + 1} has no voicemail number: set accounts[{index}].voicemail.")
    return index, code
