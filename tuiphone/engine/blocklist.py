"""The local blocklist (seed 3.1): exact numbers and dial-plan-style patterns like 1900x+."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from tuiphone.engine.dialplan import DialPlan, DialPlanError

_DIALPLAN_CHARS = re.compile(r"[0-9*#+A-Da-dxX.\[\]\-\\]+")
_PATTERN_MARK = re.compile(r"[xX.\[]|(?<!^)\+|\\")
_SIP_USER = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%-]+")
_SIP_ADDRESS = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%-]+@[A-Za-z0-9.\-\[\]:]+")


def is_pattern(entry: str) -> bool:
    """Dial-plan-style patterns (1900x+, [2-4]xx, 0.) as opposed to numbers (+4930..), names and addresses."""
    return bool(_DIALPLAN_CHARS.fullmatch(entry)) and bool(_PATTERN_MARK.search(entry))


class BlocklistError(ValueError):
    """An entry that is neither a number nor a valid pattern."""


class Blocklist:
    """Entries in order; `on_change(entries)` is called after every add/remove so the owner can persist them."""

    def __init__(self, entries: Iterable[str] = (), on_change: Callable[[list[str]], None] | None = None):
        self._entries: list[str] = []
        self._plans: dict[str, DialPlan] = {}
        self.on_change = on_change
        for entry in entries:
            self._add(entry)

    @property
    def entries(self) -> list[str]:
        return list(self._entries)

    def _add(self, entry: str) -> bool:
        entry = entry.strip()
        if not entry:
            raise BlocklistError("An empty entry cannot be blocked: give a number or a pattern like 1900x+.")
        if entry in self._entries:
            return False
        if entry.startswith("^"):
            raise BlocklistError(f"'{entry}': leave out the '^'; every blocklist entry blocks what it matches.")
        if is_pattern(entry):
            try:
                self._plans[entry] = DialPlan.parse("{" + entry + "}")
            except DialPlanError as exc:
                raise BlocklistError(f"'{entry}' is not a valid pattern: {exc}") from None
        elif not (_SIP_USER.fullmatch(entry) or _SIP_ADDRESS.fullmatch(entry)):
            raise BlocklistError(f"'{entry}' is not a number, a SIP user or address, or a pattern like 1900x+.")
        self._entries.append(entry)
        return True

    def add(self, entry: str) -> bool:
        added = self._add(entry)
        if added and self.on_change:
            self.on_change(self.entries)
        return added

    def remove(self, entry: str) -> bool:
        entry = entry.strip()
        if entry not in self._entries:
            return False
        self._entries.remove(entry)
        self._plans.pop(entry, None)
        if self.on_change:
            self.on_change(self.entries)
        return True

    def matches(self, number: str, address: str = "") -> str | None:
        """The entry that blocks a caller (their number/user, and optionally user@host), or None."""
        for entry in self._entries:
            plan = self._plans.get(entry)
            if plan is not None:
                if number and plan.allow(number):
                    return entry
            elif entry == number or (address and entry.lower() == address.lower()):
                return entry
        return None
