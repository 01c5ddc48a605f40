"""PhonePart: what every part of the phone (engine/lines.py's neighbours: registration, dialing, incoming, …)
starts from — the phone it belongs to, its backend and its config. Parts run on the SIP thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuiphone.config import Config
    from tuiphone.engine.phone import Phone


class PhonePart:
    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.backend = phone.backend

    @property
    def config(self) -> Config:
        return self.phone.config
