"""The SIP thread: the one long-lived thread that owns pjlib, the log every part of engine/sip/ writes to,
and the guards for pjsua2 callbacks and pjsua2 objects (none may run or be freed on another thread)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tuiphone.logthrottle import LogThrottle

log = logging.getLogger("tuiphone.engine.sip")     # one logger for the package, named as before it was one
# what the network can make us log at will (pjsip's words on bad packets, failing callbacks): a few lines a minute
_noise = LogThrottle(log)


def _guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """A pjsua2 callback that never lets an exception out (SWIG would print its traceback to stderr and
    pjsua carry on with the work half done): one short rate-limited log line instead."""
    def run(self: Any, *args: Any) -> None:
        try:
            fn(self, *args)
        except Exception as exc:
            _noise.failed(f"callback {fn.__name__}", f"pjsua2 callback {fn.__name__}", exc, logging.WARNING)
    run.__name__, run.__qualname__, run.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return run


# pjlib registers the first thread that uses it and refuses others, so every endpoint this process
# creates lives on this one long-lived SIP thread (one at a time: pjsua is a per-process singleton).
class _SipThread:
    """A daemon thread that runs one endpoint's loop after another (a daemon, so a forgotten stop() cannot hang
    exit)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[], None]) -> Future[None]:
        fut: Future[None] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="sip", daemon=True)
                self._thread.start()
        self._queue.put((fn, fut))
        return fut

    def _serve(self) -> None:
        global _sip_thread_ident
        _sip_thread_ident = threading.get_ident()
        while True:
            fn, fut = self._queue.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)


_SIP_THREAD = _SipThread()


_sip_thread_ident: int | None = None     # the thread that owns pjlib (see _SipThread)


class _OnlyDestroyedOnSipThread:
    """pjsua2 objects whose C++ destructors call pjlib: if Python frees one on another thread (a traceback,
    a UI reference) or after the endpoint is gone, pjlib would abort; leak the C++ object instead."""

    def __del__(self) -> None:
        backend = getattr(self, "backend", None)
        alive = backend is not None and backend._ep is not None
        if not alive or threading.get_ident() != _sip_thread_ident:
            try:
                self.thisown = False
            except Exception:
                pass
