"""A sound level meter: a bar from -60 to 0 dBFS with a falling peak mark and the level in figures.

The owner samples a level (e.g. `LocalAudio.levels()` on a 10 Hz timer) and calls `show(dbfs)`;
the widget redraws only when what it shows has moved.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["LevelMeter", "meter_text"]

FLOOR_DBFS = -60.0                 # the bar's left end; anything quieter shows an empty bar
SILENCE_DBFS = -120.0
PEAK_FALL_DB = 1.5                 # per show(): at 10 Hz the peak mark falls 15 dB a second
ZONES = ((-18.0, "green"), (-6.0, "yellow"), (0.0, "red"))   # the colour of the bar up to each level


def _zone(dbfs: float) -> str:
    return next((style for top, style in ZONES if dbfs <= top), "red")


def meter_text(label: str, dbfs: float, peak: float, width: int, label_width: int = 0) -> Text:
    """One line: `label  ██████████·······│···  -12 dBFS`, fitted to `width` cells."""
    figures = f"{max(dbfs, SILENCE_DBFS):5.0f} dBFS"
    name = label + " " * max(0, label_width - cell_len(label))
    bar_width = max(4, width - cell_len(name) - len(figures) - 4)
    text = Text(f"{name}  " if name else "")

    def cells(level: float) -> int:
        return round(bar_width * min(max((level - FLOOR_DBFS) / -FLOOR_DBFS, 0.0), 1.0))

    filled, peak_at = cells(dbfs), cells(peak) - 1
    for i in range(bar_width):
        level_here = FLOOR_DBFS + (i + 1) * -FLOOR_DBFS / bar_width
        if i < filled:
            text.append("█", style=_zone(level_here))
        elif i == peak_at and peak > FLOOR_DBFS:
            text.append("│", style=f"bold {_zone(level_here)}")
        else:
            text.append("·", style="dim")
    text.append(f"  {figures}")
    return text


class LevelMeter(Widget):
    """One labelled meter line."""

    DEFAULT_CSS = """
    LevelMeter { height: 1; width: 1fr; padding: 0 1; }
    """

    level: reactive[float] = reactive(SILENCE_DBFS)
    peak: reactive[float] = reactive(SILENCE_DBFS)

    def __init__(self, label: str = "", *, label_width: int = 0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.label_width = label_width

    def show(self, dbfs: float) -> None:
        """Show a new level; the peak mark holds the loudest and falls back slowly."""
        level = round(max(dbfs, SILENCE_DBFS) * 2) / 2      # half-dB steps: no redraw for noise in the figures
        self.level = level
        self.peak = max(level, self.peak - PEAK_FALL_DB)

    def render(self) -> Text:
        return meter_text(self.label, self.level, self.peak, self.content_size.width, self.label_width)
