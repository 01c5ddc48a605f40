"""The phone's own screen in the web admin (issue 16 item 3): textual-serve's browser client on /terminal.

Each websocket on /terminal/ws starts one front-end process (`python -m tuiphone --config … --data-dir …`, which
attaches to this running phone) under textual-serve's AppService and bridges it to the browser: a second tab is
a second front-end; closing a tab ends only its own front-end, whose process is waited for (no zombie). The
socket needs a session and an Origin of this very web admin (a foreign page must not drive the phone); signing
out closes the terminals of that session. textual-serve's JS and CSS are served from its installed package;
the font is its bundled Roboto Mono (the stock page's Google Fonts link is left out: nothing is fetched from
the internet).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from tuiphone.web.files import WebError
from tuiphone.web.request_keys import CSP_CONNECT, SESSION

log = logging.getLogger(__name__)

STATIC = Path(textual_serve.__file__).resolve().parent / "static"
STATIC_URL = "/static/terminal/"
MAX_TERMINALS = 4
LIMIT_SENTENCE = (f"{MAX_TERMINALS} terminals are open already, the most the web admin runs at once: "
                  "close one of them (its tab) and reload this page.")
MAX_MESSAGE = 64 * 1024          # a keystroke, a paste or a resize; nothing bigger comes from the client
QUIT_WAIT_S = 3.0                # a front-end told to quit gets this long before SIGTERM, then as long before SIGKILL
FONT_SIZE = 16
HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")   # Host: name or address, port


# The first thing each front-end's process runs: it asks Linux for a SIGTERM when its parent (this phone process)
# dies, then becomes the front-end (exec, same PID). A phone that crashes or is killed leaves no front-end behind.
WITH_PARENT = """import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit("tuiphone: the web admin's phone process ended before its terminal started.")
os.execvp(sys.argv[2], sys.argv[2:])
"""


def front_end_command(config_path: Path, data_dir: Path) -> list[str]:
    """The front-end one browser tab runs: the phone's TUI attaching to this phone (same config, same data dir)."""
    return [sys.executable, "-m", "tuiphone", "--config", str(config_path), "--data-dir", str(data_dir)]


def size_of(value: str | None, default: int) -> int:
    try:
        return max(10, min(500, int(value or default)))
    except ValueError:
        return default


class FrontEnd(AppService):
    """textual-serve's AppService for one tab, started with an argument list (no shell) and always reaped.

    The process's stderr is kept (the last 4 kB) for the log and for the tab when the front-end cannot start,
    instead of AppService writing it to the phone's own stdout."""

    def __init__(self, argv: Sequence[str], **kwargs: Any) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = [sys.executable, "-c", WITH_PARENT, str(os.getpid()), *argv]
        self.errors = b""
        self._stderr_task: asyncio.Task[None] | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=environment, start_new_session=True)
        self._stdin = process.stdin
        stderr, quiet = process.stderr, asyncio.StreamReader()
        quiet.feed_eof()
        process.stderr = quiet        # AppService.run would copy it to our stdout; _keep_errors reads it instead
        self._stderr_task = asyncio.create_task(self._keep_errors(stderr))
        return process

    async def _keep_errors(self, stderr: asyncio.StreamReader | None) -> None:
        if stderr is None:
            return
        while data := await stderr.read(4096):
            self.errors = (self.errors + data)[-4096:]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def finished(self) -> asyncio.Task[None] | None:
        return self._task

    async def stop(self) -> None:
        """Tell the front-end to quit, then SIGTERM, then SIGKILL; returns once the process is waited for."""
        process, task = self._process, self._task
        if process is None:
            return
        with contextlib.suppress(Exception):
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        if process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send_meta({"type": "quit"}), 1.0)
        for signal_it in (None, process.terminate, process.kill):
            if signal_it is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    signal_it()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), QUIT_WAIT_S)
            if process.returncode is not None:
                break
        if task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 1.0)
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._stderr_task, 1.0)
        self._task = None
        if self._stdin is not None:
            self._stdin.close()


class Terminal:
    """One open tab: its websocket, its front-end, the session it belongs to."""

    def __init__(self, sid: str, websocket: web.WebSocketResponse, front_end: FrontEnd):
        self.sid, self.websocket, self.front_end = sid, websocket, front_end


class Terminals:
    """The /terminal page and its websocket; the open terminals of one web admin."""

    def __init__(self, admin: Any, command: Sequence[str] | None = None):
        self.admin = admin
        self.command = list(command) if command else front_end_command(admin.config_path, admin.data_dir)
        self.open: set[Terminal] = set()
        self.downloads = DownloadManager()
        self._closing: set[asyncio.Future[Any]] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/terminal", self.page)
        app.router.add_get("/terminal/ws", self.websocket)
        app.router.add_static(STATIC_URL, STATIC, follow_symlinks=False)

    # ----- the page ------------------------------------------------------------------------------------------
    @staticmethod
    def host(request: web.Request) -> str:
        """The Host the browser used (it goes into the CSP and the socket's address): a name or an address."""
        if not HOST.fullmatch(request.host):
            raise WebError("The request's Host header is not a host name or address.", 400)
        return request.host

    def websocket_url(self, request: web.Request) -> str:
        return f"{'wss' if self.admin.tls else 'ws'}://{self.host(request)}/terminal/ws"

    async def page(self, request: web.Request) -> web.Response:
        problems = [LIMIT_SENTENCE] if len(self.open) >= MAX_TERMINALS else []
        response = self.admin.page(request, "terminal.html", problems=problems, static=STATIC_URL,
                                   websocket_url=self.websocket_url(request), font_size=FONT_SIZE)
        # the client talks to its own websocket and to nothing else (its ?ping= fetch included)
        request[CSP_CONNECT] = f"'self' {self.websocket_url(request)}"
        return response

    # ----- the websocket -------------------------------------------------------------------------------------
    def _check_origin(self, request: web.Request) -> None:
        expected = f"{'https' if self.admin.tls else 'http'}://{self.host(request)}"
        if request.headers.get("Origin") != expected:
            raise WebError("The terminal takes connections from this web admin's own pages only.", 403)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        self._check_origin(request)
        session = request[SESSION]
        assert session is not None              # the guard let it through: signed in
        socket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE)
        if not socket.can_prepare(request).ok:
            raise WebError("This address is the terminal's websocket; open /terminal instead.", 400)
        await socket.prepare(request)
        if len(self.open) >= MAX_TERMINALS:
            await socket.send_bytes(f"\r\n{LIMIT_SENTENCE}\r\n".encode())
            await socket.close()
            return socket
        front_end = FrontEnd(self.command, write_bytes=socket.send_bytes, write_str=socket.send_str,
                             close=socket.close, download_manager=self.downloads)
        terminal = Terminal(session.sid, socket, front_end)
        self.open.add(terminal)
        expiry = asyncio.get_running_loop().call_later(
            max(0.0, session.expires - self.admin.sessions.clock()), lambda: asyncio.ensure_future(socket.close()))
        try:
            await front_end.start(size_of(request.query.get("width"), 80), size_of(request.query.get("height"), 24))
            log.info("web terminal %s started (front-end PID %s)", front_end.app_service_id[:8], front_end.pid)
            watcher = asyncio.ensure_future(self._close_when_done(front_end, socket))
            try:
                await self._bridge(socket, front_end)
            finally:
                watcher.cancel()
        except asyncio.CancelledError:
            pass
        except OSError as exc:
            log.error("web terminal: the front-end could not start: %s", exc)
            with contextlib.suppress(Exception):
                await socket.send_bytes(f"\r\nThe phone's screen could not start: {exc}\r\n".encode())
        finally:
            expiry.cancel()
            self.open.discard(terminal)
            await front_end.stop()
            with contextlib.suppress(Exception):
                await socket.close()
            log.info("web terminal %s ended (front-end PID %s exit status %s)", front_end.app_service_id[:8],
                     front_end.pid, front_end._process.returncode if front_end._process else None)
        return socket

    async def _close_when_done(self, front_end: FrontEnd, socket: web.WebSocketResponse) -> None:
        """The front-end ended by itself (quit, or it could not attach): the tab shows why, its socket closes."""
        if front_end.finished is not None:
            await front_end.finished
        process = front_end._process
        if process is not None:
            await process.wait()
            if process.returncode and front_end.errors:
                text = front_end.errors.decode("utf-8", "replace").strip().replace("\n", "\r\n")
                log.warning("web terminal: the front-end ended with status %s: %s", process.returncode,
                            text[-300:])
                with contextlib.suppress(Exception):
                    await socket.send_bytes(f"\r\n{text[-1000:]}\r\n".encode())
        await socket.close()

    async def _bridge(self, socket: web.WebSocketResponse, front_end: FrontEnd) -> None:
        """The browser's messages (textual-serve's envelopes) to the front-end; anything else is dropped."""
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope or not isinstance(envelope[0], str):
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await front_end.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await front_end.set_terminal_size(size_of(str(data.get("width")), 80),
                                                  size_of(str(data.get("height")), 24))
            elif kind == "ping" and isinstance(data, str):
                await socket.send_json(["pong", data[:32]])
            elif kind == "blur":
                await front_end.blur()
            elif kind == "focus":
                await front_end.focus()

    # ----- sign out, stop ------------------------------------------------------------------------------------
    async def end_session(self, sid: str | None) -> None:
        """Sign-out: the terminals of that session close (their front-ends end and are waited for)."""
        for terminal in [t for t in self.open if t.sid == sid]:
            closing = asyncio.ensure_future(terminal.websocket.close())   # the sign-out answer does not wait
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        await asyncio.gather(*(t.websocket.close() for t in list(self.open)), return_exceptions=True)
        await asyncio.gather(*(t.front_end.stop() for t in list(self.open)), return_exceptions=True)

    def pids(self) -> list[int]:
        return [t.front_end.pid for t in self.open if t.front_end.pid is not None]
