"""The daemon's call history (`PhoneRecords` over `CallHistory`): a row when a call starts, its talk time while it
lasts, the outcome when it ends; network text of any bytes is kept and a store error is logged, never dropped."""

from __future__ import annotations

import logging
import time

from tests.tui.fake_phone import FakePhone
from tuiphone.config import parse_config_text
from tuiphone.engine.events import CallLogEntry, CallStarted, CallState, LineState
from tuiphone.services.records import PhoneRecords
from tuiphone.store import Store

MODES = """
[[accounts]]
sip_server = "127.0.0.1:5090"
user_id = "1001"
call_log = "all"

[[accounts]]
sip_server = "127.0.0.2"
user_id = "2002"
call_log = "answered"
"""
BAD_NAME = "\udcff\udcfe\udcc3("          # From: "\xff\xfe\xc3(" as pjsua2 hands it over


def started(key: str, number: str, account: int | None = 0, line: int = 1, name: str = "") -> CallStarted:
    return CallStarted(key=key, line=line, direction="in", account=account, remote_uri=f"sip:{number}@pbx",
                       remote_name=name, remote_number=number, started=1000.0)


def state(line: int, now: LineState, account: int | None = 0) -> CallState:
    return CallState(line=line, state=now, direction="in", account=account, remote_uri="", remote_name="",
                     remote_number="")


def ended(key: str, number: str, disposition: str, account: int | None = 0, duration: float = 0.0,
          name: str = "") -> CallLogEntry:
    return CallLogEntry(direction="in", account=account, remote_uri=f"sip:{number}@pbx", remote_name=name,
                        remote_number=number, started=1000.0, duration_s=duration, disposition=disposition,
                        reason="", key=key)


def records(tmp_path, **kwargs) -> tuple[PhoneRecords, FakePhone, Store]:
    phone = FakePhone(parse_config_text(MODES))
    store = Store(tmp_path / "tuiphone.db")
    saving = PhoneRecords(phone, store, **kwargs)
    saving.start()
    return saving, phone, store


def test_a_caller_whose_name_is_not_utf8_is_in_the_history(tmp_path):
    saving, phone, store = records(tmp_path)
    phone.fire(ended("", "u", "missed", account=None, name=BAD_NAME))      # a call that never got a line
    phone.fire(started("k1", "u", account=None, name=BAD_NAME))
    saving.stop()
    assert [(c.remote_name, c.disposition) for c in store.calls()] == [("\ufffd\ufffd\ufffd(", "in_progress"),
                                                                      ("\ufffd\ufffd\ufffd(", "missed")]


def test_the_row_is_there_while_it_rings_and_finished_when_it_ends(tmp_path):
    saving, phone, store = records(tmp_path, heartbeat_s=0.05)
    phone.fire(started("k1", "100"))
    deadline = time.monotonic() + 3
    while not store.calls() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(c.remote_number, c.disposition) for c in store.calls()] == [("100", "in_progress")]
    phone.fire(state(1, LineState.TALKING))
    while store.calls()[0].duration_s == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.calls()[0].duration_s > 0               # the heartbeat wrote the talk time so far
    phone.fire(ended("k1", "100", "answered", duration=3.0), state(1, LineState.ENDED))
    saving.stop()
    assert [(c.remote_number, c.disposition, c.duration_s) for c in store.calls()] == [("100", "answered", 3.0)]


def test_an_answered_only_account_gets_its_row_when_the_call_is_answered(tmp_path):
    saving, phone, store = records(tmp_path)
    phone.fire(started("k1", "201", account=1, line=1), started("k2", "202", account=1, line=2))
    phone.fire(state(2, LineState.TALKING))
    phone.fire(ended("k1", "201", "missed", account=1))
    saving.stop()
    assert [(c.remote_number, c.disposition) for c in store.calls()] == [("202", "in_progress")]


def test_a_store_error_is_logged(tmp_path, caplog):
    saving, phone, store = records(tmp_path)
    store.close()                                        # every write now fails
    with caplog.at_level(logging.ERROR):
        phone.fire(started("k1", "100"), ended("k1", "100", "missed"))
        saving.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("100 is kept when it ends" in e for e in errors), errors
    assert any("The call with 100 is not in the history" in e for e in errors), errors


def test_an_unexpected_failure_while_saving_is_logged_not_dropped(tmp_path, caplog, monkeypatch):
    saving, phone, store = records(tmp_path)

    def broken(*_):
        raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")
    monkeypatch.setattr(store, "add_log_entry", broken)
    with caplog.at_level(logging.ERROR):
        phone.fire(ended("", "100", "missed"))
        saving.stop()
    assert any("saving to the phone's database failed" in r.getMessage() and r.exc_info
               for r in caplog.records), caplog.text
