"""DND, forwarding, call waiting, anonymous calling and the blocklist: state, persistence and feature codes.

Changes are written back into the config (and saved through `save`) so they survive a restart,
and announced with a FeaturesChanged event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuiphone.engine.blocklist import Blocklist, BlocklistError
from tuiphone.engine.events import Event, FeaturesChanged
from tuiphone.engine.incoming import FORWARD_KINDS, ForwardError, forward_notice, forward_target
from tuiphone.engine.star_codes import FeatureCode

if TYPE_CHECKING:
    from tuiphone.config import Config

log = logging.getLogger(__name__)
__all__ = ["FORWARD_KINDS", "FeatureError", "FeatureState"]   # FORWARD_KINDS: engine/incoming.py's, for the screens


class FeatureError(ValueError):
    """A feature change the phone cannot make; the message is for the user."""


class FeatureState:
    def __init__(self, config: Config, emit: Callable[[Event], None], save: Callable[[object], None] | None = None,
                 blocklist: Blocklist | None = None):
        self.config = config
        self._emit = emit
        self._save = save
        self.blocklist = blocklist or Blocklist()

    def snapshot(self) -> FeaturesChanged:
        f = self.config.features
        return FeaturesChanged(dnd=f.dnd, call_waiting=f.call_waiting, forward_always=f.forward_always,
                               forward_busy=f.forward_busy, forward_no_answer=f.forward_no_answer,
                               anonymous=tuple(a.anonymous for a in self.config.accounts),
                               blocklist=tuple(self.blocklist.entries))

    def _changed(self) -> None:
        if self._save is not None:
            try:
                self._save(self.config)
            except Exception as exc:   # a full disk must not stop the phone; say it once
                log.warning("could not save the config: %s", exc)
        self._emit(self.snapshot())

    def set_dnd(self, on: bool) -> str:
        self.config.features.dnd = on
        self._changed()
        return "Do not disturb is on." if on else "Do not disturb is off."

    def set_forward(self, kind: str, target: str) -> str:
        try:
            target = forward_target(kind, target)      # what may be a target: engine/incoming.py
        except ForwardError as exc:
            raise FeatureError(str(exc)) from None
        try:
            setattr(self.config.features, f"forward_{kind}", target)
        except ValueError as exc:       # pydantic's ValidationError is a ValueError
            raise FeatureError(f"'{target}' cannot be a forwarding target: "
                               f"{exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") from None
        self._changed()
        return forward_notice(kind, target)

    def set_call_waiting(self, on: bool) -> str:
        self.config.features.call_waiting = on
        self._changed()
        return "Call waiting is on." if on else "Call waiting is off."

    def set_anonymous(self, account: int, on: bool) -> str:
        if not 0 <= account < len(self.config.accounts):
            raise FeatureError(f"There is no account {account + 1} to send anonymous calls from.")
        self.config.accounts[account].anonymous = on
        self._changed()
        return f"Account {account + 1}: anonymous calls {'on' if on else 'off'}."

    def block(self, entry: str) -> str:
        try:
            added = self.blocklist.add(entry)
        except BlocklistError as exc:
            raise FeatureError(str(exc)) from None
        self._emit(self.snapshot())
        return f"{entry} is blocked." if added else f"{entry} was already blocked."

    def unblock(self, entry: str) -> str:
        removed = self.blocklist.remove(entry)
        self._emit(self.snapshot())
        return f"{entry} is no longer blocked." if removed else f"{entry} was not on the blocklist."

    def apply(self, code: FeatureCode, account: int | None) -> str:
        """Carry out a feature code; returns the notice to show. (anonymous_once is the caller's business.)"""
        name, arg = code.name, code.argument
        if name.startswith("forward_"):
            kind = name[len("forward_"):].rsplit("_", 1)[0]
            return self.set_forward(kind, arg if name.endswith("_on") else "")
        if name in ("dnd_on", "dnd_off"):
            return self.set_dnd(name == "dnd_on")
        if name in ("call_waiting_on", "call_waiting_off"):
            return self.set_call_waiting(name == "call_waiting_on")
        if name in ("anonymous_on", "anonymous_off"):
            if account is None:
                raise FeatureError("Anonymous calling is set per account: configure an account first.")
            return self.set_anonymous(account, name == "anonymous_on")
        if name == "block":
            return self.block(arg)
        if name == "unblock":
            return self.unblock(arg)
        raise FeatureError(f"{code.code} is not a feature the phone handles itself.")
