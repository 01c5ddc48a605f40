"""Call progress tones and key feedback, by region (`audio.tone_region`: us, cn, uk).

Each tone is a cadence — a list of (frequencies, milliseconds) segments, silence where there
are no frequencies — rendered once into a table of samples; a `TonePlayer` then only copies
from that table, which keeps the sound card's thread cheap.

Plans follow ANSI T1.401 (us), GB 3380 / YD/T 1117 (cn) and BT SIN 350 (uk), as tabled in
Asterisk's indications.conf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tuiphone.audio.frames import RATE

__all__ = [
    "DTMF_KEYS",
    "REGIONS",
    "TONE_NAMES",
    "Segment",
    "TonePlayer",
    "ToneSpec",
    "dtmf_freqs",
    "make_tone",
    "render",
    "tone_spec",
]

REGIONS = ("us", "cn", "uk")
TONE_NAMES = ("dial", "ringback", "busy", "congestion", "call_waiting", "confirmation")
DTMF_KEYS = "123A456B789C*0#D"
_DTMF_LOW = (697, 770, 852, 941)
_DTMF_HIGH = (1209, 1336, 1477, 1633)
_RAMP_MS = 4                       # fade in/out at every tone edge: no clicks


@dataclass(frozen=True)
class Segment:
    """A stretch of a cadence: these frequencies (none = silence) for `ms` milliseconds."""

    freqs: tuple[float, ...]
    ms: int


@dataclass(frozen=True)
class ToneSpec:
    """A named tone: its cadence and whether it repeats."""

    name: str
    segments: tuple[Segment, ...]
    loop: bool

    @property
    def cycle_ms(self) -> int:
        return sum(s.ms for s in self.segments)


def _cad(*parts: tuple[tuple[float, ...], int]) -> tuple[Segment, ...]:
    return tuple(Segment(tuple(f), ms) for f, ms in parts)


_OFF: tuple[float, ...] = ()

_PLANS: dict[str, dict[str, tuple[tuple[Segment, ...], bool]]] = {
    "us": {
        "dial": (_cad(((350, 440), 1000)), True),
        "ringback": (_cad(((440, 480), 2000), (_OFF, 4000)), True),
        "busy": (_cad(((480, 620), 500), (_OFF, 500)), True),
        "congestion": (_cad(((480, 620), 250), (_OFF, 250)), True),
        "call_waiting": (_cad(((440,), 300), (_OFF, 10000)), True),
        "confirmation": (_cad(((350, 440), 100), (_OFF, 100), ((350, 440), 100), (_OFF, 100),
                              ((350, 440), 100)), False),
    },
    "cn": {
        "dial": (_cad(((450,), 1000)), True),
        "ringback": (_cad(((450,), 1000), (_OFF, 4000)), True),
        "busy": (_cad(((450,), 350), (_OFF, 350)), True),
        "congestion": (_cad(((450,), 700), (_OFF, 700)), True),
        "call_waiting": (_cad(((450,), 400), (_OFF, 4000)), True),
        "confirmation": (_cad(((450,), 100), (_OFF, 100), ((450,), 100), (_OFF, 100),
                              ((450,), 100)), False),
    },
    "uk": {
        "dial": (_cad(((350, 440), 1000)), True),
        "ringback": (_cad(((400, 450), 400), (_OFF, 200), ((400, 450), 400), (_OFF, 2000)), True),
        "busy": (_cad(((400,), 375), (_OFF, 375)), True),
        "congestion": (_cad(((400,), 400), (_OFF, 350), ((400,), 225), (_OFF, 525)), True),
        "call_waiting": (_cad(((400,), 100), (_OFF, 4000)), True),
        "confirmation": (_cad(((350, 440), 100), (_OFF, 100), ((350, 440), 100), (_OFF, 100),
                              ((350, 440), 100)), False),
    },
}


def dtmf_freqs(key: str) -> tuple[int, int]:
    """The (low, high) frequency pair of a DTMF key: 0-9, *, #, A-D."""
    k = key.upper()
    if len(k) != 1 or k not in DTMF_KEYS:
        raise ValueError(f"{key!r} is not a DTMF key: use 0-9, *, # or A-D")
    row, col = divmod(DTMF_KEYS.index(k), 4)
    return _DTMF_LOW[row], _DTMF_HIGH[col]


def tone_spec(name: str, region: str = "us") -> ToneSpec:
    """The cadence of a tone: one of TONE_NAMES, or "dtmf:K" for the key feedback of key K."""
    if name.startswith("dtmf:"):
        return ToneSpec(name, _cad((dtmf_freqs(name[5:]), 100)), loop=False)
    if region not in _PLANS:
        raise ValueError(f"tone region {region!r} is unknown: use {', '.join(REGIONS)}")
    if name not in _PLANS[region]:
        raise ValueError(f"there is no tone called {name!r}: use {', '.join(TONE_NAMES)} or dtmf:KEY")
    segments, loop = _PLANS[region][name]
    return ToneSpec(name, segments, loop)


def render(spec: ToneSpec, rate: int = RATE, level_dbfs: float = -18.0) -> np.ndarray:
    """One cycle of a tone's cadence as int16 samples (each frequency at `level_dbfs`).

    On-segments start at phase zero and fade in and out over a few ms, except where a looping
    steady tone joins itself — that seam is continuous already (whole cycles per second).
    """
    amplitude = 32767.0 * 10.0 ** (level_dbfs / 20.0)
    segs = spec.segments
    parts = []
    for i, seg in enumerate(segs):
        n = round(seg.ms * rate / 1000)
        if not seg.freqs:
            parts.append(np.zeros(n, dtype=np.float64))
            continue
        t = np.arange(n, dtype=np.float64)
        x = sum(np.sin(2.0 * math.pi * f / rate * t) for f in seg.freqs) * amplitude
        prev = segs[i - 1] if (i > 0 or spec.loop) else None
        nxt = segs[(i + 1) % len(segs)] if (i + 1 < len(segs) or spec.loop) else None
        seamless = spec.loop and len(segs) == 1 and all((f * seg.ms) % 1000 == 0 for f in seg.freqs)
        if not seamless:
            ramp = np.linspace(0.0, 1.0, min(n // 2, round(_RAMP_MS * rate / 1000)))
            if prev is None or prev.freqs != seg.freqs or len(segs) == 1:
                x[: len(ramp)] *= ramp
            if nxt is None or nxt.freqs != seg.freqs or len(segs) == 1:
                x[n - len(ramp) :] *= ramp[::-1]
        parts.append(x)
    return np.rint(np.concatenate(parts)).astype(np.int16)


@lru_cache(maxsize=64)
def _table(name: str, region: str, level_dbfs: float) -> np.ndarray:
    table = render(tone_spec(name, region), RATE, level_dbfs)
    table.setflags(write=False)    # shared between players
    return table


class TonePlayer:
    """A frame source that plays a rendered cadence: round and round, or once then silence."""

    def __init__(self, samples: np.ndarray, loop: bool = True, name: str = ""):
        self.name = name
        self.loop = loop
        self._table = samples
        self.position = 0

    @property
    def finished(self) -> bool:
        return not self.loop and self.position >= len(self._table)

    def read(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int16)
        table, size = self._table, len(self._table)
        filled = 0
        while filled < n and size and (self.loop or self.position < size):
            if self.position >= size:
                self.position = 0
            take = min(n - filled, size - self.position)
            out[filled : filled + take] = table[self.position : self.position + take]
            filled += take
            self.position += take
        return out


def make_tone(name: str, region: str = "us", loop: bool | None = None,
              level_dbfs: float = -18.0) -> TonePlayer:
    """A player for a call progress tone or "dtmf:K"; loop defaults to the tone's own habit."""
    spec = tone_spec(name, region)
    table = _table(name, region if not name.startswith("dtmf:") else "us", float(level_dbfs))
    return TonePlayer(table, spec.loop if loop is None else loop, name)
