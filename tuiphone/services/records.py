"""What a phone with no screen still keeps in its database: the blocklist and the call history.

The TUI keeps both itself (it also counts missed calls for the screen); `tuiphone daemon` uses `PhoneRecords`,
so a blocklist changed by a feature code or CTI survives a restart and the TUI later shows the daemon's calls.
Writes happen on one worker thread, never on the SIP thread (a committed SQLite write waits for the disk).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from tuiphone.engine.events import CallLogEntry, FeaturesChanged
from tuiphone.engine.phone import PhoneError
from tuiphone.store import Store, StoreError, keeps

log = logging.getLogger(__name__)

BLOCK_WAIT_S = 5.0


def load_saved_blocklist(phone: Any, store: Store) -> list[str]:
    """Hand the saved blocklist to the engine; returns "entry: why" for each entry it refused.

    Raises StoreError when the database cannot be read.
    """
    problems = []
    for entry in store.blocklist():
        try:
            phone.block(entry).result(timeout=BLOCK_WAIT_S)
        except (PhoneError, TimeoutError) as exc:
            problems.append(f"{entry}: {str(exc).rstrip('.')}")
    return problems


def call_log_mode(config: Any, account: int | None) -> str:
    """all | answered | off for an account; direct calls (no account) are all kept."""
    accounts = config.accounts
    return accounts[account].call_log if account is not None and 0 <= account < len(accounts) else "all"


class PhoneRecords:
    """Saves blocklist changes and finished calls (per each account's `call_log` mode) as the engine reports them."""

    def __init__(self, phone: Any, store: Store) -> None:
        self.phone, self.store = phone, store
        self._saved_blocklist: tuple[str, ...] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> list[str]:
        """Load the saved blocklist into the phone, then follow its events; returns the refused entries."""
        try:
            problems = load_saved_blocklist(self.phone, self.store)
            self._saved_blocklist = tuple(self.store.blocklist())
        except StoreError as exc:
            log.error("%s The saved blocklist is not used.", exc)
            problems = []
        for problem in problems:
            log.warning("saved blocklist entry refused: %s", problem)
        self._unsubscribe = self.phone.subscribe(self._on_event)
        return problems

    def stop(self) -> None:
        """Stop following the phone and finish the writes already asked for (nothing is lost)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._writer.shutdown(wait=True)

    def _on_event(self, event: object) -> None:
        if isinstance(event, FeaturesChanged):
            self._writer.submit(self._save_blocklist, event.blocklist)
        elif isinstance(event, CallLogEntry) and keeps(event.disposition, call_log_mode(self.phone.config,
                                                                                          event.account)):
            self._writer.submit(self._save_call, event)

    def _save_blocklist(self, entries: tuple[str, ...]) -> None:
        if entries == self._saved_blocklist:
            return
        try:
            self.store.set_blocklist(entries)
            self._saved_blocklist = entries
        except StoreError as exc:
            log.error("%s The blocklist change is kept until the phone stops.", exc)

    def _save_call(self, entry: CallLogEntry) -> None:
        try:
            self.store.add_log_entry(entry)
        except StoreError as exc:
            log.error("%s The call with %s is not in the history.", exc, entry.remote_number or entry.remote_uri)
