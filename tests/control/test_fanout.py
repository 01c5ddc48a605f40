"""The control server's fan-out on a real loop and socket: a front-end that stops reading is dropped with
a log line while one that reads gets every event in order, and the phone's side never waits."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from tests.fakes import FakeBackend
from tuiphone.config import Config
from tuiphone.control.client import ControlClient
from tuiphone.control.endpoint import claim
from tuiphone.control.server import MAX_PENDING, ControlServer
from tuiphone.engine.events import Notice
from tuiphone.engine.phone import Phone

EVENTS = 3 * MAX_PENDING


def test_a_stuck_front_end_is_dropped_and_a_reading_one_keeps_everything(runtime_dir, tmp_path, caplog):
    phone = Phone(Config.model_validate({}), FakeBackend())
    config = tmp_path / "phone.toml"

    async def go() -> tuple[list[str], int, list[float], bool]:
        with claim(config) as endpoint:
            server = ControlServer(phone, endpoint)
            await server.start()
            stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.setblocking(False)
            await asyncio.get_running_loop().sock_connect(stuck, str(endpoint.path))
            reader = await ControlClient.connect(config)
            got: list[str] = []
            reader.subscribe(lambda e: got.append(e.text) if isinstance(e, Notice) else None)
            while len(server.clients) < 2:
                await asyncio.sleep(0.01)
            took: list[float] = []
            for i in range(EVENTS):
                started = time.perf_counter()
                server._dispatch(Notice(f"n{i}"))      # what the SIP thread's hand-over calls on the loop
                took.append(time.perf_counter() - started)
                if i % 100 == 99:
                    await asyncio.sleep(0.005)        # the loop turns: the reading front-end reads
            deadline = time.monotonic() + 10
            while len(got) < EVENTS and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            still = len(server.clients)
            closed = reader.closed.is_set()
            await reader.close()
            await server.stop()
            stuck.close()
            return got, still, took, closed

    with caplog.at_level(logging.WARNING, logger="tuiphone.control.server"):
        got, still, took, closed = asyncio.run(go())
    assert got == [f"n{i}" for i in range(EVENTS)]
    assert still == 1 and not closed
    assert "dropped the front-end" in caplog.text
    # a hand-over never waits for the stuck front-end: typical ones take microseconds, and none blocks (a
    # write waiting on the stuck socket would wait for ever); one preempted by a loaded machine may take more
    assert sorted(took)[len(took) // 2] < 0.005 and max(took) < 1.0
