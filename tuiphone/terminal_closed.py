"""SIGHUP, the terminal closing (a closed window, a lost SSH session), stops the phone as SIGTERM does:
calls hung up, accounts unregistered, Action URLs flushed.

A closing terminal may send SIGHUP more than once (the terminal program and the kernel each send one), and the
second can come while the phone unregisters, after the event loop and its handlers are gone. So the first
SIGHUP asks for the stop and every later one is ignored: there is no terminal left to answer to.
"""

from __future__ import annotations

import errno
import os
import signal
import termios
from collections.abc import Callable
from typing import Any


def stop_on_terminal_closed(stop: Callable[[], Any]) -> None:
    """Call `stop()` (from the signal handler, in the main thread) on the first SIGHUP; ignore later ones.
    A loop's `stop` goes through `loop.call_soon_threadsafe`, which wakes the loop at once; once that loop
    has closed (the phone is stopping already) the SIGHUP is only ignored. A SIGHUP ignored when the process
    started (`nohup tuiphone daemon &`) stays ignored."""
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        return

    def closed(_signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        try:
            stop()
        except RuntimeError:        # the loop has closed: the stop is under way
            pass
    signal.signal(signal.SIGHUP, closed)


def forget_the_terminal() -> None:
    """When the TUI's terminal has gone, stdin, stdout and stderr become /dev/null, so the UI's last writes
    while it shuts down go nowhere (instead of failing with EIO) and its input reads end. A terminal still
    there (a SIGHUP sent by hand) is kept: the UI puts it back in order as it exits."""
    try:
        termios.tcgetattr(2)
        return                  # still answers: not gone
    except termios.error as exc:
        if exc.args[0] != errno.EIO:
            return              # not a terminal at all: nothing to forget
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        try:
            os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


class _QuietWhenGone:
    """The stream Textual's writer thread writes the screen to. Once the terminal has gone (EIO) the writes
    go nowhere: a writer thread that died of the error would leave the UI's shutdown waiting for it forever,
    and the phone would never stop (nor unregister)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._stream.write(text)
            except OSError:
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError:
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def survives_hangup(driver_class: type) -> type:
    """Textual's terminal driver, writing through _QuietWhenGone (other drivers as they are)."""
    from textual.drivers.linux_driver import LinuxDriver

    if not issubclass(driver_class, LinuxDriver):
        return driver_class

    class HangupSafeDriver(driver_class):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._file = _QuietWhenGone(self._file)  # type: ignore[has-type]  # a stand-in for the TextIO it wraps

    return HangupSafeDriver
