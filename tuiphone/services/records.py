"""What a phone with no screen still keeps in its database: the blocklist and the call history.

The TUI keeps both itself (it also counts missed calls for the screen); `tuiphone daemon` uses `PhoneRecords`,
so a blocklist changed by a feature code or CTI survives a restart and the TUI later shows the daemon's calls.
Writes happen on one worker thread, never on the SIP thread (a committed SQLite write waits for the disk).
A call's row is written when it starts and finished when it ends (`call_history`), so a crash cannot lose it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tuiphone.engine.events import CallLogEntry, CallStarted, CallState, FeaturesChanged
from tuiphone.engine.phone_error import PhoneError
from tuiphone.services.call_history import HEARTBEAT_S, CallHistory
from tuiphone.store import Store, StoreError

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
    """Saves blocklist changes and calls (per each account's `call_log` mode) as the engine reports them."""

    def __init__(self, phone: Any, store: Store, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.phone, self.store = phone, store
        self.history = CallHistory(store, lambda account: call_log_mode(phone.config, account))
        self._saved_blocklist: tuple[str, ...] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
        self._unsubscribe: Callable[[], None] | None = None
        self._heartbeat_s = heartbeat_s
        self._stopping = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="records-heartbeat", daemon=True)

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
        self._heartbeat.start()
        return problems

    def stop(self) -> None:
        """Stop following the phone and finish the writes already asked for (nothing is lost)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stopping.set()
        if self._heartbeat.is_alive():
            self._heartbeat.join()
        self._writer.shutdown(wait=True)

    def _on_event(self, event: object) -> None:
        if isinstance(event, FeaturesChanged):
            self._submit(self._save_blocklist, event.blocklist)
        elif isinstance(event, (CallStarted, CallState, CallLogEntry)):
            self._submit(self.history.on_event, event)      # in order, on the writer thread

    def _submit(self, job: Callable[..., object], *args: object) -> None:
        self._writer.submit(self._logged, job, *args)

    @staticmethod
    def _logged(job: Callable[..., object], *args: object) -> None:
        """Run a write; whatever goes wrong is logged (a failed Future nobody reads would hide it)."""
        try:
            job(*args)
        except Exception:
            log.exception("saving to the phone's database failed")

    def _beat(self) -> None:
        while not self._stopping.wait(self._heartbeat_s):
            self._submit(self.history.touch)

    def _save_blocklist(self, entries: tuple[str, ...]) -> None:
        if entries == self._saved_blocklist:
            return
        try:
            self.store.set_blocklist(entries)
            self._saved_blocklist = entries
        except StoreError as exc:
            log.error("%s The blocklist change is kept until the phone stops.", exc)
