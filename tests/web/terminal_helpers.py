"""The web terminal under test: a WebAdmin on its own loop in a thread of the test process (so that the command
each tab starts can be a test app), on a real in-process phone; and a websocket client of /terminal/ws."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.inprocess import phone_factory
from tests.phoneproc import sip_port
from tests.web.helpers import PASSWORD

ECHO_APP = [sys.executable, "-m", "tests.web.echo_app"]
ANSI = re.compile(rb"\x1b(\[[0-9;?$]*[a-zA-Z]|\][^\x07]*\x07|[()][A-Z0-9]|.)")


class LoopThread:
    """An asyncio loop in a daemon thread; `run(coro)` waits for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.loop.is_running():
            self.loop.close()           # its self-pipe's two sockets with it


@contextmanager
def inprocess_admin(workdir: Path, command: list[str] | None = ECHO_APP) -> Iterator[tuple[Any, str, LoopThread]]:
    """(WebAdmin, base URL, its loop) on a free port of 127.0.0.1; stopped (terminals closed) at the end."""
    from tuiphone.web.server import WebAdmin

    config = workdir / "config.toml"
    config.write_text("")
    with phone_factory() as make:
        phone = make({"web": {"enabled": True, "password": PASSWORD}})
        loop = LoopThread()
        admin = WebAdmin(phone, config_path=config, data_dir=workdir / "data", listen=f"127.0.0.1:{sip_port()}",
                         failure_delay_s=0.0, terminal_command=command)
        try:
            base = loop.run(admin.start())
            yield admin, base, loop
        finally:
            loop.run(admin.stop())
            loop.close()


def screen_text(data: bytes) -> str:
    """The printable text of a front-end's output (escape sequences dropped)."""
    return ANSI.sub(b"", data).decode("utf-8", "replace")


class TerminalSocket:
    """One websocket on /terminal/ws, driven from the test thread through its own loop."""

    def __init__(self, base: str, cookie: str | None, origin: str | None = "same"):
        self.base, self.cookie = base, cookie
        self.origin = base if origin == "same" else origin
        self.loop = LoopThread()
        self.received = bytearray()
        self.closed = threading.Event()
        self.status: int | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None

    def connect(self) -> int:
        """Opens the socket (a reader task keeps what arrives); returns the handshake status (101 when open)."""
        return self.loop.run(self._connect())

    async def _connect(self) -> int:
        headers = {"Cookie": f"tuiphone_session={self.cookie}"} if self.cookie else {}
        if self.origin:
            headers["Origin"] = self.origin
        self._session = aiohttp.ClientSession()
        url = self.base.replace("http", "ws", 1) + "/terminal/ws?width=80&height=24"
        try:
            self._ws = await self._session.ws_connect(url, headers=headers, autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            await self._session.close()
            return exc.status
        asyncio.ensure_future(self._read())
        return 101

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.received.extend(message.data)
        self.closed.set()

    def type(self, text: str) -> None:
        self.loop.run(self._ws.send_json(["stdin", text]))

    def send_raw(self, text: str) -> None:
        self.loop.run(self._ws.send_str(text))

    def wait_text(self, words: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = screen_text(bytes(self.received))
            if words in text:
                return text
            if self.closed.is_set():
                break
            time.sleep(0.05)
        raise AssertionError(f"the terminal never showed {words!r}: {screen_text(bytes(self.received))[-400:]!r}")

    def close(self) -> None:
        async def go() -> None:
            if self._ws is not None:
                await self._ws.close()
            if self._session is not None:
                await self._session.close()
        self.loop.run(go())
        self.loop.close()


def gone(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` is no more (waited for: a zombie still answers kill 0)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
