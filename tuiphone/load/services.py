"""`--with-services` for `load` and `answer --max-concurrent`: each call of the run in the phone's history and
its Action URLs, as a call of the phone would have them.

The workers tell the parent when a call starts and when it is answered (`{"call": "start" | "up"}`), and its
record ends it. `LoadServices` turns these into the engine's own events (CallStarted, IncomingCall, CallState,
CallLogEntry, each call on a line number of its own) and feeds them to the phone's own services: the history
(services/call_history.py, one writer thread: a committed SQLite write waits for the disk) and the Action URLs
(services/action_url.py, on an asyncio loop in a thread). So a call gets incoming_call (outgoing_call when we
place it), established and terminated (missed_call before it when the caller gave up), and off_hook / on_hook
frame the run's busy time as they frame a phone's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiphone.engine.events import CallLogEntry, CallStarted, CallState, FeaturesChanged, IncomingCall, LineState
from tuiphone.engine.sipuri import split_name_uri
from tuiphone.services.call_history import CallHistory
from tuiphone.services.records import call_log_mode
from tuiphone.store import Store, StoreError

log = logging.getLogger(__name__)

STOP_S = 10.0


class LoadServicesError(Exception):
    """The services cannot start (the database cannot open); the message says why."""


@dataclass
class _Call:
    start: CallStarted
    call_id: str


class _Backend:
    def __init__(self, address: str):
        self.address = address

    def local_address(self) -> str:
        return self.address


class _RunAsPhone:
    """What ActionUrls asks of a phone, for a load run: its address ($phone_ip) and its features (no DND, no
    forwarding events come from a run); its lines are the run's calls, none at the start."""

    def __init__(self, config: Any, address: str):
        self.config = config
        self.backend = _Backend(address)

    def feature_state(self) -> FeaturesChanged:
        f = self.config.features
        return FeaturesChanged(dnd=f.dnd, call_waiting=f.call_waiting, forward_always=f.forward_always,
                               forward_busy=f.forward_busy, forward_no_answer=f.forward_no_answer, anonymous=(),
                               blocklist=())

    def lines(self) -> list[Any]:
        return []


class LoadServices:
    """History rows and Action URLs for the calls of one run; `direction` "out" (load) or "in" (answer)."""

    def __init__(self, config: Any, database: Path, *, direction: str, account: int | None, address: str):
        self.config, self.direction, self.account = config, direction, account
        try:
            self.store = Store(database)
        except StoreError as exc:
            raise LoadServicesError(str(exc)) from None
        self.history = CallHistory(self.store, lambda acc: call_log_mode(config, acc))
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-history")
        self._calls: dict[tuple[int, int], _Call] = {}
        self._lines = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.action_urls: Any = None
        if any(getattr(config.action_url, name) for name in type(config.action_url).model_fields):
            from tuiphone.services.action_url import ActionUrls

            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="load-action-urls", daemon=True)
            self._thread.start()
            self.action_urls = ActionUrls(config, _RunAsPhone(config, address))
            asyncio.run_coroutine_threadsafe(self.action_urls.start(), self._loop).result(STOP_S)

    # ----- from the workers (the parent's main thread) ---------------------------------------------
    def started(self, worker: int, msg: dict[str, Any]) -> None:
        self._lines += 1
        name, uri, number = split_name_uri(msg.get("uri", ""))
        start = CallStarted(key=uuid.uuid4().hex, line=self._lines, direction=self.direction, account=self.account,
                            remote_uri=uri, remote_name=msg.get("name") or name,
                            remote_number=msg.get("number") or number, started=float(msg["started"]))
        call = self._calls[(worker, msg["n"])] = _Call(start, msg.get("call_id", ""))
        self._history(start)
        if self.direction == "in":
            self._urls(IncomingCall(line=start.line, account=self.account, remote_uri=start.remote_uri,
                                    remote_name=start.remote_name, remote_number=start.remote_number,
                                    source=msg.get("source", ""), call_id=call.call_id))
        self._urls(self._state(call, LineState.RINGING if self.direction == "in" else LineState.CALLING))

    def answered(self, worker: int, msg: dict[str, Any]) -> None:
        call = self._calls.get((worker, msg["n"]))
        if call is not None:
            state = self._state(call, LineState.TALKING)
            self._history(state)
            self._urls(state)

    def ended(self, worker: int, rec: dict[str, Any]) -> None:
        call = self._calls.pop((worker, rec["n"]), None)
        if call is None:
            return              # never started (the worker could not place it): no line, no row
        s = call.start
        status = rec.get("sip_status") or 0
        if rec["result"] == "answered":
            disposition = "answered"
        elif self.direction == "in":          # as engine/lines.py tells a call that rang and was not taken
            disposition = "missed" if status in (0, 487) or status < 300 else "rejected"
        else:
            disposition = "failed"
        reason = f"{status or ''} {rec.get('reason', '')}".strip() or rec.get("failure", "")
        entry = CallLogEntry(direction=s.direction, account=s.account, remote_uri=s.remote_uri,
                             remote_name=s.remote_name, remote_number=s.remote_number, started=s.started,
                             duration_s=round(float(rec.get("talk_s") or 0.0), 2), disposition=disposition,
                             reason=reason, key=s.key)
        self._history(entry)
        self._urls(entry)                     # missed_call, as the phone sends it: before terminated
        self._urls(self._state(call, LineState.ENDED, status, rec.get("reason", "")))

    def close(self) -> None:
        """End the calls still open (a worker that never reported them), finish the writes and send the
        Action URLs still waiting (at most the flush time of ActionUrls.stop)."""
        for key in list(self._calls):
            self.ended(key[0], {"n": key[1], "result": "failed", "reason": "the run ended"})
        self._writer.shutdown(wait=True)
        self.store.close()
        if self._loop is not None and self._thread is not None:
            try:
                asyncio.run_coroutine_threadsafe(self.action_urls.stop(), self._loop).result(STOP_S)
            except Exception as exc:          # a stuck loop: the rest of the URLs are not sent
                log.warning("Action URLs: not all sent at the end of the run (%s)", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_S)
            if not self._loop.is_running():
                self._loop.close()

    # ----- plumbing --------------------------------------------------------------------------------
    def _state(self, call: _Call, state: LineState, status: int = 0, reason: str = "") -> CallState:
        s = call.start
        return CallState(line=s.line, state=state, direction=s.direction, account=s.account,
                         remote_uri=s.remote_uri, remote_name=s.remote_name, remote_number=s.remote_number,
                         sip_status=status, reason=reason, call_id=call.call_id)

    def _history(self, event: Any) -> None:
        self._writer.submit(self.history.on_event, event)

    def _urls(self, event: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.action_urls.handle, event)
