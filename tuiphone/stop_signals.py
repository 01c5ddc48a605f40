"""SIGTERM, SIGHUP and Ctrl-C end a headless run (`tuiphone call`, `tuiphone answer`) the way its own end
does: the calls are hung up and the JSON report is still printed, with "interrupted" naming the signal.

The first such signal raises `Interrupted` in the main thread; later ones are ignored while the run winds
down (a bounded wait for the hang-ups, then the SIP stack is shut down), so the report is not lost to a
second signal. SIGKILL remains the way to stop it at once.
"""

from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
_received: list[str] = []


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; `name` is SIGTERM, SIGHUP or SIGINT."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def signal_name(exc: BaseException) -> str:
    """The signal behind an interruption (a bare KeyboardInterrupt is Ctrl-C: SIGINT)."""
    return exc.name if isinstance(exc, Interrupted) else "SIGINT"


def _handler(signum: int, frame: object) -> None:
    if _received:
        return
    name = signal.Signals(signum).name
    _received.append(name)
    raise Interrupted(name)


def raise_on_stop_signals() -> None:
    """From now on the first SIGTERM, SIGHUP or SIGINT raises Interrupted (call it on the main thread)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _handler)


def received() -> str | None:
    """The stop signal that came, if one did."""
    return _received[0] if _received else None
