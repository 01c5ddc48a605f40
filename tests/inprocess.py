"""In-process phones on real pjsua for peer tests: a factory that stops what it started, and an event wait."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.phoneproc import sip_port
from tuiphone.config import Config
from tuiphone.engine.events import SipMessage
from tuiphone.engine.phone import Phone
from tuiphone.engine.sip import PjsuaBackend


@contextmanager
def phone_factory() -> Iterator[Callable[[dict], Phone]]:
    """make(config_dict) -> a started Phone on 127.0.0.1 with `.events` (a queue), `.seen` (every event)
    and `.port`; every phone made is stopped when the block ends."""
    started: list[Phone] = []

    def make(config: dict) -> Phone:
        port = sip_port()
        p = Phone(Config.model_validate(config), PjsuaBackend(), port=port, bind="127.0.0.1")
        p.port, p.events, p.seen = port, queue.Queue(), []
        p.subscribe(p.events.put)
        p.subscribe(p.seen.append)
        p.start()
        started.append(p)
        return p

    try:
        yield make
    finally:
        for p in started:
            p.stop()


def wait_for(p: Phone, pred: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """The next event of `p` that matches `pred`; fails with the last events (SIP messages left out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ev = p.events.get(timeout=0.05)
        except queue.Empty:
            continue
        if pred(ev):
            return ev
    raise AssertionError(f"no matching event in {timeout} s; saw "
                         f"{[e for e in p.seen if not isinstance(e, SipMessage)][-8:]}")
