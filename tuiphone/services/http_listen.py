"""The phone's HTTP ports (the CTI API, the web admin): listening on one, and its quiet server log."""

from __future__ import annotations

import logging
import ssl
import sys
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from tuiphone.logthrottle import LogThrottle


async def listen(app: web.Application, host: str, port: int, log: QuietServerLog,
                 ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port (0: any free port); its runner and the port it got. OSError when it cannot
    listen (the port taken, the address not on this host)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, logger=log)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_address=True)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    server = getattr(site, "_server", None)
    if server is not None and server.sockets and port == 0:
        port = server.sockets[0].getsockname()[1]
    return runner, port


class QuietServerLog(logging.LoggerAdapter):
    """aiohttp's own server log for one of the phone's HTTP ports: a garbled or over-long request (or any
    error aiohttp reports) costs one short line, a few a minute ("N more suppressed"), never a traceback."""

    def __init__(self, throttle: LogThrottle, name: str = "CTI"):
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.throttle = throttle
        self.port_name = name

    def log(self, level: int, msg: object, *args: object, exc_info: Any = None, **kwargs: Any) -> None:
        if level < logging.WARNING:      # aiohttp's debug lines (no traceback: they are debug for a reason)
            self.logger.log(level, msg, *args)
            return
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1] if exc_info else None
        said = _render(msg, args)
        if isinstance(exc, HttpProcessingError):
            why = " ".join(str(exc.message).split())[:120]
            self.throttle.info("bad http", "%s: refused a bad HTTP request from %s (%s): %s",
                               self.port_name, args[0] if args else "?", exc.code, why)
        elif exc is not None:
            self.throttle.warning("http error", "%s: %s: %s: %s", self.port_name, said, type(exc).__name__,
                                  " ".join(str(exc).split())[:160])
        else:
            self.throttle.log(level, "http error", "%s: %s", self.port_name, said)


def _render(msg: object, args: tuple[object, ...]) -> str:
    try:
        return str(msg) % args if args else str(msg)
    except (TypeError, ValueError):
        return str(msg)


