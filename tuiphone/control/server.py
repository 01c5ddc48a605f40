"""The phone's control endpoint: front-ends (the TUI, `tuiphone ctl`, scripts) on its Unix socket.

Runs on the daemon's asyncio loop: `async with serve_control(phone, claim, stopping=..., store=...)`.
Engine events arrive on the SIP thread and are only handed to the loop there; on the loop they update
the PhoneView (the snapshot a new front-end gets) and go out to every front-end, each through its own
bounded Outbox, so a slow or stuck front-end never slows the phone: state events still waiting are
replaced by newer ones of the same key, SIP messages are left out while a front-end lags, and one that
falls too far behind is dropped (it may connect again). See protocol.py for the lines, ops.py for the ops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import Any

from tuiphone import __version__
from tuiphone.control import ops
from tuiphone.control.codec import encode_event
from tuiphone.control.endpoint import Claim, EndpointError, claim, peer_uid
from tuiphone.control.protocol import MAX_LINE, ProtocolError, dump, error, hello, load, ok, parse_request
from tuiphone.control.state import PhoneView
from tuiphone.engine.events import Blf, FeaturesChanged, Mwi, RegState, SipMessage
from tuiphone.logthrottle import LogThrottle

log = logging.getLogger(__name__)

MAX_CLIENTS = 32
MAX_PENDING = 1000          # lines waiting for one front-end; beyond this it is dropped
LAGGING = 200               # from this many waiting, SIP messages are left out for that front-end
MAX_IN_FLIGHT = 16          # requests of one front-end being carried out at once
CLOSE_WAIT_S = 2.0          # at a close: how long the lines still waiting may take to go out
SIP_TURN_S = 1.0


def _key(event: Any) -> tuple | None:
    """Events that say what something is now (not what happened): a newer one replaces one still waiting."""
    if isinstance(event, Blf):
        return ("Blf", event.key)
    if isinstance(event, RegState):
        return ("RegState", event.account)
    if isinstance(event, Mwi):
        return ("Mwi", event.account)
    if isinstance(event, FeaturesChanged):
        return ("FeaturesChanged",)
    return None


class Outbox:
    """The lines waiting for one front-end: bounded, state events merged by key."""

    def __init__(self, limit: int = MAX_PENDING, lagging: int = LAGGING) -> None:
        self.limit, self.lagging = limit, lagging
        self._items: deque[list] = deque()          # [key, line]
        self._keyed: dict[tuple, list] = {}
        self._ready = asyncio.Event()
        self.closed = False
        self.left_out = 0                            # SIP messages not sent because the front-end lagged

    def __len__(self) -> int:
        return len(self._items)

    def put(self, line: bytes, key: tuple | None = None, droppable: bool = False) -> bool:
        """Queue `line`; False when the front-end is too far behind to take it."""
        if self.closed:
            return True
        if key is not None and (slot := self._keyed.get(key)) is not None:
            slot[1] = line
            return True
        if droppable and len(self._items) >= self.lagging:
            self.left_out += 1
            return True
        if len(self._items) >= self.limit:
            return False
        slot = [key, line]
        self._items.append(slot)
        if key is not None:
            self._keyed[key] = slot
        self._ready.set()
        return True

    async def get(self) -> bytes | None:
        """The next line; None once closed and empty."""
        while not self._items:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        key, line = self._items.popleft()
        if key is not None:
            self._keyed.pop(key, None)
        return line

    def close(self, discard: bool = False) -> None:
        self.closed = True
        if discard:
            self._items.clear()
            self._keyed.clear()
        self._ready.set()


class _Client:
    def __init__(self, writer: asyncio.StreamWriter, pid: int) -> None:
        self.writer = writer
        self.pid = pid
        self.outbox = Outbox()
        self.tasks: set[asyncio.Task] = set()
        self.sender: asyncio.Task | None = None
        self.dropped = False


class ControlServer:
    def __init__(self, phone: Any, endpoint: Claim, *, stopping: asyncio.Event | None = None,
                 store: Any = None) -> None:
        self.phone = phone
        self.endpoint = endpoint
        self.view = PhoneView()
        self.started = time.time()
        self.clients: set[_Client] = set()
        self.ctx = ops.Context(phone, store=store, stopping=stopping, status=self.status,
                               config=endpoint.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Any = None
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task] = set()
        self._noise = LogThrottle(log)         # a flood of connections costs a few log lines a minute

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.phone.subscribe(self._from_sip_thread)
        self.view = PhoneView.of_phone(self.phone)      # subscribed first: nothing falls in between
        self._server = await asyncio.start_unix_server(self._connected, sock=self.endpoint.sock, limit=MAX_LINE)
        log.info("control socket on %s", self.endpoint.path)

    async def stop(self) -> None:
        """Stop listening and close every front-end after the lines already queued for it (briefly)."""
        if self._unsubscribe is not None:
            await self._events_so_far()
            self._unsubscribe()
            self._unsubscribe = None
        if self._server is not None:
            self._server.close()
            self._server = None
        clients = tuple(self.clients)
        for client in clients:
            client.outbox.close()
        senders = [c.sender for c in clients if c.sender is not None]
        if senders:
            await asyncio.wait(senders, timeout=CLOSE_WAIT_S)
        for client in clients:
            client.writer.transport.abort()      # its reader ends: the front-end sees the phone go
        if self._handlers:
            await asyncio.wait(tuple(self._handlers), timeout=1.0)
        for task in tuple(self._handlers):
            task.cancel()

    async def _events_so_far(self) -> None:
        try:      # the last events (the hang-ups at stop) reach the front-ends before they are closed
            await asyncio.wait_for(asyncio.wrap_future(self.phone.backend.submit(lambda: None)), SIP_TURN_S)
        except Exception:
            return
        await asyncio.sleep(0)

    # ----- events ------------------------------------------------------------------------------------
    def _from_sip_thread(self, event: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, event)
        except RuntimeError:        # the loop has closed: the phone outlived its control socket
            pass

    def _dispatch(self, event: Any) -> None:
        self.view.apply(event)
        if not self.clients:
            return
        line = dump(encode_event(event))
        key, droppable = _key(event), isinstance(event, SipMessage)
        for client in tuple(self.clients):
            if not client.outbox.put(line, key, droppable):
                self._drop(client)

    def _drop(self, client: _Client) -> None:
        self._noise.warning("dropped", "control: dropped the front-end of pid %s: it fell %d lines behind; "
                            "it may connect again", client.pid, MAX_PENDING)
        client.dropped = True
        self.clients.discard(client)
        client.outbox.close(discard=True)
        client.writer.transport.abort()

    # ----- what the phone looks like -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {**self.view.to_data(), "audio": self._audio(), "paging": self._paging()}

    def status(self) -> dict[str, Any]:
        try:
            sip = self.phone.backend.local_address()
        except Exception:
            sip = ""
        return {"pid": os.getpid(), "config": str(self.endpoint.config), "socket": str(self.endpoint.path),
                "version": __version__, "up_s": round(time.time() - self.started, 1), "sip": sip,
                "front_ends": len(self.clients), "max_lines": self.phone.max_lines, **self.snapshot()}

    def _audio(self) -> dict[str, Any] | None:
        audio = self.phone.local_audio
        if audio is None:
            return None
        return {"status": audio.status, "reason": audio.reason, "volume": round(audio.volume, 3),
                "muted": audio.muted}

    def _paging(self) -> dict[str, Any]:
        pager = getattr(self.phone, "pager", None)
        if pager is None:
            return {"listening": False, "sending": None, "groups": [], "problem": None}
        return {"listening": pager.listening, "sending": pager.sending, "problem": pager.problem,
                "groups": [str(getattr(g, "address", g)) for g in pager.groups]}

    # ----- one front-end -----------------------------------------------------------------------------
    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            pid, uid = peer_uid(writer.get_extra_info("socket"))
        except OSError:
            pid, uid = 0, -1
        client = _Client(writer, pid)
        if uid != os.getuid():
            self._noise.warning("refused", "control: refused a connection from uid %s (pid %s): not this phone's "
                                "user", uid, pid)
            client.outbox.put(dump(error(None, "this phone belongs to another user; only the user who started "
                                               "it may control it")))
        elif len(self.clients) >= MAX_CLIENTS:
            client.outbox.put(dump(error(None, f"{MAX_CLIENTS} front-ends are attached already; close one first")))
        else:
            client.outbox.put(dump({**hello(os.getpid(), str(self.endpoint.config), __version__),
                                     "max_lines": self.phone.max_lines}))
            client.outbox.put(dump({"snapshot": self.snapshot()}))
            self.clients.add(client)       # from here on it gets every event: none between snapshot and events
        sender = client.sender = asyncio.create_task(self._send(client))
        try:
            if client in self.clients:
                await self._read(client, reader)
        except Exception:
            log.exception("control: a front-end's connection failed")
        finally:
            self.clients.discard(client)
            for job in tuple(client.tasks):
                job.cancel()
            client.outbox.close()
            try:
                await asyncio.wait_for(sender, CLOSE_WAIT_S)
            except (TimeoutError, asyncio.CancelledError):
                pass
            writer.close()

    async def _send(self, client: _Client) -> None:
        writer = client.writer
        try:
            while (line := await client.outbox.get()) is not None:
                writer.write(line)
                await writer.drain()
        except (ConnectionError, OSError):
            client.outbox.close(discard=True)

    async def _read(self, client: _Client, reader: asyncio.StreamReader) -> None:
        while not client.outbox.closed:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return                       # the front-end went away
            except asyncio.LimitOverrunError:
                client.outbox.put(dump(error(None, f"a line is longer than {MAX_LINE} bytes; closing")))
                return
            except (ConnectionError, OSError):
                return
            if not line.strip():
                continue
            try:
                request_id, op, args = parse_request(load(line))
                if op not in ops.OPS:
                    raise ProtocolError(f"'{op:.40}' is not an op this phone knows; closing", request_id)
            except ProtocolError as exc:
                if client.tasks:           # the requests before it are answered first, in order
                    await asyncio.wait(tuple(client.tasks), timeout=CLOSE_WAIT_S)
                client.outbox.put(dump(error(exc.request_id, f"{exc}")))
                return
            if len(client.tasks) >= MAX_IN_FLIGHT:
                client.outbox.put(dump(error(request_id, f"{MAX_IN_FLIGHT} requests are being carried out "
                                                         "already; wait for their replies")))
                continue
            job = asyncio.create_task(self._answer(client, request_id, op, args))
            client.tasks.add(job)
            job.add_done_callback(client.tasks.discard)

    async def _answer(self, client: _Client, request_id: Any, op: str, args: dict[str, Any]) -> None:
        try:
            reply = dump(ok(request_id, await ops.run(op, args, self.ctx)))
        except ops.Refused as exc:
            reply = dump(error(request_id, str(exc)))
        except Exception:
            log.exception("control: op %s failed", op)
            reply = dump(error(request_id, f"the phone could not do {op}: an internal error (see the phone's log)"))
        client.outbox.put(reply)


@asynccontextmanager
async def serve_control(phone: Any, endpoint: Claim, *, stopping: asyncio.Event | None = None,
                        store: Any = None) -> AsyncIterator[ControlServer]:
    """The control endpoint of `phone` on the running loop for the `async with` block."""
    server = ControlServer(phone, endpoint, stopping=stopping, store=store)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextmanager
def claim_for_daemon(config_option: str | None) -> Iterator[Claim]:
    """The daemon's claim on the control socket of its config; StartError (exit 2) when another phone runs
    for it or the socket cannot be made."""
    from tuiphone.paths import config_path
    from tuiphone.runtime import StartError

    with ExitStack() as stack:
        try:
            endpoint = stack.enter_context(claim(config_path(config_option)))
        except EndpointError as exc:
            raise StartError(str(exc)) from None
        yield endpoint
