"""BLF keys: a presence subscription to the monitored extension shows it busy, then idle."""

from __future__ import annotations

import queue
import time

import pytest

from tests.phoneproc import sip_port
from tuiphone.config import Config
from tuiphone.engine.events import Blf
from tuiphone.engine.phone import Phone, blf_state
from tuiphone.engine.sip import PjsuaBackend

pytestmark = pytest.mark.peers


@pytest.mark.parametrize("status, activity, note, shown", [
    ("online", "", "", "idle"),
    ("online", "busy", "", "busy"),
    ("online", "", "On the phone", "busy"),
    ("online", "", "Ringing", "ringing"),
    ("offline", "", "", "offline"),
    ("unknown", "", "", "unknown"),
])
def test_presence_maps_to_what_the_key_shows(status, activity, note, shown):
    assert blf_state(status, activity, note) == shown


def test_blf_key_follows_the_extension(sipp):
    server = sipp("uas_presence_busy.xml", timeout=15)
    config = Config.model_validate({
        "accounts": [{"sip_server": server.address, "user_id": "1001", "register": False, "mwi": False}],
        "keys": [{"mode": "blf", "account": 1, "label": "Bob", "value": "1002"}],
    })
    phone = Phone(config, PjsuaBackend(), port=sip_port(), bind="127.0.0.1")
    events: queue.Queue = queue.Queue()
    phone.subscribe(events.put)
    phone.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and seen[-1:] != ["idle"]:
            try:
                ev = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(ev, Blf):
                assert (ev.key, ev.extension) == (0, "1002")
                seen.append(ev.state)
        assert "busy" in seen and seen[-1] == "idle", seen
        assert phone.blf[0] == "idle"
    finally:
        phone.stop()
    result = server.wait(10)
    assert result.find("in", method="SUBSCRIBE") is not None
