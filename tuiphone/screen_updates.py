"""A screen draws what changed as soon as the UI is idle, not on Textual's next 60 fps tick.

Textual gives each screen an update timer on a 1/60 s grid and pauses it between updates. When something
changes right after an update (the status bar took a missed call, then the call's line ends and the ringing
prompt closes), the timer, which skips the ticks it missed while paused, waits one to two whole periods
(17-33 ms) before it draws again: most of an incoming call's p99 on a front-end (bench/attach.py). Without the
skipping, a screen that has waited draws at once, and one that draws more than 60 times a second for long is
still held to the grid, since the timer's count then catches up with the clock.

A screen that comes back whole (the screen over it closed, or it is pushed again) is painted from the lines
it has rather than drawn again (repaint_as_drawn).

It relies on Screen._update_timer (a private property of Textual, whose Timer takes `_skip` from its
`skip` argument), and for the repaint on Widget's `_dirty_regions`, `_repaint_regions` and `_repaint_required`
and App's `_css_update_count`; `tests/tui/test_screen_updates.py` fails if they change.
"""

from __future__ import annotations

import weakref
from typing import Any

from textual.screen import Screen

_PACED = Screen.__dict__["_update_timer"]      # Textual's property (makes the timer on first use)
_styled_at: weakref.WeakKeyDictionary[Screen, int] = weakref.WeakKeyDictionary()   # the CSS count it was styled at
_resumed: weakref.WeakSet[Screen] = weakref.WeakSet()      # resumed as left: its next whole repaint keeps its lines
_just_mounted: weakref.WeakSet[Screen] = weakref.WeakSet()     # styled as it mounted; its first resume is next


def _unpaced_timer(screen: Screen) -> Any:
    timer = _PACED.fget(screen)
    timer._skip = False
    return timer


def draw_when_changed() -> None:
    """From now on every screen of this process draws as soon as it is idle after a change (idempotent)."""
    if Screen.__dict__["_update_timer"] is _PACED:
        Screen._update_timer = property(_unpaced_timer, doc=_PACED.__doc__)   # type: ignore[method-assign,assignment]



def whole_repaint(regions: tuple, repaint: bool, layout: bool, recompose: bool) -> bool:
    """Whether a `refresh` call asks only for the whole screen to be painted again (no layout, no recompose)."""
    return not regions and repaint and not (layout or recompose)


def repaint_as_drawn(screen: Screen) -> None:
    """Paint the whole screen again from the lines already drawn (in place of Screen.refresh, which also
    discards the screen's own lines: its background, every row of the terminal)."""
    region = screen.outer_size.region
    screen._dirty_regions.add(region)        # what Widget._set_dirty does, less its StylesCache.clear
    screen._repaint_regions.add(region)
    screen._repaint_required = True
    screen.check_idle()


def styled_at_mount(screen: Screen) -> None:
    """Call it in a screen's `on_mount`: Textual has just styled each of its widgets as it mounted, so the
    restyle of the whole screen at its first resume, which follows, is skipped while the app's CSS is the same
    (see resume_as_left; on the idle screen at the TUI's start that restyle was ~5 ms of ~45 ms to the first
    frame). Its first paint is whole as ever."""
    _styled_at[screen] = screen.app._css_update_count
    _just_mounted.add(screen)


def resume_as_left(screen: Screen, event: Any) -> None:
    """A screen pushed again as it was left: call it first in the screen's own `_on_screen_resume` (it runs
    before Screen's, which restyles the screen whole and repaints it whole).

    When the app's CSS (a theme) has not changed since the screen was last styled (Textual counts those
    changes: App._css_update_count) and the terminal kept its size, Screen's restyle is skipped (a class set
    on a widget while the screen waited restyled that widget then), and its whole repaint is drawn from the
    lines it has: the screen's `refresh` asks `resumed_as_left` first."""
    count = screen.app._css_update_count
    first = screen in _just_mounted
    _just_mounted.discard(screen)
    if count == _styled_at.get(screen) and (first or screen._size == screen.app.size):
        event.refresh_styles = False
        if screen.is_attached and not first:       # Screen's handler then refreshes it
            _resumed.add(screen)
    _styled_at[screen] = count


def resumed_as_left(screen: Screen) -> bool:
    """In a screen's `refresh` (for a whole repaint): whether it is the one resume_as_left allowed."""
    if screen in _resumed:
        _resumed.discard(screen)
        return True
    return False
