"""A real phone (pjsua, in this process) and its history: the row is there while the call rings, it carries the
talk time while the call is up, and the end finishes that same row."""

from __future__ import annotations

import time

import pytest

from tests.inprocess import phone_factory, wait_for
from tuiphone.engine.events import CallLogEntry, CallStarted, CallState, IncomingCall, LineState
from tuiphone.services.records import PhoneRecords
from tuiphone.store import Store

pytestmark = pytest.mark.peers


def until(check, timeout: float = 5.0, what: str = "the history"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} never got there (last: {check()!r})")


def test_the_row_exists_while_it_rings_and_the_answered_call_stays_one_row(phones, tmp_path):
    store = Store(tmp_path / "tuiphone.db")
    with phone_factory() as make:
        p = make({})
        saving = PhoneRecords(p, store, heartbeat_s=0.1)
        saving.start()
        try:
            caller = phones("caller", ["call", f"127*0*0*1#{p.port}", "--duration", "30", "--timeout", "10",
                                       "--json"])
            ring = wait_for(p, lambda e: isinstance(e, IncomingCall), timeout=10)
            start = next(e for e in p.seen if isinstance(e, CallStarted))
            assert (start.line, start.direction, start.remote_number) == (ring.line, "in", "tuiphone")
            rows = until(lambda: [(c.remote_number, c.disposition) for c in store.calls()])
            assert rows == [("tuiphone", "in_progress")]             # while it rings
            p.answer(ring.line).result(5)
            wait_for(p, lambda e: isinstance(e, CallState) and e.state == LineState.TALKING)
            until(lambda: store.calls()[0].duration_s > 0, what="the talk time so far")
            assert store.calls()[0].disposition == "in_progress"
            p.hangup(ring.line).result(5)
            end = wait_for(p, lambda e: isinstance(e, CallLogEntry))
            assert end.key == start.key
        finally:
            saving.stop()
        rc, report = caller.result()
        assert report.get("result") == "answered", caller.stderr()
    (row,) = store.calls()
    assert (row.disposition, row.remote_number) == ("answered", "tuiphone") and row.duration_s > 0
    store.close()
