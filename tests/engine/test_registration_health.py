"""Registration health with default settings, on the fake stack: a registrar that goes away is shown within
about a minute, and one that comes back (perhaps restarted, with every registration forgotten) is registered
with again by itself. The fake's clock is moved second by second; its OPTIONS answers follow `servers_answer`."""

from __future__ import annotations

import logging

import pytest

from tests.engine.test_phone import PBX, Rig, make_phone
from tests.fakes import FakeBackend
from tuiphone.config import AccountConfig, Config
from tuiphone.engine.events import Notice, RegState
from tuiphone.engine.phone import Phone

DEFAULTS = AccountConfig(sip_server="pbx.example.com", user_id="1001")
LOSS_BOUND_S = 60        # "within about a minute"


class Registrar:
    """The registrar's side of REGISTER on the fake stack: answered 200 while it is up; while it is away
    pjsua gives up on the REGISTER after SIP's 32 s transaction timeout (408)."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.up = True
        self.answered = 0          # register commands handled so far
        self.sent_at: list[float] = []

    def set_up(self, up: bool) -> None:
        self.up = up
        self.rig.sip.servers_answer = up

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.rig.sip.advance(1)
            self._answer()

    def _answer(self) -> None:
        sent = self.rig.sip.sent("register")
        for _ in sent[self.answered:]:
            self.sent_at.append(self.rig.sip.now)
            if self.up:
                self.rig.sip.reg_result(0, 200, expires=60)
            else:
                self.rig.sip.schedule(32, lambda: self.rig.sip.reg_result(0, 408))
        self.answered = len(sent)


def registered(rig: Rig) -> bool:
    return rig.phone.registrations()[0].registered


def started(rig: Rig) -> Registrar:
    registrar = Registrar(rig)
    rig.sip.reg_result(0, 200, expires=60)        # the REGISTER sent when the account was added
    registrar.run(1)
    assert registered(rig)
    return registrar


def test_the_defaults_ping_the_registrar_every_20_s_and_register_for_60_s() -> None:
    assert (DEFAULTS.options_keepalive, DEFAULTS.options_interval, DEFAULTS.options_max_lost) == (True, 20, 2)
    rig = make_phone(accounts=[PBX])
    assert rig.sip.accounts[0].reg_expires == 60      # pjsua re-registers 5 s before: a restart is seen in 55 s
    assert rig.sip.beats() == ["keepalive"]
    started(rig).run(100)
    assert [t for t, _ in rig.sip.pings] == [20, 40, 60, 80, 100]
    assert {hop for _, hop in rig.sip.pings} == {"pbx.example.com:5060"}


def test_a_registrar_that_goes_away_shows_not_registered_within_a_minute(caplog) -> None:
    caplog.set_level(logging.INFO, logger="tuiphone")
    rig = make_phone(accounts=[PBX])
    registrar = started(rig)
    registrar.run(20)                                  # just after an answered ping: the worst moment to die
    down_at = rig.sip.now
    registrar.set_up(False)
    while registered(rig):
        registrar.run(1)
        assert rig.sip.now - down_at <= LOSS_BOUND_S, "still shown registered a minute after the server went"
    assert rig.sip.now - down_at <= 2 * DEFAULTS.options_interval
    state = rig.of(RegState)[-1]
    assert (state.registered, state.sip_status) == (False, 408)
    assert "does not answer OPTIONS" in state.reason
    assert any("stopped answering" in n.text and n.level == "warning" for n in rig.of(Notice))
    assert any("stopped answering" in r.message and r.levelno == logging.INFO for r in caplog.records)
    assert any("not registered with pbx.example.com" in r.message and r.levelno == logging.INFO
               for r in caplog.records)


def test_a_registrar_that_comes_back_is_registered_with_again_at_once(caplog) -> None:
    caplog.set_level(logging.INFO, logger="tuiphone")
    rig = make_phone(accounts=[PBX])
    registrar = started(rig)
    registrar.set_up(False)
    registrar.run(150)                                 # gone for good: retries with backoff meanwhile
    assert not registered(rig)
    back_at = rig.sip.now
    registrar.set_up(True)
    while not registered(rig):
        registrar.run(1)
        assert rig.sip.now - back_at <= DEFAULTS.options_interval + 1
    assert rig.of(RegState)[-1].sip_status == 200
    assert any("answers again" in r.message and r.levelno == logging.INFO for r in caplog.records)
    assert any("registered with pbx.example.com" in r.message and r.levelno == logging.INFO for r in caplog.records)


def test_a_20_s_restart_that_loses_one_ping_registers_again_when_the_server_answers() -> None:
    """The issue's row: Kamailio stopped for 20 s and started again, having forgotten every registration. One
    lost ping is not enough to say "not registered", but the next answer re-registers."""
    rig = make_phone(accounts=[PBX])
    registrar = started(rig)
    registrar.run(25)
    registrar.set_up(False)
    registrar.run(20)
    registrar.set_up(True)
    back_at = rig.sip.now
    before = len(rig.sip.sent("register"))
    registrar.run(DEFAULTS.options_interval)
    assert len(rig.sip.sent("register")) == before + 1
    assert registrar.sent_at[-1] - back_at <= DEFAULTS.options_interval
    assert registered(rig)
    assert all(s.registered for s in rig.of(RegState))   # never shown down for one lost ping


def test_answers_after_answers_send_no_extra_register() -> None:
    rig = make_phone(accounts=[PBX])
    registrar = started(rig)
    before = len(rig.sip.sent("register"))
    registrar.run(200)
    assert len(rig.sip.pings) == 10 and len(rig.sip.sent("register")) == before


@pytest.mark.parametrize("extra, hop", [({"outbound_proxy": "proxy.example.com:5070"}, "proxy.example.com:5070"),
                                        ({"transport": "tcp"}, "pbx.example.com:5060")])
def test_the_keepalive_goes_to_the_first_hop(extra: dict, hop: str) -> None:
    rig = make_phone(accounts=[{**PBX, **extra}])
    started(rig).run(20)
    assert [h for _, h in rig.sip.pings] == [hop]


@pytest.mark.parametrize("extra", [{"transport": "tls"}, {"options_keepalive": False}, {"register": False}])
def test_no_keepalive_over_tls_when_off_or_without_registration(extra: dict) -> None:
    config = Config.model_validate({"sip": {"port": 0, "transports": ["udp", "tls"]},
                                    "accounts": [{**PBX, **extra}]})
    sip = FakeBackend()
    Phone(config, sip).start()
    sip.advance(100)
    assert sip.pings == []


def test_disabling_the_account_stops_its_keepalive() -> None:
    rig = make_phone(accounts=[PBX])
    started(rig).run(20)
    rig.phone.reconfigure_account(0, AccountConfig(**{**PBX, "enabled": False})).result()
    pings = len(rig.sip.pings)
    rig.sip.advance(100)
    assert len(rig.sip.pings) == pings and rig.sip.beats() == []
