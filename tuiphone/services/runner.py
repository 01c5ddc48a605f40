"""The services that run beside a phone: CTI API, Action URLs, syslog, phonebook download, packet capture.

`Services(phone, config, data_dir)` runs them on an asyncio loop: `await services.start()` inside the
loop (the TUI, the daemon), `await services.stop()` before the loop ends. `ServicesThread` gives
callers without a loop (`tuiphone call`, `answer`) the same services on a loop in its own thread.

Engine events arrive on the SIP thread; they are only handed over to the loop here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuiphone.engine.events import Event, SipMessage
from tuiphone.paths import captures_dir
from tuiphone.services.packet_capture import PhoneCapture
from tuiphone.services.remote_keys import PhoneKeys

log = logging.getLogger(__name__)

SIP_TURN_S = 1.0      # at stop: how long to wait for the SIP thread to hand over its last events


class ServiceError(Exception):
    """A service that cannot start; `str()` says what to change."""


class Services:
    """CTI + Action URL + syslog + phonebook download for one running Phone."""

    def __init__(self, phone: Any, config: Any, data_dir: Path, *, keys: PhoneKeys | None = None,
                 phonebook: Any = None):
        """`keys`: the keypad CTI send_key presses (default: a headless one); `phonebook`: where
        downloaded contacts go (an object with `replace_downloaded(contacts, remove_edited)`)."""
        self.phone = phone
        self.config = config
        self.data_dir = Path(data_dir)
        self.keys = keys
        self.phonebook = phonebook
        self.cti: Any = None
        self.action_urls: Any = None
        self.syslog: Any = None
        self.downloader: Any = None
        # Menu › Packet Capture: started and stopped by the user, stopped with the services
        self.capture = PhoneCapture(phone, captures_dir(self.data_dir))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._handlers: list[Callable[[Event], None]] = []

    @property
    def cti_url(self) -> str | None:
        return self.cti.url if self.cti is not None else None

    async def start(self) -> None:
        """Start every configured service on the running loop; raises ServiceError with a sentence."""
        self._loop = asyncio.get_running_loop()
        cfg = self.config
        if cfg.syslog.server and (cfg.syslog.level != "off" or cfg.syslog.sip_messages):
            from tuiphone.services.syslog import SyslogSender

            self.syslog = SyslogSender.from_config(cfg.syslog)
            self.syslog.start()
        if any(getattr(cfg.action_url, name) for name in type(cfg.action_url).model_fields):
            from tuiphone.services.action_url import ActionUrls

            self.action_urls = ActionUrls(cfg, self.phone)
            await self.action_urls.start()
            self._handlers.append(self.action_urls.handle)
        self._unsubscribe = self.phone.subscribe(self._from_sip_thread)
        if self.action_urls is not None:      # subscribed first: no registration falls between the two
            self.action_urls.subscribed()
        if cfg.cti.enabled:
            from tuiphone.services.cti import CtiServer

            self.cti = CtiServer(self.phone, cfg, keys=self.keys)
            try:
                await self.cti.start()
            except OSError as exc:
                self.cti = None
                await self.stop()
                raise ServiceError(f"the CTI API cannot listen on {cfg.cti.listen} ({exc.strerror or exc}): "
                                   "change cti.listen or set cti.enabled = false") from None
        if cfg.phonebook.download_url and self.phonebook is not None:
            from tuiphone.services.phonebook_download import PhonebookDownloader

            self.downloader = PhonebookDownloader(cfg.phonebook, self.phonebook)
            self.downloader.start()

    async def stop(self) -> None:
        """Stop every service; safe to call twice. The events the phone emitted before are still handled
        (a call that has just ended sends its `terminated`)."""
        if self._unsubscribe is not None:
            await self._events_so_far()
            self._unsubscribe()
            self._unsubscribe = None
        if self.downloader is not None:
            await self.downloader.stop()
            self.downloader = None
        if self.cti is not None:
            await self.cti.stop()
            self.cti = None
        if self.action_urls is not None:
            await self.action_urls.stop()
            self.action_urls = None
        self._handlers.clear()
        await asyncio.to_thread(self.capture.stop)
        if self.syslog is not None:
            self.syslog.stop()
            self.syslog = None

    async def _events_so_far(self) -> None:
        """Wait until the SIP thread has handed over every event it emitted before now: a job it runs after
        the one emitting them; their dispatch is then on the loop ahead of us."""
        try:
            await asyncio.wait_for(asyncio.wrap_future(self.phone.backend.submit(lambda: None)), SIP_TURN_S)
        except Exception:        # a stopped or stuck SIP thread: stop without its last events
            return
        await asyncio.sleep(0)

    def _from_sip_thread(self, event: Event) -> None:
        # SIP thread: never block here; syslog has its own queue, the rest goes to the loop
        if isinstance(event, SipMessage) and self.syslog is not None:
            self.syslog.sip_message(event)
        loop = self._loop
        if loop is None or not self._handlers:
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, event)
        except RuntimeError:      # the loop has closed: the phone outlived its services
            pass

    def _dispatch(self, event: Event) -> None:
        for handler in tuple(self._handlers):
            try:
                handler(event)
            except Exception:
                log.exception("a service failed to handle %s", type(event).__name__)


class ServicesThread:
    """Services on an event loop in their own thread, for callers that have no asyncio loop."""

    def __init__(self, phone: Any, config: Any, data_dir: Path, **kwargs: Any):
        self.services = Services(phone, config, data_dir, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="services", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start the loop thread and the services; raises ServiceError like `Services.start`."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.services.start(), self._loop).result(timeout)
        except BaseException:
            self._end_loop(timeout)
            raise

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.services.stop(), self._loop).result(timeout)
        finally:
            self._end_loop(timeout)

    def _end_loop(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._loop.is_running():
            self._loop.close()
