"""A screen draws what changed as soon as the UI is idle, not on Textual's next 60 fps tick.

Textual gives each screen an update timer on a 1/60 s grid and pauses it between updates. When something
changes right after an update (the status bar took a missed call, then the call's line ends and the ringing
prompt closes), the timer, which skips the ticks it missed while paused, waits one to two whole periods
(17-33 ms) before it draws again: most of an incoming call's p99 on a front-end (bench/attach.py). Without the
skipping, a screen that has waited draws at once, and one that draws more than 60 times a second for long is
still held to the grid, since the timer's count then catches up with the clock.

It relies on Screen._update_timer (a private property of Textual, whose Timer takes `_skip` from its
`skip` argument); `tests/tui/test_screen_updates.py` fails if either changes.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

_PACED = Screen.__dict__["_update_timer"]      # Textual's property (makes the timer on first use)


def _unpaced_timer(screen: Screen) -> Any:
    timer = _PACED.fget(screen)
    timer._skip = False
    return timer


def draw_when_changed() -> None:
    """From now on every screen of this process draws as soon as it is idle after a change (idempotent)."""
    if Screen.__dict__["_update_timer"] is _PACED:
        Screen._update_timer = property(_unpaced_timer, doc=_PACED.__doc__)   # type: ignore[method-assign,assignment]
