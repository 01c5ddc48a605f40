"""The real-peer test bed works: Kamailio, SIPp and baresip exchange real SIP and audio on loopback."""

from __future__ import annotations

import signal
import socket
import sys
import time

import pytest

from tests.peers.audio_check import wav_tone
from tests.peers.baresip import Baresip, BaresipFailed
from tests.peers.kamailio import Kamailio, check_config, sip_options_ping
from tests.peers.procs import PeerProcess, free_port, udp_port_in_use
from tests.peers.sipp import SippResult

pytestmark = pytest.mark.peers

TONE_TOLERANCE_HZ = 20


def register(sipp, proxy: Kamailio, user: str, password: str, **kwargs) -> SippResult:
    """Register ``user`` at the proxy with SIPp and return what happened."""
    return sipp(
        "uac_register_auth.xml", remote=f"{proxy.host}:{proxy.port}", service=user,
        auth_password=password, timeout=5, **kwargs,
    ).wait()


def call_through(sipp, proxy: Kamailio, caller: str, callee: str, password: str, **kwargs) -> SippResult:
    """Call ``callee`` through the proxy as ``caller`` with SIPp, answering the 407."""
    return sipp(
        "uac_auth_call.xml", remote=f"{proxy.host}:{proxy.port}", service=callee,
        keys={"caller": caller}, auth_user=caller, auth_password=password, timeout=8, **kwargs,
    ).wait()


def assert_tone(path, hz: float) -> None:
    frequency, level = wav_tone(path)
    assert abs(frequency - hz) <= TONE_TOLERANCE_HZ, f"{path.name}: dominant {frequency} Hz, wanted {hz}"
    assert level > 0.05, f"{path.name}: level {level:.3f} is near silence"


# ---------------------------------------------------------------- processes and ports


def test_free_port_both_is_free_for_udp_and_tcp():
    port = free_port("both")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind(("127.0.0.1", port))
        tcp.bind(("127.0.0.1", port))


def test_free_port_never_repeats_in_a_session():
    ports = {free_port("udp") for _ in range(20)}
    assert len(ports) == 20


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path):
    stubborn = PeerProcess(
        [sys.executable, "-c",
         "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "print('ready', flush=True); time.sleep(60)"],
        tmp_path / "stubborn.log",
    )
    stubborn.start()
    assert _wait_for(lambda: "ready" in stubborn.log_text(), 5)
    started = time.monotonic()
    returncode = stubborn.stop(grace=0.3)
    assert returncode == -signal.SIGKILL
    assert time.monotonic() - started < 3
    assert not stubborn.running


# ---------------------------------------------------------------- Kamailio


def test_kamailio_config_passes_kamailio_check():
    checked = check_config()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "config file ok" in (checked.stdout + checked.stderr)


def test_kamailio_answers_options_to_itself(kamailio):
    assert sip_options_ping(kamailio.host, kamailio.port) == "SIP/2.0 200 Keepalive"
    assert kamailio.users == {"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"}
    assert kamailio.domain == "127.0.0.1"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_with_right_password_gets_401_then_200(kamailio, sipp, transport):
    result = register(sipp, kamailio, "1001", "pw1001", transport=transport)
    assert result.passed, result.explain()
    assert result.received_statuses() == [401, 200]
    challenge = result.find("received", status=401)[0].header("WWW-Authenticate")
    assert 'realm="127.0.0.1"' in challenge


def test_register_with_wrong_password_gets_403(kamailio, sipp):
    result = register(sipp, kamailio, "1001", "not-the-password")
    assert not result.passed
    assert result.received_statuses() == [401, 403]


def test_wrong_password_can_get_a_fresh_challenge_instead(kamailio_factory, sipp):
    proxy = kamailio_factory(wrong_password="challenge")
    result = register(sipp, proxy, "1002", "not-the-password")
    assert not result.passed
    assert result.received_statuses() == [401, 401]


def test_kamailio_restarts_on_the_same_port_without_old_registrations(kamailio, sipp):
    callee = sipp("uas_answer.xml", timeout=10)
    assert register(sipp, kamailio, "1002", "pw1002", keys={"contact": callee.address}).passed
    old_pid, port = kamailio.pid, kamailio.port

    kamailio.stop()
    assert kamailio.pid is None
    assert sip_options_ping(kamailio.host, port, timeout=0.3) is None

    kamailio.start()
    assert kamailio.port == port and kamailio.pid not in (None, old_pid)
    assert sip_options_ping(kamailio.host, port) == "SIP/2.0 200 Keepalive"
    # usrloc keeps registrations in memory only: after a restart 1002 must register again
    result = call_through(sipp, kamailio, "1001", "1002", "pw1001")
    assert result.received_statuses()[-1] == 480, result.explain()
    assert "--- start" in kamailio.log_text()


def test_call_between_registered_users_is_routed_and_record_routed(kamailio, sipp):
    callee = sipp("uas_answer.xml", rtp_echo=True, timeout=10)
    assert register(sipp, kamailio, "1002", "pw1002", keys={"contact": callee.address}).passed

    caller = call_through(sipp, kamailio, "1001", "1002", "pw1001", pause_ms=200)
    answered = callee.wait(5)

    assert caller.passed, caller.explain()
    assert answered.passed, answered.explain()
    assert caller.received_statuses()[0] == 407
    assert 200 in caller.received_statuses()
    invite = answered.find("received", method="INVITE")[0]
    assert f"127.0.0.1:{kamailio.port}" in (invite.header("Record-Route") or "")
    assert invite.header("Proxy-Authorization") is None, "credentials must not leak to the callee"
    # ACK and BYE reached the callee through the proxy's record-route
    assert [m.method for m in answered.messages if m.direction == "received"] == ["INVITE", "ACK", "BYE"]


@pytest.mark.parametrize(
    ("callee", "status"), [("1003", 480), ("1999", 404)], ids=["not-registered", "unknown-user"]
)
def test_call_to_user_who_cannot_answer_is_refused(kamailio, sipp, callee, status):
    result = call_through(sipp, kamailio, "1001", callee, "pw1001")
    assert result.received_statuses()[0] == 407
    assert result.received_statuses()[-1] == status, result.explain()


def test_call_to_registered_user_who_never_answers_gets_480(kamailio, sipp):
    silent = free_port("udp")
    assert register(sipp, kamailio, "1002", "pw1002", keys={"contact": f"127.0.0.1:{silent}"}).passed
    result = call_through(sipp, kamailio, "1001", "1002", "pw1001")
    assert result.received_statuses()[-1] == 480, result.explain()


def test_invite_with_wrong_password_gets_403(kamailio, sipp):
    result = call_through(sipp, kamailio, "1001", "1002", "not-the-password")
    assert result.received_statuses() == [407, 403], result.explain()


# ---------------------------------------------------------------- SIPp against SIPp


@pytest.mark.parametrize(
    ("uas_scenario", "uac_scenario", "uac_sent", "uas_sent"),
    [
        ("uas_answer.xml", "uac_call.xml", ["INVITE", "ACK", "BYE"], [100, 180, 200, 200]),
        ("uas_busy.xml", "uac_expect_486.xml", ["INVITE", "ACK"], [100, 486]),
        ("uas_decline.xml", "uac_expect_603.xml", ["INVITE", "ACK"], [100, 603]),
        ("uas_ring_cancel.xml", "uac_cancel.xml", ["INVITE", "CANCEL", "ACK"], [100, 180, 200, 487]),
    ],
    ids=["answer", "busy", "decline", "cancel"],
)
def test_sipp_calls_sipp(sipp, uas_scenario, uac_scenario, uac_sent, uas_sent):
    uas = sipp(uas_scenario, rtp_echo=True, timeout=8)
    uac = sipp(uac_scenario, remote=uas.address, service="sipp", pause_ms=200, timeout=8)
    caller, callee = uac.wait(), uas.wait()

    assert caller.passed, caller.explain()
    assert callee.passed, callee.explain()
    assert [m.method for m in caller.messages if m.direction == "sent"] == uac_sent
    assert callee.sent_statuses() == uas_sent
    # CANCEL, and the ACK for an error answer, belong to the INVITE's transaction (same Via)
    if uac_scenario != "uac_call.xml":
        invite_via = caller.find("sent", method="INVITE")[0].header("Via")
        same_transaction = caller.find("sent", method="CANCEL") + caller.find("sent", method="ACK")
        assert [m.header("Via") for m in same_transaction] == [invite_via] * len(same_transaction)


def test_uas_answer_accepts_hold_and_resume_from_the_caller(sipp):
    uas = sipp("uas_answer.xml", rtp_echo=True, timeout=8)
    uac = sipp("uac_call_hold.xml", remote=uas.address, service="sipp", pause_ms=200, timeout=8)
    caller, callee = uac.wait(), uas.wait()

    assert caller.passed, caller.explain()
    assert callee.passed, callee.explain()
    answers = [m.body for m in caller.find("received", status=200) if m.body]
    assert ["a=sendrecv" in answers[0], "a=recvonly" in answers[1], "a=sendrecv" in answers[2]] == [True] * 3
    assert [m.method for m in callee.messages if m.direction == "received"] == [
        "INVITE", "ACK", "INVITE", "ACK", "INVITE", "ACK", "BYE"
    ]


@pytest.mark.parametrize(("password", "final"), [("pw1001", 200), ("wrong", 403)])
def test_uas_auth_answers_only_the_right_password(sipp, password, final):
    uas = sipp("uas_auth.xml", timeout=8)
    uac = sipp(
        "uac_auth_call.xml", remote=uas.address, service="sipp", keys={"caller": "1001"},
        auth_user="1001", auth_password=password, timeout=8,
    )
    caller, callee = uac.wait(), uas.wait()
    assert callee.passed, callee.explain()
    assert callee.sent_statuses()[0] == 401
    assert final in callee.sent_statuses()
    assert 'realm="tuiphone-test"' in callee.find("sent", status=401)[0].header("WWW-Authenticate")
    assert caller.received_statuses()[-1] == final, caller.explain()


# ---------------------------------------------------------------- baresip


def test_baresip_calls_baresip_and_each_hears_the_others_tone(baresip):
    alice = baresip(user="alice", tone_hz=1000)
    bob = baresip(user="bob", tone_hz=600)

    alice.dial(bob.uri)
    assert alice.wait_event("CALL_ESTABLISHED", 5), alice.events()
    time.sleep(1.2)
    alice.hangup()
    assert bob.wait_event("CALL_CLOSED", 5), bob.events()

    assert len(bob.received_wavs()) == 1 and len(alice.received_wavs()) == 1
    assert_tone(bob.received_wavs()[0], 1000)
    assert_tone(alice.received_wavs()[0], 600)


def test_baresip_hears_its_tone_echoed_by_sipp(baresip, sipp):
    phone = baresip(user="alice", tone_hz=1000)
    uas = sipp("uas_answer.xml", rtp_echo=True, timeout=8)

    phone.dial(uas.uri)
    assert phone.wait_event("CALL_ESTABLISHED", 5), phone.events()
    time.sleep(1.2)
    phone.hangup()
    result = uas.wait(5)

    assert result.passed, result.explain()
    assert_tone(phone.received_wavs()[0], 1000)
    sdp = result.find("received", method="INVITE")[0].body
    assert "c=IN IP4 127.0.0.1" in sdp, "baresip must offer loopback media only"


@pytest.mark.parametrize("scenario", ["uas_answer_then_bye.xml", "uas_reinvite.xml"])
def test_sipp_hangs_up_or_holds_a_baresip_call(baresip, sipp, scenario):
    phone = baresip(user="alice")
    uas = sipp(scenario, rtp_echo=True, pause_ms=400, timeout=8)

    phone.dial(uas.uri)
    assert phone.wait_event("CALL_CLOSED", 8), phone.events()
    result = uas.wait(5)

    assert result.passed, result.explain()
    assert result.sent[-1].startswith("BYE ")
    if scenario == "uas_reinvite.xml":
        hold_answer = [m for m in result.find("received", status=200) if m.body][0]
        assert "a=recvonly" in hold_answer.body


def test_baresips_registered_at_kamailio_call_each_other(kamailio, baresip):
    registrar = f"{kamailio.host}:{kamailio.port}"
    alice = baresip(user="1001", password="pw1001", registrar=registrar, tone_hz=1000)
    bob = baresip(user="1002", password="pw1002", registrar=registrar, tone_hz=600)

    alice.dial(f"sip:1002@{registrar}")
    assert alice.wait_event("CALL_ESTABLISHED", 5), alice.events()
    time.sleep(1.2)
    alice.hangup()
    assert bob.wait_event("CALL_CLOSED", 5), bob.events()

    assert_tone(bob.received_wavs()[0], 1000)
    assert_tone(alice.received_wavs()[0], 600)


def test_baresip_with_wrong_password_says_it_did_not_register(kamailio, tmp_path):
    phone = Baresip(
        tmp_path, user="1003", password="wrong", registrar=f"{kamailio.host}:{kamailio.port}"
    )
    try:
        with pytest.raises(BaresipFailed, match="did not register"):
            phone.start(timeout=3)
    finally:
        phone.stop()
    assert not phone.running
    assert not udp_port_in_use(phone.sip_port)


def _wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_a_media_port_block_never_holds_a_port_handed_out_before(monkeypatch):
    """SIPp's RTP block (-mp N binds N..N+3) once landed on the SIP port just given to it, not bound yet."""
    from tests.peers import procs

    sip = procs.free_port("udp")                       # handed out, nobody binds it yet
    first = sip - 2 if sip % 2 == 0 else sip - 1        # an even port whose block of 4 holds `sip`
    offered = iter([first])
    real = procs.free_port
    monkeypatch.setattr(procs, "free_port",
                        lambda kind="udp", host="127.0.0.1": next(offered, None) or real(kind, host))
    block = procs.free_port_block("127.0.0.1", 4)
    assert block != first and sip not in range(block, block + 4)
    assert set(range(block, block + 4)) <= procs._given_ports
