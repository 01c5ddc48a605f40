"""Helpers for the services tests: HTTP on loopback with aiohttp, and `tuiphone daemon` as a real process."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.phoneproc import PhoneProc, sip_port

# `tuiphone daemon` with the command registered the way tuiphone/cli registers it (works before and after)
DAEMON_MAIN = ("from tuiphone.cli import main; from tuiphone.cli.daemon import daemon; "
               "main.add_command(daemon); main()")


def http_get(url: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
             method: str = "GET", timeout: float = 10.0) -> tuple[int, Any]:
    """(status, parsed JSON or text) of one request, with a fresh aiohttp session."""
    async def go() -> tuple[int, Any]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.request(method, url, params=params, headers=headers) as resp:
                text = await resp.text()
                try:
                    return resp.status, await resp.json(content_type=None)
                except ValueError:
                    return resp.status, text
    return asyncio.run(go())


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


class Cti:
    """The CTI API of a daemon under test."""

    def __init__(self, base: str, passcode: str):
        self.base, self.passcode = base, passcode

    def get(self, function: str, headers: dict[str, str] | None = None, passcode: str | None = None,
            **params: str) -> tuple[int, Any]:
        query = {"passcode": self.passcode if passcode is None else passcode, **params}
        return http_get(f"{self.base}/cgi-bin/{function}", query, headers)

    def ok(self, function: str, **params: str) -> Any:
        status, answer = self.get(function, **params)
        assert status == 200 and answer["response"] == "success", (status, answer)
        return answer["body"]

    def line(self, number: int = 1) -> dict[str, Any]:
        return self.ok("api-get_line_status")[number - 1]

    def wait_state(self, state: str, line: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            now = self.line(line)
            return now if now["state"] == state else None
        return wait_for(reached, timeout, f"line {line} to be {state}")


def daemon_proc(workdir, name: str, config: dict | None = None, passcode: str = "4321",
                cti: bool = True) -> tuple[PhoneProc, Cti]:
    """A `tuiphone daemon` process on loopback (not started) with the CTI API on a free port."""
    cfg = dict(config or {})
    cti_port = sip_port()
    cfg.setdefault("cti", {"enabled": cti, "listen": f"127.0.0.1:{cti_port}", "passcode": passcode})
    proc = PhoneProc(workdir, name, ["daemon"], cfg)
    proc.argv = [sys.executable, "-c", DAEMON_MAIN, *proc.argv[3:]]
    return proc, Cti(f"http://127.0.0.1:{cti_port}", passcode)


def wait_cti(api: Cti) -> None:
    wait_for(lambda: _answers(api), 10, "the CTI API to answer")


def _answers(api: Cti) -> bool:
    try:
        return api.get("api-get_phone_status")[0] == 200
    except aiohttp.ClientError:
        return False


class Recorder:
    """An HTTP server on 127.0.0.1 in its own thread that records every request it gets (path, query)."""

    def __init__(self, status: int = 200, delay_s: float = 0.0, body: bytes = b"ok"):
        import threading

        self.status, self.delay_s, self.body = status, delay_s, body
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: Any = None

    def start(self) -> Recorder:
        from aiohttp import web

        async def record(request: web.Request) -> web.Response:
            self.requests.append((request.path, dict(request.query)))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return web.Response(status=self.status, body=self.body)

        async def up() -> int:
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", record)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            return site._server.sockets[0].getsockname()[1]

        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(up(), self._loop).result(5)
        return self

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def events(self) -> list[str]:
        return [query.get("event", path) for path, query in self.requests]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()          # its self-pipe's two sockets with it
