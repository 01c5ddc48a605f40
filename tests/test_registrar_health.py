"""Registration health against a real Kamailio that forgets every registration when it restarts (usrloc
db_mode 0): the phone notices the restart through its OPTIONS keep-alive and registers again by itself, so a
call to it from another process reaches it again. Short intervals keep each test a few seconds; the timing
with default settings is tested on the fake stack (tests/engine/test_registration_health.py)."""

from __future__ import annotations

import logging
import time

import pytest

from tests.inprocess import phone_factory as inprocess_phones
from tests.inprocess import wait_for
from tests.test_kamailio import account, wait_reg
from tuiphone.engine.events import IncomingCall, RegState

pytestmark = pytest.mark.peers

# a long expiry: only the keep-alive can bring the registration back within the test
HEALTH = {"options_keepalive": True, "options_interval": 1, "reg_expires": 3600}


@pytest.fixture
def phone_factory():
    with inprocess_phones() as make:
        yield make


def reaches(phone, kamailio, phones, name: str) -> tuple[int, dict]:
    """Call user 1001 (the in-process phone) from a tuiphone process through Kamailio; answer it when it
    rings. The caller's (exit code, report)."""
    caller = phones(name, ["call", "1001", "--duration", "0.5", "--timeout", "8", "--json"],
                    config={"accounts": [account(kamailio, "1002", register=False)]})
    deadline = time.monotonic() + 10
    while caller._popen.poll() is None and time.monotonic() < deadline:
        try:
            ring = wait_for(phone, lambda e: isinstance(e, IncomingCall), timeout=0.5)
        except AssertionError:
            continue
        phone.answer(ring.line).result(5)
        break
    return caller.result(timeout=15)


def test_a_registrar_restart_that_forgets_us_is_noticed_and_we_register_again(kamailio, phone_factory, phones,
                                                                               caplog):
    caplog.set_level(logging.INFO, logger="tuiphone")
    phone = phone_factory({"accounts": [account(kamailio, "1001", **HEALTH, options_max_lost=10)]})
    wait_reg(phone, lambda r: r.registered, 10)
    rc, report = reaches(phone, kamailio, phones, "before")
    assert (rc, report["result"]) == (0, "answered"), report

    kamailio.stop()                       # by PID; its in-memory location table goes with it
    time.sleep(2.5)                       # at least one keep-alive goes unanswered
    kamailio.start()                      # same port, nobody registered
    back = time.monotonic()
    state = wait_reg(phone, lambda r: r.registered and r.sip_status == 200, 5)
    assert time.monotonic() - back < 4, "took longer than a keep-alive interval and a REGISTER (with slack)"
    assert state.server == f"{kamailio.host}:{kamailio.port}"
    assert all(e.registered for e in phone.seen if isinstance(e, RegState)), \
        "one lost keep-alive (max lost 10) must not show the account as not registered"
    rc, report = reaches(phone, kamailio, phones, "after")
    assert (rc, report["result"]) == (0, "answered"), report
    assert any("answers again after" in r.message and r.levelno == logging.INFO for r in caplog.records)


def test_a_registrar_that_stays_away_shows_not_registered_then_comes_back(kamailio, phone_factory, phones,
                                                                          caplog):
    caplog.set_level(logging.INFO, logger="tuiphone")
    phone = phone_factory({"accounts": [account(kamailio, "1001", **HEALTH, options_max_lost=2)]})
    wait_reg(phone, lambda r: r.registered, 10)
    kamailio.stop()
    gone = time.monotonic()
    down = wait_reg(phone, lambda r: not r.registered, 10)
    assert time.monotonic() - gone < 5                  # two lost pings, one second apart
    assert down.sip_status == 408 and "does not answer OPTIONS" in down.reason
    assert phone.registrations()[0].registered is False  # what the status bar shows
    assert any("stopped answering" in r.message and r.levelno == logging.INFO for r in caplog.records)

    kamailio.start()
    wait_reg(phone, lambda r: r.registered, 8)
    rc, report = reaches(phone, kamailio, phones, "after")
    assert (rc, report["result"]) == (0, "answered"), report
