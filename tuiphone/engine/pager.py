"""Pager: multicast paging inside a running phone (seed 3.5).

- Listens to the `[[paging.listen]]` groups (audio.paging.PagingListener does the priorities) and
  plays a page through the phone's speaker as the mixer stream "paging" (a SampleRing read through
  a DriftCorrector: the listener's clock and the sound card's meet there). With no local audio the
  page still plays, to nothing, and still counts for barging.
- `paging.barge` against calls: 0 = a page waits while a call is up; N = pages of priority 1..N-1
  hold the talking call (or hang it up, `barge_action = "hangup"`) and it is resumed when the page ends.
  A call that starts talking ends a page that could not have interrupted it.
- Sends the microphone to a group (`start_sending`/`stop_sending`, for the paging keys and the Page
  screen); a call that starts talking takes the microphone back and ends the page.
- Emits `PageState` through the phone's event stream whenever a page starts or ends, either way.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from tuiphone.audio.frames import RATE
from tuiphone.audio.paging import (
    SILENCE_TIMEOUT,
    Page,
    PagingError,
    PagingGroup,
    PagingListener,
    PagingSender,
    barge_level,
    check_groups,
    check_port,
    paging_codec,
    parse_group,
    used_ports,
)
from tuiphone.audio.ringbuffer import DriftCorrector, SampleRing
from tuiphone.engine.events import CallState, Event, LineState, Notice, PageState

__all__ = ["STREAM", "Pager", "PagerError", "attach_pager"]

log = logging.getLogger(__name__)

STREAM = "paging"                  # the mixer stream a page plays on
PLAY_TARGET = RATE * 40 // 1000    # 40 ms in the ring between the listener's clock and the speaker's
_BUSY = (LineState.TALKING, LineState.CALLING)    # a call in progress, which only barging pages interrupt


class PagerError(Exception):
    """A page that cannot be sent or groups that cannot be joined; `str()` is a sentence for the user."""


class _PageSink:
    """The listener's frame sink: the ring of the page playing now (None: the page plays to nothing)."""

    def __init__(self) -> None:
        self.ring: SampleRing | None = None

    def write(self, frame: np.ndarray) -> None:
        ring = self.ring
        if ring is not None:
            ring.write(frame)


class Pager:
    """The paging system of one phone: `start()` it after the phone, `stop()` it before.

    Commands are safe from any thread. Listener callbacks run on the listener's thread and phone
    events on the SIP thread; the call bookkeeping they share is kept under one short lock.
    """

    def __init__(self, phone: Any, *, interface: str = "", silence_timeout: float = SILENCE_TIMEOUT):
        self.phone = phone
        self.settings = phone.config.paging
        self.local_audio = phone.local_audio
        self.interface = interface
        self.silence_timeout = silence_timeout
        self._listener: PagingListener | None = None
        self._sender: PagingSender | None = None
        self._watcher: threading.Thread | None = None
        self._sending: str | None = None
        self._page: PageState | None = None
        self._sink = _PageSink()
        self._lock = threading.Lock()
        self._lines: dict[int, LineState] = {}
        self._held: dict[int, bool] = {}       # lines a barging page held -> their HELD has been seen
        self._resuming: set[int] = set()       # lines handed back, until they talk again
        self._unsubscribe: Any = None
        self._send_lock = threading.Lock()     # one start/stop of the sender at a time
        self.problem: str | None = None        # why the groups could not be joined, for the UI to show

    # ------------------------------------------------------------ state (any thread)

    @property
    def groups(self) -> list[PagingGroup]:
        """The groups listened to, in priority order (empty when not listening)."""
        listener = self._listener
        return list(listener.groups) if listener is not None else []

    @property
    def listening(self) -> bool:
        return self._listener is not None

    @property
    def page(self) -> PageState | None:
        """The page being played now, if any."""
        return self._page

    @property
    def sending(self) -> str | None:
        """The group (`addr:port`, as given) a page is being sent to, or None."""
        return self._sending

    # ------------------------------------------------------------ life

    def start(self) -> None:
        """Follow the phone's calls and join the `[[paging.listen]]` groups (if any).

        A PagerError says why the groups cannot be joined; sending works all the same.
        """
        if self._unsubscribe is None:
            self._unsubscribe = self.phone.subscribe(self._on_event)
            with self._lock:
                self._lines = {s.line: s.state for s in self.phone.lines() if s.state != LineState.ENDED}
        if self._listener is not None or not self.settings.listen:
            return
        try:
            groups = check_groups([(*parse_group(g.address), g.label) for g in self.settings.listen],
                                  self._used_ports())
            listener = PagingListener(
                groups, priority_active=self.settings.priority_active, on_page_start=self._page_started,
                on_page_end=self._page_ended, sink=self._sink, interface=self.interface,
                may_start=self._may_start, silence_timeout=self.silence_timeout)
            listener.start()
        except PagingError as exc:
            self.problem = _sentence(str(exc))
            raise PagerError(self.problem) from None
        self.problem = None
        self._listener = listener
        log.info("listening to paging groups %s", ", ".join(str(g) for g in groups))

    def stop(self) -> None:
        """End any page sent or played and leave the groups."""
        self.stop_sending()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ------------------------------------------------------------ listening

    def end_page(self) -> None:
        """Stop playing the page heard now; it does not come back until its sender pauses."""
        listener = self._listener
        if listener is not None:
            listener.end_page()

    def _page_started(self, page: Page) -> None:
        if self.local_audio is not None:
            ring = SampleRing(RATE)
            self._sink.ring = ring
            self.local_audio.add_stream(STREAM, DriftCorrector(ring, target=PLAY_TARGET))
        state = PageState("in", page.group.target, page.group.label, True)
        self._page = state
        log.info("page on %s from %s (%s)", page.group, page.sender, page.codec)
        self._emit(state)

    def _page_ended(self, page: Page, reason: str) -> None:
        if self.local_audio is not None:
            self.local_audio.remove_stream(STREAM)
        self._sink.ring = None
        self._page = None
        log.info("page on %s ended (%s)", page.group, reason)
        self._emit(PageState("in", page.group.target, page.group.label, False))
        if reason != "replaced":       # a replacing page plays on: the held call stays held
            self._give_calls_back()

    def _may_start(self, group: PagingGroup) -> bool:
        """Asked by the listener before a page plays: False keeps it waiting."""
        with self._lock:
            busy = [n for n, s in self._lines.items() if s in _BUSY] or sorted(self._resuming)
            if not busy:
                return True
            if not barge_level(group.priority, self.settings.barge):
                return False
            interrupt = sorted({n for n, s in self._lines.items() if s == LineState.TALKING} | self._resuming)
            self._resuming.clear()
            hang_up = self.settings.barge_action == "hangup"
            if not hang_up:
                self._held.update({n: False for n in interrupt})
        for n in interrupt:
            log.info("page on %s barges in: %s line %d", group, "hanging up" if hang_up else "holding", n)
            (self.phone.hangup if hang_up else self.phone.hold)(n)
        return True

    def _give_calls_back(self) -> None:
        """Resume the call a barging page held, unless the user has taken up another one meanwhile."""
        with self._lock:
            held = sorted(n for n in self._held if n in self._lines)
            self._held.clear()
            if any(s == LineState.TALKING for s in self._lines.values()):
                held = []
            back = held[:1]            # one line talks at a time
            self._resuming.update(back)
        for n in back:
            log.info("page over: resuming line %d", n)
            self.phone.resume(n).add_done_callback(lambda fut, n=n: self._resumed(n, fut))

    def _resumed(self, line: int, fut: Any) -> None:
        if fut.exception() is not None:
            with self._lock:
                self._resuming.discard(line)
            log.info("line %d was not resumed after the page: %s", line, fut.exception())

    # ------------------------------------------------------------ sending

    def start_sending(self, target: str, codec: str | None = None) -> None:
        """Page `target` ("addr:port") with the microphone until `stop_sending()`.

        A page already being sent ends first. PagerError (a sentence) for a bad target or codec, a
        port the phone uses, a talking call (it has the microphone) or a phone with no microphone.
        """
        target = target.strip()
        try:
            address, port = parse_group(target)
            check_port(target, port, self._used_ports())
            codec_name = paging_codec(codec or self.settings.codec).name
        except PagingError as exc:
            raise PagerError(_sentence(str(exc))) from None
        if self.local_audio is None:
            raise PagerError("This phone has no microphone to page with; page a sound file with "
                             "`tuiphone page ADDR:PORT --play WAV` instead.")
        with self._lock:
            talking = sorted(n for n, s in self._lines.items() if s == LineState.TALKING)
        if talking:
            raise PagerError(f"Line {talking[0]} is in a call and has the microphone; hold it or hang up, "
                             "then page.")
        with self._send_lock:
            self._stop_sender()
            try:
                sender = PagingSender(address, port, codec_name, source=self.local_audio.mic,
                                      interface=self.interface, ptime=self.settings.ptime)
                sender.start()
            except PagingError as exc:
                raise PagerError(_sentence(str(exc))) from None
            label = self._label_of(target)
            self._sender, self._sending = sender, target
            self._watcher = threading.Thread(target=self._watch, args=(sender, target, label),
                                             name="page-watch", daemon=True)
            log.info("paging %s with %s", target, codec_name)
            self._emit(PageState("out", target, label, True))
            self._watcher.start()

    def stop_sending(self) -> None:
        """End the page being sent (nothing happens when none is)."""
        with self._send_lock:
            self._stop_sender()

    def _stop_sender(self) -> None:
        sender, watcher = self._sender, self._watcher
        if sender is not None:
            sender.stop()
        if watcher is not None:
            watcher.join(2.0)          # its "page ended" goes out before anything that follows

    def _watch(self, sender: PagingSender, target: str, label: str) -> None:
        sender.wait()
        if self._sender is sender:
            self._sender, self._sending, self._watcher = None, None, None
        if sender.error:
            self._emit(Notice(_sentence(sender.error), "warning"))
        log.info("page to %s ended after %.1f s", target, sender.seconds)
        self._emit(PageState("out", target, label, False))

    def _label_of(self, target: str) -> str:
        """The label of the paging key (or else the listened group) for `target`."""
        for key in self.phone.config.keys:
            if key.mode == "paging" and key.value.strip() == target and key.label:
                return str(key.label)
        for group in self.settings.listen:
            if group.address == target and group.label:
                return str(group.label)
        return ""

    # ------------------------------------------------------------ the phone's side

    def _used_ports(self) -> dict[int, str]:
        used = used_ports(self.phone.config)
        try:
            port = int(self.phone.backend.local_address().rsplit(":", 1)[1])
        except (KeyError, ValueError, IndexError, AttributeError):
            return used        # no UDP transport: the config's ports are all there is
        used.setdefault(port, "the phone's SIP transport")
        return used

    def _on_event(self, event: Event) -> None:
        """Follow the lines (on the SIP thread): what is busy, what a page held, what talks again."""
        if not isinstance(event, CallState):
            return
        n, state = event.line, event.state
        with self._lock:
            lines = dict(self._lines)      # replaced whole: the listener thread reads it without copying
            if state == LineState.ENDED:
                lines.pop(n, None)
                self._held.pop(n, None)
            else:
                lines[n] = state
                if n in self._held:
                    if state == LineState.HELD:
                        self._held[n] = True
                    elif state == LineState.TALKING and self._held[n]:
                        del self._held[n]          # the user took the call back during the page
            if state != LineState.HELD:
                self._resuming.discard(n)
            self._lines = lines
        if state != LineState.TALKING:
            return
        if self._sender is not None:
            # the call needs the microphone: end the page off the SIP thread
            threading.Thread(target=self._call_took_mic, args=(n,), name="page-stop", daemon=True).start()
        listener = self._listener
        playing = listener.active if listener is not None else None
        if (listener is not None and playing is not None and n not in self._held
                and not barge_level(playing.group.priority, self.settings.barge)):
            listener.end_page()        # a page that may not interrupt a call does not play over one

    def _call_took_mic(self, line: int) -> None:
        target = self._sending
        self.stop_sending()
        if target:
            self._emit(Notice(f"The page to {target} ended: line {line} is talking.", "info"))

    def _emit(self, event: Event) -> None:
        """Hand an event to the phone's subscribers on the SIP thread, like the phone's own events."""
        phone = self.phone
        try:
            phone.backend.submit(lambda: phone._emit(event))
        except Exception:
            log.warning("could not report %s", event, exc_info=True)


def attach_pager(phone: Any) -> Pager:
    """Give a started phone its Pager (`phone.pager`) and start it; groups that cannot be joined are
    logged and noticed, and the phone goes on without listening (it can still send pages)."""
    pager = Pager(phone, interface=phone.config.paging.interface)
    phone.pager = pager
    try:
        pager.start()
    except PagerError as exc:
        log.warning("paging: %s The phone does not listen to pages.", exc)
        pager._emit(Notice(f"{exc} The phone does not listen to pages.", "warning"))
    return pager


def _sentence(text: str) -> str:
    """A PagingError text as a sentence: capital first letter, a full stop at the end."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
