"""The calls of a running phone in its history, written so that a crash cannot lose them.

A call's row is written when it starts (CallStarted: ringing or dialing) as "in_progress", its talk time so
far is written every HEARTBEAT_S while it is up (`touch`), and the CallLogEntry at its end finishes the same
row. A phone that dies mid-call (crash, `kill -9`) leaves the row; the store marks it "interrupted" with the
last talk time written when it opens again. Per account `call_log` mode: "all" writes the row at the start,
"answered" once the call is answered, "off" never.

`CallHistory` does no threading of its own: the daemon (`PhoneRecords`) feeds it on its writer thread, the
TUI on its UI thread. A store error is logged (and handed to `on_error`), never dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuiphone.engine.events import CallLogEntry, CallStarted, CallState, LineState
from tuiphone.store import Store, StoreError, keeps

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0          # how often the talk time of calls in progress is written (what a crash can lose)
_UP = (LineState.TALKING, LineState.HELD)


@dataclass
class _Active:
    start: CallStarted
    mode: str                      # the account's call_log mode when the call started
    written: bool = False          # its row is in the store
    answered: float | None = None  # time.monotonic() of the answer


class CallHistory:
    """Rows for calls as they start, talk times while they last, the outcome when they end."""

    def __init__(self, store: Store, mode_for: Callable[[int | None], str],
                 on_error: Callable[[str], None] | None = None) -> None:
        self.store, self.mode_for, self.on_error = store, mode_for, on_error
        self._active: dict[str, _Active] = {}      # history key -> call
        self._lines: dict[int, str] = {}           # line -> history key of its call

    def on_event(self, event: object) -> bool:
        """Follow one engine event; True when the history changed (a row was written or finished)."""
        if isinstance(event, CallStarted):
            return self.started(event)
        if isinstance(event, CallState):
            return self.line_changed(event)
        if isinstance(event, CallLogEntry):
            return self.ended(event)
        return False

    def started(self, event: CallStarted) -> bool:
        call = _Active(event, self.mode_for(event.account))
        self._active[event.key] = call
        self._lines[event.line] = event.key
        return call.mode == "all" and self._write_start(call)

    def line_changed(self, event: CallState) -> bool:
        """The first time a call is up (talking or held) starts its talk time; an "answered" account's row
        is written then."""
        call = self._active.get(self._lines.get(event.line, ""))
        if call is None or call.answered is not None or event.state not in _UP:
            return False
        call.answered = time.monotonic()
        return call.mode == "answered" and not call.written and self._write_start(call)

    def ended(self, entry: CallLogEntry, summary: str = "") -> bool:
        """Finish the call's row (or add one), with what the UI knew of the call (`summary`, JSON: quality,
        transfer); True when the call is in the history."""
        call = self._active.pop(entry.key, None) if entry.key else None
        if call is not None and self._lines.get(call.start.line) == entry.key:
            del self._lines[call.start.line]
        mode = call.mode if call is not None else self.mode_for(entry.account)
        who = entry.remote_number or entry.remote_uri
        if not keeps(entry.disposition, mode):
            return False        # an "answered" account's row is written only once a call is answered
        try:
            row = self.store.add_log_entry(entry)
            if summary:
                self.store.set_call_summary(row, summary)
        except StoreError as exc:
            self._failed(f"{exc} The call with {who} is not in the history.")
            return False
        return True

    def touch(self) -> None:
        """Write the talk time so far of the calls that are up."""
        now = time.monotonic()
        talk = {key: now - call.answered for key, call in self._active.items()
                if call.written and call.answered is not None}
        try:
            self.store.touch_calls(talk)
        except StoreError as exc:
            self._failed(f"{exc} The talk time of calls in progress is written when they end.")

    def _write_start(self, call: _Active) -> bool:
        s = call.start
        try:
            self.store.start_call(s.key, s.direction, s.account, s.remote_uri, s.remote_name, s.remote_number,
                                  s.started)
        except StoreError as exc:
            self._failed(f"{exc} The call with {s.remote_number or s.remote_uri} is kept when it ends.")
            return False
        call.written = True
        return True

    def _failed(self, text: str) -> None:
        log.error("%s", text)
        if self.on_error is not None:
            self.on_error(text)
