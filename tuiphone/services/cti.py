"""The Grandstream-compatible CTI HTTP API (SPEC §7) on aiohttp.

Every answer is JSON: `{"response": "success", "body": ...}` or `{"response": "error", "body": "<sentence>"}`
with a 4xx status for anything the caller got wrong. The passcode is compared in constant time; an
address that keeps failing is locked out for a growing while; requests a browser made for a web page
(an `Origin` header, `Sec-Fetch-Site` other than "none") are refused, and no CORS header is ever sent.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tuiphone.config import parse_listen_address
from tuiphone.engine.events import CallState, LineState
from tuiphone.logthrottle import LogThrottle
from tuiphone.services.http_listen import QuietServerLog, listen
from tuiphone.services.remote_keys import (
    PhoneKeys,
    Refused,
    active_line,
    parse_keys,
    ringing_line,
    wait,
)

log = logging.getLogger(__name__)

PREFIX = "/cgi-bin/"
MAX_QUERY_CHARS = 4096
FREE_FAILURES = 3            # wrong passcodes before an address is locked out
LOCKOUT_BASE_S = 1.0
LOCKOUT_MAX_S = 300.0
FAILURE_DELAY_S = 0.3        # every wrong passcode answers this much later
TRACKED_ADDRESSES = 4096

GS_LINE_STATE = {
    LineState.IDLE: "idle", LineState.DIALING: "dialing", LineState.CALLING: "calling",
    LineState.RINGING: "ringing", LineState.TALKING: "connected", LineState.HELD: "onhold",
    LineState.ENDED: "idle",
}


class FailureThrottle:
    """Wrong passcodes per client address; after FREE_FAILURES each failure locks it out twice as long."""

    def __init__(self, free: int = FREE_FAILURES, base_s: float = LOCKOUT_BASE_S, max_s: float = LOCKOUT_MAX_S,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.base_s, self.max_s, self.clock = free, base_s, max_s, clock
        self._seen: OrderedDict[str, tuple[int, float]] = OrderedDict()   # address -> (failures, locked until)

    def locked_for(self, address: str) -> float:
        """Seconds until `address` may try again (0 = now)."""
        entry = self._seen.get(address)
        return max(0.0, entry[1] - self.clock()) if entry else 0.0

    def failed(self, address: str) -> None:
        failures = self._seen.pop(address, (0, 0.0))[0] + 1
        until = 0.0
        if failures > self.free:
            until = self.clock() + min(self.max_s, self.base_s * 2 ** (failures - self.free - 1))
        self._seen[address] = (failures, until)
        while len(self._seen) > TRACKED_ADDRESSES:     # a flood of addresses cannot grow memory
            self._seen.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._seen.pop(address, None)


def answer(body: Any, status: int = 200, **extra: Any) -> web.Response:
    return web.json_response({"response": "success", "body": body, **extra}, status=status)


def refuse(text: str, status: int, **headers: str) -> web.Response:
    return web.json_response({"response": "error", "body": text}, status=status, headers=headers or None)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _host_is_address(host_header: str) -> bool:
    """A Host header naming an IP address or localhost (a DNS-rebinding page would send its own name)."""
    host = host_header.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


async def make_call(phone: Any, number: str, account: str | None) -> int:
    """api-make_call's rules (the web admin's Click-to-dial uses them too): NUMBER through ACCOUNT (counted from 0,
    "" or None = the phone chooses); returns the line. Raises Refused with a sentence."""
    number = number.strip()
    if not number:
        raise Refused("phonenumber is missing: give phonenumber=NUMBER", 400)
    if len(number) > 256 or any(ord(ch) < 32 for ch in number):
        raise Refused("phonenumber is not a number or SIP address", 400)
    index = None
    if account is not None and account.strip() != "":
        count = len(phone.config.accounts)
        if not account.strip().isdigit() or int(account) >= count:
            raise Refused(f"account must be 0 to {count - 1} (counted from 0)" if count else
                          "account was given but the phone has no accounts", 400)
        index = int(account)
    return await wait(phone.call(number, index))


def passcode_of(config: Any) -> str:
    return config.cti.passcode or config.phone.admin_password


class CtiServer:
    """The CTI API of one phone. `await start()` opens `cti.listen`; `await stop()` closes it."""

    def __init__(self, phone: Any, config: Any, *, keys: PhoneKeys | None = None,
                 throttle: FailureThrottle | None = None, failure_delay_s: float = FAILURE_DELAY_S):
        self.phone = phone
        self.config = config
        self.keys = keys or PhoneKeys(phone)
        self.throttle = throttle or FailureThrottle()
        self.failure_delay_s = failure_delay_s
        self.noise = LogThrottle(log)        # what any client can make us log: a few lines a minute
        self.host, self.port = parse_listen_address(config.cti.listen)
        self._runner: web.AppRunner | None = None
        self._functions: dict[str, Callable[[web.Request], Awaitable[web.Response]]] = {
            "api-phone_operation": self._phone_operation,
            "api-make_call": self._make_call,
            "api-get_phone_status": self._phone_status,
            "api-get_line_status": self._line_status,
            "api-get_accounts": self._accounts,
            "api-send_key": self._send_key,
            "api-sys_operation": self._sys_operation,
        }
        self.operations: Any = None      # the daemon's SysOperations (REBOOT, PROV); None: refused

    # ----- lifecycle -----------------------------------------------------------------------------------
    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self) -> str:
        """Listen on cti.listen; returns the base URL. Raises OSError (port taken, address missing)."""
        self._runner, self.port = await listen(self.application(), self.host, self.port, QuietServerLog(self.noise))
        url = self.url
        log.info("CTI API listening on %s", url)
        return url

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----- the guard: browser requests, lockout, passcode, never a traceback -------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        try:
            return await self._checked(request, handler)
        except web.HTTPException as exc:
            return refuse(exc.reason or "request refused", max(exc.status, 400))
        except Exception as exc:   # a bug must not leak a traceback to the network, nor flood the log
            self.noise.failed("request failed", f"CTI request {request.path[:80]}", exc)
            return refuse("the phone could not carry out this request; see its log file", 500)

    async def _checked(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if "Origin" in request.headers or request.headers.get("Sec-Fetch-Site", "none") != "none":
            return refuse("requests from web pages are refused: call the CTI API from a program", 403)
        if _loopback(self.host) and not _host_is_address(request.headers.get("Host", "")):
            return refuse("the CTI API answers only requests addressed to an IP address", 403)
        if request.method not in ("GET", "HEAD"):
            return refuse("the CTI API takes GET requests only", 405, Allow="GET")
        if len(request.query_string) > MAX_QUERY_CHARS:
            return refuse("the query string is too long", 414)
        address = request.remote or "?"
        locked = self.throttle.locked_for(address)
        if locked > 0:
            return refuse(f"too many wrong passcodes from {address}: try again in {locked:.0f} s", 429,
                          **{"Retry-After": str(max(1, round(locked + 0.5)))})
        if not request.path.startswith(PREFIX) or request.path[len(PREFIX):] not in self._functions:
            return refuse("no such CTI function: use /cgi-bin/api-make_call, api-phone_operation, "
                          "api-get_phone_status, api-get_line_status, api-get_accounts, api-send_key or "
                          "api-sys_operation", 404)
        expected = passcode_of(self.config)
        if not expected:     # never open without a passcode, even if the config check was bypassed
            return refuse("the CTI passcode is not set: set cti.passcode or phone.admin_password", 403)
        given = request.query.get("passcode", "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
            self.throttle.failed(address)
            self.noise.warning("wrong passcode", "CTI: wrong passcode from %s", address)
            await asyncio.sleep(self.failure_delay_s)
            return refuse("wrong or missing passcode", 401)
        self.throttle.succeeded(address)
        try:
            return await handler(request)
        except Refused as exc:
            return refuse(str(exc), exc.status)

    async def _dispatch(self, request: web.Request) -> web.Response:
        return await self._functions[request.path[len(PREFIX):]](request)

    # ----- functions ---------------------------------------------------------------------------------
    async def _phone_operation(self, request: web.Request) -> web.Response:
        cmd = request.query.get("cmd", "").strip().lower()
        lines = self.phone.lines()
        if cmd == "acceptcall":
            call = self._need(ringing_line(lines), "no call is ringing")
            await wait(self.phone.answer(call.line))
        elif cmd == "rejectcall":
            call = self._need(ringing_line(lines), "no call is ringing")
            await wait(self.phone.reject(call.line))
        elif cmd == "endcall":
            call = self._need(active_line(lines), "there is no call to end")
            await wait(self.phone.hangup(call.line))
        elif cmd == "holdcall":
            call = self._need(next((c for c in lines if c.state == LineState.TALKING), None), "no call is talking")
            await wait(self.phone.hold(call.line))
        elif cmd == "unhold":
            call = self._need(next((c for c in lines if c.state == LineState.HELD), None), "no call is on hold")
            await wait(self.phone.resume(call.line))
        elif cmd == "cancel":
            ringing = ringing_line(lines)
            if ringing is not None:
                call = ringing
                await wait(self.phone.reject(call.line))
            else:
                call = self._need(next((c for c in lines if c.state in (LineState.CALLING, LineState.DIALING)),
                                       None), "no call is ringing or being placed")
                await wait(self.phone.hangup(call.line))
        else:
            raise Refused("cmd must be one of endcall, holdcall, unhold, acceptcall, rejectcall, cancel", 400)
        return answer("complete", line=call.line)

    @staticmethod
    def _need(call: CallState | None, why: str) -> CallState:
        if call is None:
            raise Refused(why, 409)
        return call

    async def _make_call(self, request: web.Request) -> web.Response:
        line = await make_call(self.phone, request.query.get("phonenumber", ""), request.query.get("account"))
        return answer("complete", line=line)

    async def _phone_status(self, request: web.Request) -> web.Response:
        lines = self.phone.lines()
        if any(c.state not in (LineState.RINGING, LineState.ENDED, LineState.IDLE) for c in lines):
            status = "busy"
        elif any(c.state == LineState.RINGING for c in lines):
            status = "ringing"
        else:
            status = "available"
        return answer(status)

    async def _line_status(self, request: web.Request) -> web.Response:
        calls = {c.line: c for c in self.phone.lines()}
        active = active_line(list(calls.values())) or ringing_line(list(calls.values()))
        body = []
        for number in range(1, self.phone.max_lines + 1):
            call = calls.get(number)
            if call is None:
                body.append({"line": number, "state": "idle", "acct": "", "remotename": "", "remotenumber": "",
                             "active": 0})
                continue
            state = "conference" if call.conference else GS_LINE_STATE[call.state]
            body.append({"line": number, "state": state, "acct": "" if call.account is None else call.account,
                         "remotename": call.remote_name, "remotenumber": call.remote_number or call.remote_uri,
                         "active": int(active is not None and active.line == number)})
        return answer(body)

    async def _accounts(self, request: web.Request) -> web.Response:
        regs = self.phone.registrations()
        body = []
        for index, acc in enumerate(self.config.accounts):
            reg = regs.get(index)
            if not acc.enabled:
                status = "disabled"
            elif reg is None or not acc.register:
                status = "not registering"
            else:
                status = "registered" if reg.registered else "unregistered"
            body.append({"id": index, "name": acc.name, "sip_id": acc.user_id, "sip_server": acc.sip_server,
                         "reg": int(bool(reg and reg.registered)), "status": status,
                         "sip_status": reg.sip_status if reg else 0, "reason": reg.reason if reg else ""})
        return answer(body)

    async def _send_key(self, request: web.Request) -> web.Response:
        keys = parse_keys(request.query.get("keys", ""))
        await self.keys.press_all(keys)
        return answer("complete")

    async def _sys_operation(self, request: web.Request) -> web.Response:
        if self.operations is None:
            raise Refused("api-sys_operation works in `tuiphone daemon` only", 409)
        return answer(await self.operations.run(request.query.get("request", "")))
