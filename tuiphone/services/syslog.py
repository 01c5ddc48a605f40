"""Logs (and, when asked, every SIP message) to a syslog server over UDP or TCP (seed 3.23).

Messages are RFC 5424 lines, facility local0; over TCP each is framed by octet counting (RFC 6587).
Nothing here blocks the caller: records go on a bounded queue that a sender thread empties. When the
server cannot be reached the sender says so once in the other logs and keeps trying.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import socket
import threading
import time
from typing import Any

from tuiphone.engine.events import SipMessage
from tuiphone.services.logsetup import (
    add_root_handler,
    level_number,
    remove_root_handler,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 514
FACILITY_LOCAL0 = 16
QUEUE_MAX = 2000
UDP_MAX_BYTES = 8192          # longer SIP messages are cut: most servers drop bigger datagrams
CONNECT_TIMEOUT_S = 3.0
RETRY_S = 5.0
_SEVERITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def severity(levelno: int) -> int:
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return _SEVERITY[level]
    return 7


def rfc5424(severity_code: int, text: str, msgid: str = "-", *, hostname: str, app: str = "tuiphone",
            when: float | None = None, pid: int | None = None) -> bytes:
    """One syslog message: `<PRI>1 TIMESTAMP HOST APP PID MSGID - MSG`."""
    stamp = dt.datetime.fromtimestamp(time.time() if when is None else when, dt.UTC)
    header = (f"<{FACILITY_LOCAL0 * 8 + severity_code}>1 {stamp.isoformat(timespec='milliseconds')} "
              f"{hostname or '-'} {app} {os.getpid() if pid is None else pid} {msgid} - ")
    return (header + text).encode("utf-8", "replace")


def split_server(server: str) -> tuple[str, int]:
    """'host[:port]' or '[v6]:port' -> (host, port); the port defaults to 514."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else DEFAULT_PORT
    if server.count(":") == 1:
        host, port = server.split(":")
        return host, int(port)
    return server, DEFAULT_PORT


class _ToSyslog(logging.Handler):
    def __init__(self, sender: SyslogSender, level: int):
        super().__init__(level)
        self.sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == __name__:
            return        # the sender's own troubles would loop back into it
        try:
            text = f"{record.name}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:
            self.handleError(record)
            return
        self.sender.send(severity(record.levelno), text, "-", record.created)


class SyslogSender:
    """Sends to one syslog server. `start()` hooks log records at `level` in; `sip_message()` queues one
    SIP message when `sip_messages` is on; `stop()` sends what is queued (briefly) and closes."""

    def __init__(self, host: str, port: int, protocol: str = "udp", level: str = "info",
                 sip_messages: bool = False, hostname: str | None = None):
        self.host, self.port, self.protocol = host, port, protocol
        self.level = None if level == "off" else level_number(level)
        self.sip_messages = sip_messages
        self.hostname = (hostname or socket.gethostname()).split(".")[0].replace(" ", "-")
        self.dropped = 0
        self.handler: logging.Handler | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_MAX)
        self._thread = threading.Thread(target=self._run, name="syslog", daemon=True)
        self._sock: socket.socket | None = None
        self._complained = False

    @classmethod
    def from_config(cls, cfg: Any) -> SyslogSender:
        host, port = split_server(cfg.server)
        return cls(host, port, cfg.protocol, cfg.level, cfg.sip_messages)

    def start(self) -> None:
        self._thread.start()
        if self.level is not None:
            self.handler = _ToSyslog(self, self.level)
            add_root_handler(self.handler)

    def stop(self, timeout: float = 2.0) -> None:
        if self.handler is not None:
            remove_root_handler(self.handler)
            self.handler = None
        if self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def sip_message(self, msg: SipMessage) -> None:
        """Queue one SIP message (any thread; never blocks)."""
        if not self.sip_messages:
            return
        way = "from" if msg.direction == "in" else "to"
        text = f"{msg.direction.upper()} {msg.transport} {way} {msg.remote}\n{msg.text.rstrip()}"
        self.send(6, text, "SIP", msg.time)

    def send(self, severity_code: int, text: str, msgid: str = "-", when: float | None = None) -> None:
        try:
            self._queue.put_nowait(rfc5424(severity_code, text, msgid, hostname=self.hostname, when=when))
        except queue.Full:
            self.dropped += 1

    # ----- the sender thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._deliver(item)

    def _deliver(self, data: bytes) -> None:
        for attempt in (1, 2):       # a TCP server that closed the connection gets one reconnect
            try:
                if self.protocol == "udp":
                    self._udp().sendto(data[:UDP_MAX_BYTES], (self.host, self.port))
                else:
                    self._tcp().sendall(str(len(data)).encode() + b" " + data)
                if self._complained:
                    self._complained = False
                    log.warning("syslog server %s:%d works again", self.host, self.port)
                return
            except OSError as exc:
                if self._sock is not None and self.protocol == "tcp":
                    self._sock.close()
                    self._sock = None
                if attempt == 2 or self.protocol == "udp":
                    self._trouble(exc)
                    return

    def _udp(self) -> socket.socket:
        if self._sock is None:
            family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0][0]
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
        return self._sock

    def _tcp(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_S)
        return self._sock

    def _trouble(self, exc: OSError) -> None:
        if not self._complained:
            self._complained = True
            log.warning("cannot send logs to the syslog server %s:%d over %s (%s); messages are dropped "
                        "until it answers", self.host, self.port, self.protocol.upper(), exc.strerror or exc)
        if self.protocol == "tcp":
            time.sleep(RETRY_S / 10)     # do not spin on a server that refuses connections
