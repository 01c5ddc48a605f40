"""Message waiting (RFC 3842): a voicemail NOTIFY lights the indicator with new/old counts."""

from __future__ import annotations

import queue
import time

import pytest

from tests.phoneproc import sip_port
from tuiphone.config import Config
from tuiphone.engine.events import Mwi
from tuiphone.engine.phone import Phone, parse_message_summary
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers


def test_message_summary_bodies_parse():
    assert parse_message_summary("Messages-Waiting: yes\r\nVoice-Message: 3/1 (1/0)\r\n") == (True, 3, 1)
    assert parse_message_summary("Messages-Waiting: no\r\n") == (False, 0, 0)
    assert parse_message_summary("garbage") == (False, 0, 0)


def test_voicemail_notify_lights_the_indicator(sipp):
    port = sip_port()
    config = Config.model_validate({"accounts": [{"sip_server": "127.0.0.1:9", "user_id": "1001",
                                                  "register": False}]})
    phone = Phone(config, PjsuaBackend(), port=port, bind="127.0.0.1")
    events: queue.Queue = queue.Queue()
    phone.subscribe(events.put)
    phone.start()
    try:
        run = sipp("uac_notify_mwi.xml", remote=f"127.0.0.1:{port}", service="1001")
        result = run.wait(15)
        assert result.passed, result.explain()
        deadline = time.monotonic() + 5
        mwi = None
        while time.monotonic() < deadline and mwi is None:
            try:
                ev = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(ev, Mwi):
                mwi = ev
        assert mwi == Mwi(account=0, waiting=True, new=2, old=8)
        assert phone.voicemail[0] == (True, 2, 8)
    finally:
        phone.stop()
