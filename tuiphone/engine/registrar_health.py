"""Registration health: an OPTIONS keep-alive to an account's registrar (or its outbound proxy).

A registrar that stops answering is noticed after `options_max_lost` pings in a row go unanswered; a
registrar that answers again after even one lost ping may have restarted and forgotten every
registration (Kamailio's usrloc in memory does), so the phone registers again at once. What the
answers mean for the account is the phone's business (`Phone._on_keepalive`); this module only keeps
the pings going.

The pings are timed by the SIP thread's own timers (`backend.schedule`), so the fake backend's clock
drives them in tests. The ping itself waits on a socket for up to PING_TIMEOUT_S, so it runs on a short
worker thread and hands its answer back to the SIP thread. A backend may answer pings itself with
`ping_options(target, timeout) -> sip_status` (0 = no answer): the fake one does, its network being the
test.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tuiphone.engine.backend import SipBackend
from tuiphone.engine.options import OptionsError, OptionsPinger, OptionsTarget

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 2.0


def keepalive_target(hop: str, transport: str) -> OptionsTarget | None:
    """The OPTIONS target for a host[:port] on the account's transport; None when it cannot be pinged
    (OPTIONS over TLS is not supported)."""
    if transport == "tls":
        return None
    try:
        return OptionsTarget.parse(hop + (";transport=tcp" if transport == "tcp" else ""))
    except OptionsError:
        return None


class RegistrarWatch:
    """Pings `hop()` every `interval` seconds and calls `report(answered)` on the SIP thread after each ping.

    `start()` and the reports run on the SIP thread; `stop()` is safe from any thread."""

    def __init__(self, backend: SipBackend, interval: float, hop: Callable[[], str], transport: str, bind: str,
                 report: Callable[[bool], None], name: str = "keepalive") -> None:
        self.backend = backend
        self.interval = float(interval)
        self.timeout = min(PING_TIMEOUT_S, self.interval)
        self.hop = hop
        self.transport = transport
        self.bind = bind
        self.report = report
        self.name = name
        self._stopped = threading.Event()
        self._timer: object | None = None
        self._in_flight = False
        self._unpingable: str | None = None

    def start(self) -> None:
        self._timer = self.backend.schedule(self.interval, self._tick)

    def stop(self) -> None:
        self._stopped.set()
        timer, self._timer = self._timer, None
        if timer is not None:
            self.backend.cancel(timer)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _tick(self) -> None:
        self._timer = None
        if self.stopped:
            return
        self._timer = self.backend.schedule(self.interval, self._tick)   # a steady beat, whatever the answers
        if self._in_flight:
            return          # the last ping still waits for its answer (interval shorter than the timeout)
        hop = self.hop()
        target = keepalive_target(hop, self.transport)
        if target is None:
            if self._unpingable != hop:
                self._unpingable = hop
                log.info("%s: %s cannot be pinged with OPTIONS over %s; the keep-alive waits for a "
                         "server it can ping", self.name, hop, self.transport.upper())
            return
        own = getattr(self.backend, "ping_options", None)
        if own is not None:
            self._answer(own(target, self.timeout) > 0)
            return
        self._in_flight = True
        threading.Thread(target=self._ping, args=(target,), name=self.name, daemon=True).start()

    def _ping(self, target: OptionsTarget) -> None:
        with OptionsPinger(target, bind=self.bind, timeout=self.timeout) as pinger:
            reply = pinger.ping()
        if not self.stopped:
            self.backend.submit(lambda: self._answer(reply.sip_status > 0))

    def _answer(self, answered: bool) -> None:
        self._in_flight = False
        if not self.stopped:
            self.report(answered)
