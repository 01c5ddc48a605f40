"""Packet capture started and stopped while the phone runs (Menu › Packet Capture, seed 3.25).

A SIP capture always works: the phone's own SIP messages written as a pcap file (`SipPcapWriter`, no root
needed). A full capture adds the phone's RTP packets through `dumpcap` where it is installed and may capture: the
packets of its SIP ports and of the RTP ports its calls use, nobody else's (services.call_ports).
Files go to `<data dir>/captures`, named by the time the capture started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiphone.engine.events import Event, SipMessage
from tuiphone.services.call_ports import CallPorts
from tuiphone.services.pcap import CaptureError, DumpcapCapture, SipPcapWriter, _tcp_ports, split_address

log = logging.getLogger(__name__)

RECENT_MESSAGES = 500       # SIP messages remembered so a full capture knows the RTP ports of calls in progress


@dataclass(frozen=True)
class CaptureFiles:
    """What a capture wrote: the SIP pcap, the dumpcap file (or None) and how many SIP messages."""
    sip: Path
    full: Path | None
    sip_messages: int


class PhoneCapture:
    """One capture at a time of one phone; `start()` and `stop()` may be called from any thread."""

    def __init__(self, phone: Any, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.phone, self.folder, self.clock = phone, Path(folder), clock
        self._lock = threading.Lock()
        self._writer: SipPcapWriter | None = None
        self._dumpcap: DumpcapCapture | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._recent: deque[SipMessage] = deque(maxlen=RECENT_MESSAGES)
        self._unfollow = phone.subscribe(self._remember)

    def _remember(self, event: Event) -> None:
        if isinstance(event, SipMessage):
            self._recent.append(event)

    def _call_ports(self) -> CallPorts:
        """The phone's ports, knowing already the calls in progress (from the SIP messages remembered)."""
        address, port = split_address(self.phone.backend.local_address("udp"))
        ports = CallPorts(address, {port}, _tcp_ports(self.phone, port))
        for message in list(self._recent):
            ports.learn(message)
        return ports

    @property
    def active(self) -> bool:
        return self._writer is not None

    def files(self) -> CaptureFiles | None:
        """The files of the running capture (None when none runs)."""
        writer, dumpcap = self._writer, self._dumpcap
        if writer is None:
            return None
        return CaptureFiles(writer.path, dumpcap.path if dumpcap else None, writer.count)

    def start(self, full: bool = False) -> CaptureFiles:
        """Start capturing; `full` adds SIP+RTP through dumpcap. Raises CaptureError with a sentence.

        A full capture can take a few seconds to start (dumpcap opens the interface): call it off the UI thread.
        """
        with self._lock:
            if self._writer is not None:
                raise CaptureError(f"a capture is already running into {self._writer.path}; stop it first")
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                writer = SipPcapWriter(self.folder / f"sip-{stamp}.pcap", self.phone.backend.local_address)
            except OSError as exc:
                raise CaptureError(f"cannot write a capture in {self.folder}: {exc.strerror or exc}") from None
            dumpcap = None
            if full:
                try:
                    dumpcap = DumpcapCapture.of_phone(self.folder / f"full-{stamp}.pcapng", self.phone,
                                                      self._call_ports())
                    dumpcap.start()
                except (CaptureError, ValueError, KeyError) as exc:
                    if dumpcap is not None:
                        dumpcap.stop()
                    writer.close()
                    writer.path.unlink(missing_ok=True)
                    raise CaptureError(str(exc)) from None
            self._writer, self._dumpcap = writer, dumpcap
            self._unsubscribe = self.phone.subscribe(writer)
            log.info("capture started: %s%s", writer.path, f" and {dumpcap.path}" if dumpcap else "")
            return CaptureFiles(writer.path, dumpcap.path if dumpcap else None, 0)

    def stop(self) -> CaptureFiles | None:
        """Stop the running capture and close its files; None when nothing was capturing."""
        with self._lock:
            writer, dumpcap = self._writer, self._dumpcap
            if writer is None:
                return None
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._writer = self._dumpcap = self._unsubscribe = None
            writer.close()
            if dumpcap is not None:
                dumpcap.stop()
            log.info("capture stopped: %s (%d SIP messages)", writer.path, writer.count)
            return CaptureFiles(writer.path, dumpcap.path if dumpcap else None, writer.count)
