"""Menu › Packet Capture: the phone's SIP messages go into a pcap file between Start and Stop."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import SipMessage
from tuiphone.screens.capture import CaptureScreen
from tuiphone.services.packet_capture import PhoneCapture
from tuiphone.services.pcap import read_pcap

INVITE = ("INVITE sip:300@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060\r\n"
          "Call-ID: abc123@127.0.0.1\r\nCSeq: 1 INVITE\r\n\r\n")


class CaptureOnly:
    """The phone's services as far as this screen needs them: the capture (nothing else starts)."""

    def __init__(self, phone, folder) -> None:
        self.capture = PhoneCapture(phone, folder)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.capture.stop()


def message(n: int) -> SipMessage:
    return SipMessage(time=1709283900.5 + n, direction="out", transport="UDP", remote="127.0.0.1:5070",
                      first_line="INVITE sip:300@127.0.0.1:5070 SIP/2.0", call_id="abc123", text=INVITE)


async def test_menu_0_opens_capture_and_f1_captures_sip_until_stopped(tmp_path):
    app, phone = build()
    app.services = CaptureOnly(phone, tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("m", "0")
        assert isinstance(app.screen, CaptureScreen)
        assert "Not capturing." in screen_text(app)
        await pilot.press("f1")
        await until(pilot, lambda: "so far" in screen_text(app))
        phone.fire(message(1), message(2))
        await until(pilot, lambda: "2 so far" in screen_text(app).replace("\n", " "))
        assert app.screen.query_one("SoftKeyBar").labels()[0] == "F1 Stop"
        await pilot.press("f1")
        await until(pilot, lambda: "Saved" in screen_text(app))
        assert "(2 SIP messages)" in screen_text(app).replace("\n", " ")
    [pcap] = tmp_path.glob("sip-*.pcap")
    assert [b"INVITE sip:300@127.0.0.1:5070" in packet for _, packet in read_pcap(pcap)] == [True, True]


async def test_capture_screen_says_so_when_the_phone_has_no_services():
    app, _ = build()
    async with app.run_test() as pilot:
        await pilot.press("m", "0")
        assert "Packet capture is not available here" in screen_text(app)
        assert app.screen.query_one("SoftKeyBar").labels() == ["", "", "", "F4 Back"]
