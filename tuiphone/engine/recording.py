"""Recording calls (seed 3.3): a recorder per line, fed by the call's own port or by the local audio's taps.

Runs on the SIP thread, like the rest of the phone logic (the taps themselves are called on the audio threads).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tuiphone.audio.frames import FrameSource
from tuiphone.audio.recorder import CallRecorder, recording_path
from tuiphone.engine.backend import CallMedia
from tuiphone.engine.events import LineState
from tuiphone.engine.lines import Line
from tuiphone.engine.phone_error import PhoneError
from tuiphone.engine.phone_part import PhonePart

if TYPE_CHECKING:
    from tuiphone.engine.phone import Phone


class LocalTaps:
    """What the local microphone says (and, with the C local port, what the local speaker hears from the
    calls), copied to the recorders of the lines joined to the local audio — never to a held line's.

    With the local port in Python it is also that port's source (`read`). Its dicts are replaced whole:
    the audio threads iterate a stable one.
    """

    def __init__(self) -> None:
        self.source: FrameSource | None = None     # set before the local port reads
        self.hears_calls = False       # rx frames come through `rx` (C port), not through call ports
        self._recorders: dict[int, CallRecorder] = {}
        self._joined: frozenset[int] = frozenset()
        self._live: tuple[CallRecorder, ...] = ()

    def add(self, cid: int, rec: CallRecorder) -> None:
        self._recorders = {**self._recorders, cid: rec}
        self._refresh()

    def remove(self, cid: int) -> None:
        if cid in self._recorders:
            self._recorders = {k: v for k, v in self._recorders.items() if k != cid}
            self._refresh()

    def set_joined(self, cids: set[int]) -> None:
        self._joined = frozenset(cids)
        self._refresh()

    def _refresh(self) -> None:
        self._live = tuple(rec for cid, rec in self._recorders.items() if cid in self._joined)

    def tx(self, frame: np.ndarray) -> None:
        for rec in self._live:
            rec.tx(frame)

    def rx(self, frame: np.ndarray) -> None:
        for rec in self._live:
            rec.rx(frame)

    def read(self, n: int) -> np.ndarray:
        assert self.source is not None     # the local port reads only once the handset set it
        frame = self.source.read(n)
        for rec in self._live:
            rec.tx(frame)
        return frame


class Recording(PhonePart):
    """The recordings of the lines (by line number) and the taps on the local audio."""

    def __init__(self, phone: Phone) -> None:
        super().__init__(phone)
        self.recorders: dict[int, CallRecorder] = {}     # line -> its recording
        self.taps = LocalTaps()                          # what the local audio says and hears, to recorders

    def record(self, line: int, on: bool) -> str | None:
        """Start or stop recording a line (both sides); the file's path."""
        ln = self.phone.line_table.get(line)
        if on:
            if self.config.features.record == "off":
                raise PhoneError("Recording is turned off: set features.record to manual or auto.", "failed")
            if ln.state not in (LineState.TALKING, LineState.HELD):
                raise PhoneError(f"Line {line} is not in a call.", "failed")
            return str(self.start(ln) or "")
        path = self.stop(ln)
        return str(path) if path else None

    def _record_dir(self) -> Path:
        folder = self.config.features.record_dir
        if folder:
            return Path(folder).expanduser()
        base = Path(self.phone.data_dir) if self.phone.data_dir else Path.cwd()
        return base / "recordings"

    def start(self, ln: Line) -> Path | None:
        if ln.number in self.recorders:
            return self.recorders[ln.number].path
        try:
            folder = self._record_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = recording_path(folder, ln.number, ln.remote_number or ln.remote_uri)
            number = ln.number

            def on_error(text: str) -> None:
                self.backend.submit(lambda: self._failed(number, text))

            rec = CallRecorder(path, stereo=self.config.features.record_stereo, on_error=on_error)
        except (OSError, ValueError) as exc:
            self.phone._notice(f"Cannot record line {ln.number}: {exc}", "warning")
            return None
        self.recorders[ln.number] = rec
        if self.phone.local_audio is not None:
            self.taps.add(ln.cid, rec)
        # with the C local port the taps hear the call too; otherwise the call's own port feeds the recorder
        media = CallMedia(source=ln.media.source,
                          sinks=[*ln.media.sinks, *(() if self.taps.hears_calls else (rec.rx_sink,))])
        if self.phone.local_audio is None:
            media.source = rec.tx_tap(ln.media.source) if ln.media.source is not None else None
        ln.media = media
        self.backend.set_media(ln.cid, media)
        ln.recording = True
        self.phone._emit(ln.snapshot())
        return path

    def stop(self, ln: Line) -> Path | None:
        rec = self.recorders.pop(ln.number, None)
        if rec is None:
            return None
        self.taps.remove(ln.cid)
        media = CallMedia(source=ln.media.source, sinks=[s for s in ln.media.sinks if s is not rec.rx_sink])
        ln.media = media
        if ln.state != LineState.ENDED:
            self.backend.set_media(ln.cid, media)
        ln.recording = False
        path = rec.stop()
        if ln.state != LineState.ENDED:
            self.phone._emit(ln.snapshot())
        if path is not None:
            self.phone._notice(f"Recording of line {ln.number} saved to {path}.")
        return path

    def _failed(self, number: int, text: str) -> None:
        ln = self.phone.line_table.numbers.get(number)
        if ln is not None and number in self.recorders:
            self.stop(ln)
        self.phone._notice(f"Recording of line {number} stopped: {text}", "warning")
