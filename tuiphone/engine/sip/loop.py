"""The backend's side of the SIP thread: the command queue (`submit`, `_post`), its timers, and the loop
that runs them between pjsua's network events, from `start` to `stop`."""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pjsua2 as pj

from tuiphone.engine.backend import TransportSettings
from tuiphone.engine.sip.objects import SOCKETS_PER_CALL, _budget_key
from tuiphone.engine.sip.state import _BackendState
from tuiphone.engine.sip.thread import _SIP_THREAD, _noise, log
from tuiphone.engine.sipuri import split_name_uri
from tuiphone.engine.wiretext import from_wire

IDLE_POLL_MS = 100           # the SIP thread's longest wait for network events when nothing else is due
LINE_CHECK_S = 2.0           # how often the listener checks its lines against the calls pjsua still has


class _Loop(_BackendState):
    """PjsuaBackend's thread plumbing and lifecycle (the state it uses is set up in PjsuaBackend.__init__)."""

    # ----- thread plumbing -------------------------------------------------------------------
    def _post(self, fn: Callable[[], None]) -> None:
        """Run fn on the SIP thread: now if we are on it, else queued."""
        if threading.current_thread() is self._thread:
            fn()
        else:
            self._jobs.put(fn)
            self._wake()

    def _wake(self) -> None:
        """Cut short the SIP thread's wait: a CRLF keep-alive to our own UDP port (pjsip ignores it)."""
        if self._wake_addr is not None:
            try:
                self._wake_sock.sendto(b"\r\n\r\n", self._wake_addr)
            except OSError:
                pass

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        fut: Future[Any] = Future()

        def job() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller through the future
                fut.set_exception(exc)

        if threading.current_thread() is self._thread:
            job()
        else:
            self._jobs.put(job)
            self._wake()
        return fut

    def schedule(self, delay: float, fn: Callable[[], None]) -> object:
        """Run fn on the SIP thread after `delay` seconds (call it on the SIP thread)."""
        seq = next(self._timer_seq)
        heapq.heappush(self._timers, (time.monotonic() + delay, seq, fn))
        return seq

    def cancel(self, handle: object) -> None:
        if isinstance(handle, int):
            self._cancelled.add(handle)

    def on_sip_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self, settings: TransportSettings) -> None:
        """Start the SIP thread and wait until the endpoint and transports are up (raises on failure)."""
        self._settings = settings
        self._done = _SIP_THREAD.submit(self._run)
        if not self._started.wait(15):
            self._stopping.set()
            raise OSError("the SIP stack did not start: another phone may be running in this process")
        if self._start_error is not None:
            raise self._start_error

    def _run(self) -> None:
        self._thread = threading.current_thread()
        try:
            self._create_endpoint(self._settings)
        except BaseException as exc:
            self._start_error = exc
            self._destroy()          # before waking start(): the caller may exit the process at once
            self._started.set()
            return
        self._started.set()
        ep = self._ep
        assert ep is not None        # _create_endpoint made it
        next_check = time.monotonic() + LINE_CHECK_S
        while not self._stopping.is_set():
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + LINE_CHECK_S
                self._check_lines()
            self._run_due_timers()
            self._drain_jobs()
            self._adopt_new_calls()
            self._ended.clear()      # deleting a Call inside its own callback is unsafe: here it is not
            ep.libHandleEvents(self._poll_ms())
            if self._tcp_guard is not None:
                self._tcp_guard.check()
            self._budget.settle(time.monotonic())
        self._shutdown_calls()
        self._destroy()

    def _check_lines(self) -> None:
        check = getattr(self.listener, "check_lines", None)
        if check is not None:
            try:
                check()
            except Exception:
                log.exception("line check failed")

    def _poll_ms(self) -> int:
        """How long pjsua may wait for network events: until our next timer, at most IDLE_POLL_MS (pjsua's own
        timers cut it short themselves); work from other threads wakes it at once (`_wake`). With no UDP
        transport to wake it through, 10 ms."""
        if self._wake_addr is None:
            return 10
        if not self._jobs.empty() or self._pending_new:
            return 0
        wait_ms = IDLE_POLL_MS
        if self._timers:
            wait_ms = min(wait_ms, max(0, int((self._timers[0][0] - time.monotonic()) * 1000) + 1))
        return wait_ms

    def _drain_jobs(self) -> None:
        for _ in range(200):
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            try:
                job()
            except Exception as exc:
                _noise.failed("job", "SIP thread job", exc)

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, seq, fn = heapq.heappop(self._timers)
            if seq in self._cancelled:
                self._cancelled.discard(seq)
                continue
            try:
                fn()
            except Exception as exc:
                _noise.failed("timer", "SIP timer", exc)

    def _adopt_new_calls(self) -> None:
        while self._pending_new:
            call, account, uri, replaces = self._pending_new.pop(0)
            cid = call.getId()
            if cid == pj.PJSUA_INVALID_ID or cid < 0:
                continue
            self._calls[cid] = call
            try:
                info = call.getInfo()
                self._budget.confirm(_budget_key(info.callIdString), SOCKETS_PER_CALL, time.monotonic())
                uri = uri or split_name_uri(from_wire(info.remoteUri))[1]
            except pj.Error:
                pass
            self.listener.on_new_call(cid, account, uri, replaces)

    def stop(self) -> None:
        """Hang up every call, destroy the endpoint and end the SIP thread (bounded)."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake()
        self._done.result(15)
        self._thread = None
        self._wake_sock.close()

    def _shutdown_calls(self) -> None:
        ep = self._ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
        except pj.Error:
            pass
        deadline = time.monotonic() + 2.0
        while self._calls and time.monotonic() < deadline:
            ep.libHandleEvents(20)
            self._drain_jobs()
