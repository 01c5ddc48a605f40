"""The local blocklist (seed 3.1): exact numbers and dial-plan-style patterns like 1900x+."""

from __future__ import annotations

import re
from typing import Callable, Iterable

from tuiphone.engine.dialplan import DialPlan, DialPlanError

_PATTERN_CHARS = re.compile(r"[xX\[\].+^<]")


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
        if _PATTERN_CHARS.search(entry):
            try:
                self._plans[entry] = DialPlan.parse("{" + entry + "}")
            except DialPlanError as exc:
                raise BlocklistError(f"'{entry}' is not a valid pattern: {exc}") from None
        elif not re.fullmatch(r"[0-9*#+A-Da-d]+|[^\s@]+@[^\s@]+|anonymous", entry):
            raise BlocklistError(f"'{entry}' is not a number or a pattern like 1900x+.")
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

    def matches(self, number: str) -> str | None:
        """The entry that blocks `number`, or None."""
        for entry in self._entries:
            plan = self._plans.get(entry)
            if plan is not None:
                if number and plan.allow(number):
                    return entry
            elif entry == number:
                return entry
        return None
