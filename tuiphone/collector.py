"""The cyclic garbage collector over the life of a tuiphone process: held off while it starts, then the start's
objects frozen out of its walks.

A process of the phone starts by importing and building objects that live as long as it does (modules, classes,
the config, the app's screens, widgets and styles). With Python's thresholds (700, 10, 10) the collector walks
them over and over before the TUI has drawn anything: about 90 young and 9 middle collections from `tuiphone`'s
start to its first screen, ~40 ms of a ~600 ms start on 2 shared cores (counted with `gc.callbacks`), and they
find almost nothing to free. So:

- `hold_for_start`: the entry point (`tuiphone.__main__`) raises the young generation's threshold before it
  imports anything else, so no collection runs while the process starts;
- `as_usual`: a command other than the TUI goes back to Python's thresholds as it starts its work;
- `freeze_what_lives`: the TUI, once up, collects once, moves what lives out of future collections and then
  collects the old generation in smaller, shorter pieces (audio.realtime says why that matters for the sound
  card's callbacks).
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "START_THRESHOLD", "as_usual", "freeze_what_lives", "hold_for_start"]

START_THRESHOLD = 200_000             # young objects between collections while the process starts (~70k by
                                      # the attached TUI's first screen, ~130k by the standalone one's)
PYTHON_THRESHOLDS = (700, 10, 10)     # Python's own
GC_THRESHOLDS = (1000, 5, 2)          # full collections 5x as often as with (2000, 10, 10), each a fifth as long


def hold_for_start() -> None:
    """No collection while the process starts (the young generation's threshold raised; the others kept)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(START_THRESHOLD, middle, old)


def as_usual() -> None:
    """Back to Python's thresholds, if the start held them (a held process that is no TUI: a command)."""
    if gc.get_threshold()[0] == START_THRESHOLD:
        gc.set_threshold(*PYTHON_THRESHOLDS)


def freeze_what_lives() -> None:
    """Collect once, then keep every object alive now out of future collections (they stay alive anyway:
    the app, its screens and widgets, the phone), and collect the old generation more often, in smaller,
    shorter pieces.
    Call it once the app is up, not in tests: frozen objects are never freed."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
