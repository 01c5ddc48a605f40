"""Menu › Packet Capture (seed 3.25): start and stop a capture of the phone's own traffic.

F1 captures the SIP messages as pcap (no permission needed); F2 adds SIP+RTP packets through dumpcap.
The capture belongs to the phone's services, so it goes on when this screen is left.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.services.pcap import CaptureError
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

REFRESH_S = 1.0


class CaptureScreen(PhoneScreen):
    """The capture's state (files, SIP messages so far), and keys to start and stop it."""

    BINDINGS = [Binding("escape", "back", "Back", show=False, id="back")]
    DEFAULT_CSS = """
    CaptureScreen #capture-state { padding: 1 2; }
    CaptureScreen #capture-hint { padding: 0 2; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.saved = ""         # what the last stop wrote, shown until the next start
        self.busy = False       # a start or stop is under way (dumpcap takes a moment)

    @property
    def capture(self) -> Any:
        services = getattr(self.app, "services", None)
        return getattr(services, "capture", None)

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(t("menu.capture"), classes="screen-title")
        yield Static(id="capture-state")
        yield Static(id="capture-hint")
        yield SoftKeyBar()

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(REFRESH_S, self.show_state)
        self.show_state()

    async def relabel(self) -> None:
        await super().relabel()
        self.show_state()

    def show_state(self) -> None:
        capture = self.capture
        hint = t("capture.hint") if shutil.which("dumpcap") else t("capture.no_dumpcap")
        if capture is None:
            state, hint = t("capture.not_available"), ""
        elif self.busy:
            state = t("capture.starting")
        elif (files := capture.files()) is not None:
            state = t("capture.running_sip", path=files.sip, count=files.sip_messages)
            if files.full is not None:
                state += "\n" + t("capture.running_full", path=files.full)
        else:
            state = self.saved or t("capture.idle")
        self.query_one("#capture-state", Static).update(state)
        self.query_one("#capture-hint", Static).update(hint)
        self.refresh_soft_keys()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        back = SoftKey("key.back", "back")
        capture = self.capture
        if capture is None or self.busy:
            return (None, None, None, back)
        if capture.active:
            return (SoftKey("key.capture_stop", "stop"), None, None, back)
        full = SoftKey("key.capture_full", "start(True)") if shutil.which("dumpcap") else None
        return (SoftKey("key.capture_sip", "start(False)"), full, None, back)

    async def action_start(self, full: bool) -> None:
        capture = self.capture
        if capture is None or capture.active or self.busy:
            return
        self.busy = True
        self.show_state()
        try:
            await asyncio.to_thread(capture.start, full)     # dumpcap needs a moment to open the interface
            self.saved = ""
        except CaptureError as exc:
            self.app.show_error(t("capture.failed", error=str(exc).rstrip(".")))
        finally:
            self.busy = False
            self.show_state()

    async def action_stop(self) -> None:
        capture = self.capture
        if capture is None or self.busy:
            return
        self.busy = True
        try:
            files = await asyncio.to_thread(capture.stop)
        finally:
            self.busy = False
        if files is not None:
            self.saved = t("capture.saved", path=files.sip, count=files.sip_messages)
            if files.full is not None:
                self.saved += "\n" + t("capture.saved_full", path=files.full)
        self.show_state()

    def action_back(self) -> None:
        self.dismiss()
