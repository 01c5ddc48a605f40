"""Helpers for the services tests: HTTP on loopback with aiohttp, and `tuiphone daemon` as a real process."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Callable

import aiohttp
import pytest

from tests.phoneproc import PhoneProc, sip_port

# `tuiphone daemon` with the command registered the way cli.py registers it (works before and after)
DAEMON_MAIN = ("from tuiphone.cli import main; from tuiphone.daemon import daemon; "
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
        return wait_for(lambda: (lambda ln: ln if ln["state"] == state else None)(self.line(line)), timeout,
                        f"line {line} to be {state}")


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
