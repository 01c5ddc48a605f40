"""A front-end's side of the control socket: `ControlClient` (asyncio), `RemotePhone` (the Phone API over
it, for the TUI) and `call_phone` (one request, blocking, for `tuiphone ctl`).

Light on purpose: an attaching front-end imports neither pjsua2 nor numpy, only the engine's events.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tuiphone.control.codec import CodecError, decode_event, from_data
from tuiphone.control.endpoint import socket_path
from tuiphone.control.protocol import MAX_LINE, ProtocolError, check_hello, dump, load, request
from tuiphone.control.state import LineInfo, PhoneView
from tuiphone.engine.phone_error import PhoneError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 15.0      # the phone gives up on a command after 10 s (ops.COMMAND_TIMEOUT_S)
_END = object()


class ControlError(Exception):
    """The phone cannot be reached or spoke out of turn; `str()` is a sentence."""


class NoPhone(ControlError):
    """No phone runs for the config."""


class PhoneRefused(PhoneError):
    """The phone said no; `str()` is its sentence (a PhoneError, so the UI shows it as it shows the engine's)."""


def no_phone(config: Path | str) -> str:
    return f"no phone is running for {config}; start one with `tuiphone daemon` or `tuiphone`"


class ControlClient:
    """One connection to the phone. `await ControlClient.connect(config)`, then `request`, `events()`,
    `subscribe`; `view` is the phone's state (snapshot plus every event since), `hello` its greeting."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: dict[str, Any],
                 snapshot: dict[str, Any]) -> None:
        self._reader, self._writer = reader, writer
        self.hello = hello
        self.snapshot = snapshot
        self.view = PhoneView.from_data(snapshot)
        self.loop = asyncio.get_running_loop()
        self.closed = asyncio.Event()
        self.problem = ""                         # why the connection ended, when the phone said
        self._next_id = 0
        self._pending: dict[int, asyncio.Future] = {}
        self._subscribers: list[Callable[[Any], None]] = []
        self._queues: list[tuple[asyncio.Queue, bool]] = []
        self._task = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        return int(self.hello.get("pid", 0))

    @classmethod
    async def connect(cls, config: Path | str, timeout: float = CONNECT_TIMEOUT_S) -> ControlClient:
        path = socket_path(config)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path, limit=MAX_LINE), timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            raise NoPhone(no_phone(config)) from None
        except PermissionError:
            raise ControlError(f"you may not use {path}: the phone there belongs to another user") from None
        except (OSError, TimeoutError) as exc:
            raise ControlError(f"cannot reach the phone for {config} at {path}: "
                               f"{getattr(exc, 'strerror', None) or exc or 'no answer'}") from None
        try:
            greeting = await asyncio.wait_for(cls._line(reader), timeout)
            if greeting.get("ok") is False:
                raise ControlError(f"the phone refused: {greeting.get('error', '')}")
            check_hello(greeting)
            snapshot = (await asyncio.wait_for(cls._line(reader), timeout)).get("snapshot")
            if not isinstance(snapshot, dict):
                raise ControlError("the phone sent no snapshot after its hello")
            return cls(reader, writer, greeting, snapshot)
        except BaseException as exc:
            writer.close()
            if isinstance(exc, TimeoutError):
                raise ControlError(f"the phone for {config} does not answer on {path}") from None
            if isinstance(exc, (ProtocolError, CodecError)):
                raise ControlError(str(exc)) from None
            raise

    @staticmethod
    async def _line(reader: asyncio.StreamReader) -> dict[str, Any]:
        line = await reader.readline()
        if not line:
            raise ControlError("the phone closed the connection")
        return load(line)

    async def request(self, op: str, **args: Any) -> Any:
        """The result of `op`; PhoneRefused with the phone's sentence, ControlError when it is gone."""
        if self.closed.is_set():
            raise ControlError(self.problem or "the connection to the phone is closed")
        self._next_id += 1
        request_id = self._next_id
        waiter = self.loop.create_future()
        self._pending[request_id] = waiter
        try:
            self._writer.write(dump(request(request_id, op, args)))
            await self._writer.drain()
            reply = await asyncio.wait_for(waiter, REQUEST_TIMEOUT_S)
        except TimeoutError:
            raise ControlError(f"the phone did not answer {op} in {REQUEST_TIMEOUT_S:g} s") from None
        except (ConnectionError, OSError):
            raise ControlError(self.problem or "the connection to the phone broke") from None
        finally:
            self._pending.pop(request_id, None)
        if not reply.get("ok"):
            raise PhoneRefused(str(reply.get("error", "the phone refused")))
        return reply.get("result")

    def subscribe(self, fn: Callable[[Any], None]) -> Callable[[], None]:
        """`fn(event)` on this loop for every event from now on (after `view` has it)."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    async def events(self, raw: bool = False) -> AsyncIterator[Any]:
        """Every event from now on until the connection ends: engine dataclasses, or with `raw` the JSON
        objects as sent (events of a newer phone this one does not know included)."""
        queue: asyncio.Queue = asyncio.Queue()
        entry = (queue, raw)
        self._queues.append(entry)
        try:
            if self.closed.is_set():
                return
            while (item := await queue.get()) is not _END:
                yield item
        finally:
            self._queues.remove(entry)

    async def close(self) -> None:
        self._writer.close()
        try:
            await asyncio.wait_for(self._task, 2.0)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                try:
                    self._handle(load(line))
                except (ProtocolError, CodecError) as exc:
                    log.debug("control: skipped a line from the phone: %s", exc)
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            self.problem = self.problem or "the phone closed the connection (it stopped, or dropped this front-end)"
            self.closed.set()
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(ControlError(self.problem))
            for queue, _ in self._queues:
                queue.put_nowait(_END)

    def _handle(self, message: dict[str, Any]) -> None:
        if "event" in message:
            for queue, raw in self._queues:
                if raw:
                    queue.put_nowait(message)
            event = decode_event(message)
            self.view.apply(event)
            for queue, raw in self._queues:
                if not raw:
                    queue.put_nowait(event)
            for fn in tuple(self._subscribers):
                try:
                    fn(event)
                except Exception:
                    log.exception("control: an event subscriber failed")
            return
        waiter = self._pending.get(message.get("id"))          # type: ignore[arg-type]
        if waiter is not None and not waiter.done():
            waiter.set_result(message)
        elif message.get("ok") is False:
            self.problem = str(message.get("error", ""))


class RemotePhone:
    """The `Phone` API the UI calls, carried out by the phone process. Commands return concurrent Futures
    (as Phone's do) that fail with PhoneRefused; state (`lines()`, `registrations()`, ...) comes from the
    client's view, kept current by the events. Safe to call from any thread; the client runs on `client.loop`."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client
        self.max_lines = int(client.snapshot.get("max_lines") or client.hello.get("max_lines") or 6)
        self.local_audio = None        # the sound devices are the phone process's
        self.pager = RemotePager(self)
        self.remote = True             # the UI: the phone runs in another process (q detaches)
        self._thread: Any = None       # the thread running client.loop, when `attach` started one

    @classmethod
    def attach(cls, config: Path | str, timeout: float = CONNECT_TIMEOUT_S) -> RemotePhone:
        """Connect to the phone for `config` on a thread of its own running its own loop (as the SIP thread
        runs beside the UI): commands return concurrent Futures, subscribers are called on that thread.
        NoPhone or ControlError when it cannot connect."""
        import threading

        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                started.set_result(loop.run_until_complete(ControlClient.connect(config, timeout)))
            except BaseException as exc:        # handed to the caller below
                started.set_exception(exc)
                loop.close()
                return
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        thread = threading.Thread(target=run, name="tuiphone-control", daemon=True)
        thread.start()
        phone = cls(started.result())
        phone._thread = thread
        return phone

    @property
    def pid(self) -> int:
        return self.client.pid

    @property
    def config(self) -> Any:
        return None         # the phone process has its own; the UI reads the config file itself

    def config_data(self) -> dict[str, Any]:
        """The config file as the phone process reads it now: {"config": its plain data (config.view),
        "created": whether the phone wrote the default one, "path"}. PhoneRefused says what is wrong with it."""
        result: dict[str, Any] = self._op("config").result(REQUEST_TIMEOUT_S)
        return result

    def on_closed(self, fn: Callable[[str], None]) -> None:
        """`fn(reason)` once, on the client's thread, when the connection to the phone ends."""
        async def wait() -> None:
            await self.client.closed.wait()
            fn(self.client.problem)
        asyncio.run_coroutine_threadsafe(wait(), self.client.loop)

    @property
    def is_closed(self) -> bool:
        return self.client.closed.is_set()

    def audio(self) -> dict[str, Any] | None:
        """The phone process's sound devices as its snapshot said: status, reason, volume, muted (or None)."""
        return self.client.snapshot.get("audio")

    def paging(self) -> dict[str, Any]:
        return self.client.snapshot.get("paging") or {}

    def detach(self) -> None:
        """Close the connection (the phone goes on) and end the client's thread."""
        if self._thread is None:
            return
        loop = self.client.loop
        try:
            asyncio.run_coroutine_threadsafe(self.client.close(), loop).result(3.0)
        except Exception:           # already gone: nothing left to close
            pass
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(3.0)
        self._thread = None

    def _op(self, op: str, decode: Callable[[Any], Any] | None = None, **args: Any) -> concurrent.futures.Future:
        async def go() -> Any:
            result = await self.client.request(op, **args)
            return decode(result) if decode is not None else result
        return asyncio.run_coroutine_threadsafe(go(), self.client.loop)

    # ----- events and state ---------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Any], None]) -> Callable[[], None]:
        return self.client.subscribe(fn)

    def lines(self) -> list[Any]:
        return self.client.view.calls()

    def line_info(self, line: int) -> LineInfo | None:
        """The line with when it started and began talking (wall clock), for timers that go on."""
        return self.client.view.lines.get(line)

    def registrations(self) -> dict[int, Any]:
        return dict(self.client.view.registrations)

    def feature_state(self) -> Any:
        return self.client.view.features

    @property
    def voicemail(self) -> dict[int | None, tuple[bool, int, int]]:
        return {a: (m.waiting, m.new, m.old) for a, m in self.client.view.mwi.items()}

    @property
    def blf(self) -> dict[int, str]:
        return {k: b.state for k, b in self.client.view.blf.items()}

    def key_states(self) -> dict[int, str]:
        return self.blf

    # ----- commands (arguments as Phone takes them: lines from 1, accounts and keys from 0) -------------
    def call(self, target: str, account: int | None = None, media: Any = None, headers: Any = None):
        return self._op("call", target=target, account=account)

    def intercom(self, target: str, account: int | None = None, media: Any = None):
        return self._op("intercom", target=target, account=account)

    def dial_voicemail(self, account: int | None = None, media: Any = None):
        return self._op("dial_voicemail", account=account)

    def dial_key(self, index: int, media: Any = None):
        return self._op("dial_key", index=index)

    def answer(self, line: int, media: Any = None):
        return self._op("answer", line=line)

    def reject(self, line: int, code: int = 486):
        return self._op("reject", line=line, code=code)

    def forward(self, line: int, target: str):
        return self._op("forward", line=line, target=target)

    def hangup(self, line: int):
        return self._op("hangup", line=line)

    def hangup_all(self):
        return self._op("hangup_all")

    def hold(self, line: int):
        return self._op("hold", line=line)

    def resume(self, line: int):
        return self._op("resume", line=line)

    def mute(self, line: int, on: bool = True):
        return self._op("mute", line=line, on=on)

    def send_dtmf(self, line: int, digits: str):
        return self._op("send_dtmf", line=line, digits=digits)

    def blind_transfer(self, line: int, target: str):
        return self._op("blind_transfer", line=line, target=target)

    def attended_transfer(self, line: int, other_line: int):
        return self._op("attended_transfer", line=line, other_line=other_line)

    def record(self, line: int, on: bool = True):
        return self._op("record", line=line, on=on)

    def conference(self, lines: list[int] | None = None):
        return self._op("conference", lines=lines)

    def split_conference(self, keep: int | None = None):
        return self._op("split_conference", keep=keep)

    def hold_conference(self, on: bool = True):
        return self._op("hold_conference", on=on)

    def end_conference(self):
        return self._op("end_conference")

    def leave_conference(self):
        return self._op("leave_conference")

    def set_dnd(self, on: bool):
        return self._op("set_dnd", on=on)

    def set_forward(self, kind: str, target: str):
        return self._op("set_forward", kind=kind, target=target)

    def set_call_waiting(self, on: bool):
        return self._op("set_call_waiting", on=on)

    def set_anonymous(self, account: int, on: bool):
        return self._op("set_anonymous", account=account, on=on)

    def block(self, entry: str):
        return self._op("block", entry=entry)

    def unblock(self, entry: str):
        return self._op("unblock", entry=entry)

    def register(self, account: int, on: bool = True):
        return self._op("register", account=account, on=on)

    def silence_ringer(self, line: int | None = None) -> None:
        self._op("silence_ringer", line=line)

    def quality(self, line: int):
        def decode(data: Any) -> Any:
            from tuiphone.engine.quality import CallQuality
            return from_data(CallQuality, data)
        return self._op("quality", decode, line=line)

    def dtmf_received(self, line: int):
        return self._op("dtmf_received", line=line)

    def history(self, limit: int = 50, kind: str = "all"):
        return self._op("history", limit=limit, kind=kind)

    def contacts(self, search: str = ""):
        return self._op("contacts", search=search)

    def page_send(self, target: str, codec: str | None = None):
        return self._op("page_send", target=target, codec=codec)

    def page_stop(self):
        return self._op("page_stop")

    def end_page(self):
        return self._op("end_page")

    def reconfigure_account(self, index: int, account: Any):
        """Apply an account (an AccountConfig) the front-end has saved: the phone registers it again now."""
        return self._op("reconfigure_account", index=index, account=account.model_dump(mode="json"))

    def set_volume(self, volume: float):
        return self._op("set_volume", volume=volume)

    def stop_phone(self):
        """Ask the phone process to stop (Menu › Quit phone)."""
        return self._op("stop")


class RemotePager:
    """The paging screen's Pager, carried out by the phone process: what is sent or played comes from the
    phone's PageState events, sending and stopping are its page_send/page_stop ops (PhoneRefused says no)."""

    def __init__(self, phone: RemotePhone) -> None:
        self.phone = phone
        self._asked: str | None = None      # the target as the user typed it, while that page goes out

    @property
    def page(self) -> Any:
        return self.phone.client.view.pages.get("in")

    @property
    def sending(self) -> str | None:
        out = self.phone.client.view.pages.get("out")
        return None if out is None else self._asked or out.address

    @property
    def problem(self) -> str | None:
        return self.phone.paging().get("problem")

    def start_sending(self, target: str, codec: str | None = None) -> None:
        try:
            self.phone.page_send(target, codec).result(REQUEST_TIMEOUT_S)
        except (ControlError, concurrent.futures.TimeoutError) as exc:
            raise PhoneRefused(str(exc) or "the phone did not answer") from None
        self._asked = target

    def stop_sending(self) -> None:
        self._asked = None
        self.phone.page_stop()

    def end_page(self) -> None:
        self.phone.end_page()


def call_phone(config: Path | str, op: str, args: dict[str, Any] | None = None,
               timeout: float = CONNECT_TIMEOUT_S) -> tuple[dict[str, Any], Any]:
    """(hello, result) of one request to the phone for `config`, blocking; NoPhone, ControlError, PhoneRefused."""
    async def go() -> tuple[dict[str, Any], Any]:
        client = await ControlClient.connect(config, timeout)
        try:
            return client.hello, await client.request(op, **(args or {}))
        finally:
            await client.close()
    return asyncio.run(go())
