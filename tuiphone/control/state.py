"""What a front-end needs to draw the phone at once: its state folded from the engine's events.

The phone process keeps one `PhoneView` up to date from the events (on its loop) and sends it as the
snapshot to each front-end that connects; the front-end rebuilds it (`PhoneView.from_data`) and goes on
applying the events that follow, so it always knows the lines (with when they started and began talking:
timers go on where they were), registrations, features, voicemail, BLF keys, pages and recent notices.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuiphone.control.codec import from_data, to_data
from tuiphone.engine.events import (
    Blf,
    CallStarted,
    CallState,
    FeaturesChanged,
    LineState,
    Mwi,
    Notice,
    PageState,
    RegState,
)

NOTICES_KEPT = 20


@dataclass
class LineInfo:
    call: CallState
    started: float | None = None          # wall-clock time the call began (its CallStarted)
    talking_since: float | None = None    # wall-clock time it was first answered; None while never


class PhoneView:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lines: dict[int, LineInfo] = {}
        self.registrations: dict[int, RegState] = {}
        self.features: FeaturesChanged | None = None
        self.mwi: dict[int | None, Mwi] = {}
        self.blf: dict[int, Blf] = {}
        self.pages: dict[str, PageState] = {}           # "in" | "out" -> the page playing or being sent
        self.notices: deque[Notice] = deque(maxlen=NOTICES_KEPT)
        self._began: dict[int, float] = {}               # line -> CallStarted.started seen before its CallState

    @classmethod
    def of_phone(cls, phone: Any, clock: Callable[[], float] = time.time) -> PhoneView:
        """What `phone` shows now, through its public state (call once, then apply its events)."""
        view = cls(clock)
        now = clock()
        for call in phone.lines():
            view.lines[call.line] = LineInfo(call, now, now if call.state == LineState.TALKING else None)
        view.registrations.update(phone.registrations())
        view.features = phone.feature_state()
        for account, (waiting, new, old) in dict(phone.voicemail).items():
            view.mwi[account] = Mwi(account, waiting, new, old)
        keys = phone.config.keys
        for index, state in dict(phone.blf).items():
            if 0 <= index < len(keys):
                view.blf[index] = Blf(index, keys[index].value, state)
        pager = getattr(phone, "pager", None)
        page = pager.page if pager is not None else None
        if page is not None and page.active:
            view.pages[page.direction] = page
        return view

    def apply(self, event: Any) -> None:
        if isinstance(event, CallState):
            self._call_state(event)
        elif isinstance(event, CallStarted):
            info = self.lines.get(event.line)
            if info is not None and info.started is None:
                info.started = event.started
            else:
                self._began[event.line] = event.started
        elif isinstance(event, RegState):
            self.registrations[event.account] = event
        elif isinstance(event, FeaturesChanged):
            self.features = event
        elif isinstance(event, Mwi):
            self.mwi[event.account] = event
        elif isinstance(event, Blf):
            self.blf[event.key] = event
        elif isinstance(event, PageState):
            if event.active:
                self.pages[event.direction] = event
            else:
                self.pages.pop(event.direction, None)
        elif isinstance(event, Notice):
            self.notices.append(event)

    def _call_state(self, call: CallState) -> None:
        if call.state in (LineState.ENDED, LineState.IDLE):
            self.lines.pop(call.line, None)
            self._began.pop(call.line, None)
            return
        info = self.lines.get(call.line)
        if info is None or (info.call.call_id and call.call_id and info.call.call_id != call.call_id):
            info = self.lines[call.line] = LineInfo(call, self._began.pop(call.line, None) or self.clock())
        info.call = call
        if call.state == LineState.TALKING and info.talking_since is None:
            info.talking_since = self.clock()

    def calls(self) -> list[CallState]:
        return [self.lines[n].call for n in sorted(self.lines)]

    def to_data(self) -> dict[str, Any]:
        return {
            "lines": [{"call": to_data(info.call), "started": info.started, "talking_since": info.talking_since}
                      for _, info in sorted(self.lines.items())],
            "registrations": [to_data(r) for _, r in sorted(self.registrations.items())],
            "features": to_data(self.features),
            "mwi": [to_data(m) for m in self.mwi.values()],
            "blf": [to_data(b) for _, b in sorted(self.blf.items())],
            "pages": [to_data(p) for p in self.pages.values()],
            "notices": [to_data(n) for n in self.notices],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], clock: Callable[[], float] = time.time) -> PhoneView:
        """The view a snapshot describes; codec.CodecError when it is not one."""
        view = cls(clock)
        for item in data.get("lines", []):
            call = from_data(CallState, item["call"])
            view.lines[call.line] = LineInfo(call, from_data(float | None, item.get("started")),
                                             from_data(float | None, item.get("talking_since")))
        for item in data.get("registrations", []):
            reg = from_data(RegState, item)
            view.registrations[reg.account] = reg
        view.features = from_data(FeaturesChanged | None, data.get("features"))
        for item in data.get("mwi", []):
            mwi = from_data(Mwi, item)
            view.mwi[mwi.account] = mwi
        for item in data.get("blf", []):
            blf = from_data(Blf, item)
            view.blf[blf.key] = blf
        for item in data.get("pages", []):
            page = from_data(PageState, item)
            view.pages[page.direction] = page
        view.notices.extend(from_data(Notice, item) for item in data.get("notices", []))
        return view
