"""The Services runner (in a loop thread for callers without asyncio), its refusals, and the log setup."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from tests.fakes import FakeBackend
from tests.services.helpers import wait_for
from tests.tools import require_tool
from tuiphone.config import Config
from tuiphone.engine.phone import Phone
from tuiphone.services import pcap
from tuiphone.services.logsetup import phone_logging
from tuiphone.services.runner import ServiceError, Services, ServicesThread


def _phone(**config) -> tuple[Phone, FakeBackend]:
    sip = FakeBackend()
    phone = Phone(Config.model_validate(config), sip)
    phone.start()
    return phone, sip


def test_services_in_their_own_thread_send_action_urls_for_a_loopless_caller(recorder, tmp_path):
    server = recorder()
    phone, sip = _phone(action_url={"incoming_call": f"{server.base}/in?from=$remote",
                                    "setup_completed": f"{server.base}/up"})
    services = ServicesThread(phone, phone.config, tmp_path)
    services.start()
    try:
        sip.incoming(None, '"Bob" <sip:300@127.0.0.1>')      # the "SIP thread" is this one here
        wait_for(lambda: len(server.requests) == 2, 5, "two GETs")
    finally:
        services.stop()
    assert server.requests == [("/up", {}), ("/in", {"from": "300"})]
    sip.incoming(None, '"Bob" <sip:300@127.0.0.1>')          # after stop: nothing is sent, nothing breaks
    assert len(server.requests) == 2


def test_a_cti_port_in_use_is_a_sentence_not_a_traceback(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    phone, _ = _phone(cti={"enabled": True, "passcode": "x", "listen": f"127.0.0.1:{port}"})

    async def start() -> None:
        await Services(phone, phone.config, tmp_path).start()
    try:
        with pytest.raises(ServiceError) as err:
            asyncio.run(start())
    finally:
        busy.close()
    assert str(err.value).startswith(f"the CTI API cannot listen on 127.0.0.1:{port} (")
    assert str(err.value).endswith("change cti.listen or set cti.enabled = false")


def test_phone_logging_keeps_info_in_the_file_and_warnings_on_stderr(tmp_path, capfd):
    root = logging.getLogger()
    before = root.handlers[:], root.level
    with phone_logging(tmp_path, "warning", stderr=True) as path:
        logging.getLogger("tuiphone.x").info("only in the file")
        logging.getLogger("tuiphone.x").warning("in both")
    assert (root.handlers[:], root.level) == before
    text = path.read_text()
    assert "only in the file" in text and "in both" in text
    assert path == tmp_path / "logs" / "tuiphone.log"
    err = capfd.readouterr().err
    assert "in both" in err and "only in the file" not in err


def test_a_full_capture_without_dumpcap_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(pcap.shutil, "which", lambda name: None)
    with pytest.raises(pcap.CaptureError, match="dumpcap is not installed"):
        pcap.DumpcapCapture(tmp_path / "x.pcapng", "127.0.0.1", 5060).start()


def test_a_capture_dumpcap_cannot_open_is_refused(tmp_path):
    require_tool("dumpcap", "wireshark-common")
    capture = pcap.DumpcapCapture(tmp_path / "x.pcapng", "127.0.0.1", 5060, interface="no-such-if0")
    with pytest.raises(pcap.CaptureError, match="dumpcap could not capture on no-such-if0"):
        capture.start()
