"""Keep the audio callbacks on time while a UI shares the interpreter.

pjmedia's clock no longer needs Python (the local port is C), but the sound card's callbacks do: each
needs the GIL for its few microseconds of copying. Two things hold the GIL far longer than a 20 ms frame
while the Textual UI redraws:
- the cyclic garbage collector: full collections of the running app walked every live widget, style and
  cached segment, up to ~200 ms (bench/audio_path.py). Freezing what lives once the app is up (tuiphone.collector)
  moves it out of the collector's walks. What the full collections still cost then is freeing the UI's cyclic garbage
  (~9000 objects, 12-40 ms, with Python's own cadence); collecting it five times as often, a fifth at a
  time, keeps each pause under ~20 ms. Turning full collections off stops the pauses, but the UI's cyclic
  garbage then grows by ~90 MB a minute;
- the interpreter's switch interval: a callback that wants the GIL while the UI thread runs Python
  waits up to one interval (5 ms by default) for each hand-over, several times per frame.
"""

from __future__ import annotations

import sys

__all__ = ["SWITCH_INTERVAL_S", "hand_over_sooner"]

SWITCH_INTERVAL_S = 0.001


def hand_over_sooner(interval_s: float = SWITCH_INTERVAL_S) -> None:
    """A thread that wants the GIL gets it within `interval_s` of asking (Python's default is 5 ms)."""
    sys.setswitchinterval(interval_s)
