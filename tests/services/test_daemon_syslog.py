"""A real `tuiphone daemon` sending its log and its SIP messages to a UDP syslog listener on loopback."""

from __future__ import annotations

import pytest

from tests.services.test_syslog import received, udp_listener
from tuiphone.engine.options import OptionsPinger, OptionsTarget

pytestmark = pytest.mark.peers


def test_the_daemon_logs_and_its_sip_messages_reach_the_syslog_server(daemons, tmp_path):
    sock = udp_listener()
    try:
        syslog = {"server": f"127.0.0.1:{sock.getsockname()[1]}", "protocol": "udp", "level": "info",
                  "sip_messages": True}
        daemon, _ = daemons(config={"syslog": syslog}, cti=False)
        got = received(sock, 1.0)                   # the start-up lines
        for _ in range(10):                         # a busy machine: wait until syslog says the daemon runs
            if any("daemon started" in text for _, _, text in got):
                break
            got += received(sock, 1.0)
        pinger = OptionsPinger(OptionsTarget.parse(daemon.address), bind="127.0.0.1", timeout=1.0)
        assert pinger.ping().sip_status == 200      # now the services run: this exchange is sent on
        got += received(sock, 1.0)
    finally:
        sock.close()
    texts = [text for _, msgid, text in got if msgid == "-"]
    sip = [text for _, msgid, text in got if msgid == "SIP"]
    assert any(text.startswith("tuiphone.daemon: daemon started: SIP on 127.0.0.1:") for text in texts), texts
    assert any(text.startswith("IN UDP from 127.0.0.1:") and "\nOPTIONS sip:" in text for text in sip), sip
    assert any(text.startswith("OUT UDP to 127.0.0.1:") and "\nSIP/2.0 200 OK" in text for text in sip), sip
    log_file = tmp_path / "daemon-data" / "logs" / "tuiphone.log"
    assert "daemon started" in log_file.read_text()
