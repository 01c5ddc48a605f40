"""BLF keys and the voicemail light through a real presence server: Kamailio with presence, presence_xml and
presence_mwi. A SIPp PUBLISH plays the monitored phone (PIDF) or the voicemail server (message-summary)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.inprocess import phone_factory, wait_for
from tests.peers.kamailio_presence import (
    PACKAGE,
    PresenceKamailio,
    presence_modules_installed,
)
from tuiphone.config import Config
from tuiphone.engine.events import Blf, CallState, LineState, Mwi, RegState, SipMessage
from tuiphone.engine.phone import Phone

pytestmark = pytest.mark.peers

RINGING_PIDF = (('<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
                 'entity="sip:1002@127.0.0.1">'),
                '<tuple id="t1"><status><basic>open</basic></status><note>Ringing</note></tuple></presence>')
IDLE_PIDF = (('<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
              'entity="sip:1002@127.0.0.1">'),
             '<tuple id="t1"><status><basic>open</basic></status></tuple></presence>')


@pytest.fixture
def presence_server(tmp_path: Path) -> Iterator[PresenceKamailio]:
    """A running Kamailio registrar + presence server (users 1001..1003), stopped by PID at teardown."""
    if shutil.which("kamailio") is None or not presence_modules_installed():
        pytest.fail(f"Kamailio's presence modules are not installed: install the Debian package {PACKAGE}",
                    pytrace=False)
    server = PresenceKamailio(tmp_path / "kamailio-presence")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def phone() -> Iterator[Callable[[dict], Phone]]:
    with phone_factory() as make:
        yield make


def account(server: PresenceKamailio, user: str, **extra: Any) -> dict:
    return {"sip_server": f"{server.host}:{server.port}", "user_id": user, "password": server.users[user],
            "reg_expires": 60, **extra}


def publish(sipp, server: PresenceKamailio, user: str, event: str, content_type: str, body: tuple[str, str],
            replacing: str = "") -> str:
    """PUBLISH `body` as `user`'s state from another domain (no challenge), replacing the state with ETag
    `replacing` if given; asserts the server took it and returns the new state's ETag."""
    keys = {"event": event, "content_type": content_type, "line1": body[0], "line2": body[1],
            "from_host": "127.0.0.2"}
    scenario = "uac_publish_modify.xml" if replacing else "uac_publish.xml"
    run = sipp(scenario, remote=f"{server.host}:{server.port}", service=user, host="127.0.0.2", timeout=5,
               keys={**keys, "etag": replacing} if replacing else keys)
    result = run.wait()
    assert result.passed, result.explain()
    return result.find("received", status=200)[0].header("SIP-ETag") or ""


def test_a_blf_key_follows_the_extension_through_kamailio_and_picks_it_up_while_it_rings(
        presence_server, sipp, phone) -> None:
    p = phone({"accounts": [account(presence_server, "1001", mwi=False)],
               "keys": [{"mode": "blf", "account": 1, "label": "Bob", "value": "1002"}]})
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    etag = publish(sipp, presence_server, "1002", "presence", "application/pidf+xml", RINGING_PIDF)
    wait_for(p, lambda e: isinstance(e, Blf) and e.state == "ringing")
    assert p.key_states() == {0: "ringing"}

    line = p.dial_key(0).result(5)       # pick up: Kamailio has nobody at **1002, so it ends there
    ended = wait_for(p, lambda e: isinstance(e, CallState) and e.line == line and e.state == LineState.ENDED)
    assert ended.remote_uri == f"sip:**1002@{presence_server.host}:{presence_server.port}"
    invites = [m.first_line for m in p.seen if isinstance(m, SipMessage) and m.direction == "out"
               and m.first_line.startswith("INVITE")]
    assert invites and invites[-1].startswith("INVITE sip:**1002@")

    publish(sipp, presence_server, "1002", "presence", "application/pidf+xml", IDLE_PIDF, replacing=etag)
    wait_for(p, lambda e: isinstance(e, Blf) and e.state == "idle")
    assert p.key_states() == {0: "idle"}


def test_the_voicemail_servers_message_summary_reaches_the_phone_through_kamailio(
        presence_server, sipp, phone) -> None:
    p = phone({"accounts": [account(presence_server, "1001")]})
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    etag = publish(sipp, presence_server, "1001", "message-summary", "application/simple-message-summary",
                   ("Messages-Waiting: yes", "Voice-Message: 3/1 (1/0)"))
    mwi = wait_for(p, lambda e: isinstance(e, Mwi) and e.new == 3)
    assert mwi == Mwi(account=0, waiting=True, new=3, old=1)
    assert p.voicemail[0] == (True, 3, 1)
    publish(sipp, presence_server, "1001", "message-summary", "application/simple-message-summary",
            ("Messages-Waiting: no", "Voice-Message: 0/4 (0/0)"), replacing=etag)
    cleared = wait_for(p, lambda e: isinstance(e, Mwi) and not e.waiting)
    assert (cleared.new, cleared.old) == (0, 4)


def test_a_blf_key_keeps_following_its_extension_after_the_account_is_reconfigured(
        presence_server, sipp, phone) -> None:
    p = phone({"accounts": [account(presence_server, "1001", mwi=False)],
               "keys": [{"mode": "blf", "account": 1, "label": "Bob", "value": "1002"}]})
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    new = Config.model_validate({"accounts": [account(presence_server, "1003", mwi=False)]}).accounts[0]
    p.reconfigure_account(0, new).result(5)
    wait_for(p, lambda e: isinstance(e, RegState) and e.registered)
    publish(sipp, presence_server, "1002", "presence", "application/pidf+xml", RINGING_PIDF)
    wait_for(p, lambda e: isinstance(e, Blf) and e.state == "ringing")
    subscribes = [m.text for m in p.seen if isinstance(m, SipMessage) and m.direction == "out"
                  and m.first_line.startswith("SUBSCRIBE sip:1002@")]
    assert any("sip:1003@" in m.split("\r\n\r\n")[0] for m in subscribes)      # the new subscription is 1003's
