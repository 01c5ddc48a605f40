"""The menu and what it opens: Direct IP Call, Status › Accounts and System, SIP trace, Language."""

from __future__ import annotations

import platform

import textual

from tests.tui.conftest import build, screen_text, until
from tuiphone import __version__
from tuiphone.engine.events import GhostCall, RegState, SipMessage
from tuiphone.screens.call import CallScreen
from tuiphone.screens.direct_ip import DirectIpScreen
from tuiphone.screens.idle import IdleScreen
from tuiphone.screens.menu import MenuScreen
from tuiphone.screens.trace import SipMessageScreen, TraceScreen

INVITE = ("INVITE sip:300@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060\r\n"
          "Call-ID: abc123@127.0.0.1\r\nCSeq: 1 INVITE\r\n\r\n")


def soft_keys(app) -> list[str]:
    return app.screen.query_one("SoftKeyBar").labels()


async def test_menu_opens_with_m_and_a_digit_picks_an_entry():
    app, _ = build()
    async with app.run_test() as pilot:
        await pilot.press("m")
        assert isinstance(app.screen, MenuScreen)
        text = screen_text(app)
        for entry in ("1. Call History", "2. Phonebook", "3. Direct IP Call", "4. Messages", "5. Call Features",
                      "6. Status", "7. Preferences", "8. Settings", "9. SIP Trace"):
            assert entry in text
        await pilot.press("3")
        assert isinstance(app.screen, DirectIpScreen)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, IdleScreen)


async def test_direct_ip_refuses_a_bad_address_with_a_sentence_and_sends_nothing():
    app, phone = build()
    async with app.run_test() as pilot:
        await pilot.press("f2", *"999*1*1*1")
        assert "999.1.1.1" in screen_text(app)
        await pilot.press("enter")
        assert "Not called: 999.1.1.1 is not an IP address: 999 is more than 255." in screen_text(app)
        assert phone.commands == []


async def test_direct_ip_shows_dots_and_colon_and_dials_a_good_address():
    app, phone = build()
    async with app.run_test() as pilot:
        await pilot.press("f2", *"127*0*0*1#5070")
        text = screen_text(app)
        assert "127.0.0.1:5070" in text and "Calls sip:127.0.0.1:5070" in text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        assert phone.commands == [("call", "127*0*0*1#5070", None)]


async def test_status_accounts_shows_each_registration_live_and_f1_registers_again():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("m", "6", "1")
        assert "Not registered" in screen_text(app)
        phone.fire(RegState(account=0, registered=True, sip_status=200, reason="OK", expires=3600,
                            server="127.0.0.1:5090"),
                   RegState(account=1, registered=False, sip_status=403, reason="Forbidden", expires=0,
                            server="127.0.0.2"))
        await until(pilot, lambda: "Failed: 403 Forbidden" in screen_text(app))
        assert "Registered" in screen_text(app) and "3600 s" in screen_text(app)
        await pilot.press("f1")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("register", 0, True)]


async def test_status_accounts_counts_the_invites_ghost_call_protection_refused():
    app, phone = build()
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.press("m", "6", "1")
        assert "Ghost-call protection has refused no INVITE" in screen_text(app)
        phone.ghost_calls.update({"192.0.2.7:5060": 3, "198.51.100.1:5060": 1})   # what the engine counted
        phone.fire(GhostCall(account=0, source="192.0.2.7:5060", sip_status=403, reason="not from the server",
                             total=4))
        await until(pilot, lambda: "refused 4 INVITEs" in screen_text(app))
        assert "3 from 192.0.2.7:5060, 1 from 198.51.100.1:5060" in screen_text(app)


async def test_status_system_shows_the_versions():
    app, _ = build()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("m", "6", "3")
        text = screen_text(app)
        assert f"tuiphone{' ' * 10}" in text or "tuiphone" in text
        assert __version__ in text
        assert platform.python_version() in text
        assert textual.__version__ in text
        assert "pjsip (pjsua2-python)" in text


async def test_sip_trace_lists_messages_live_and_enter_shows_the_whole_message():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        phone.fire(SipMessage(time=1709283900.5, direction="out", transport="UDP", remote="127.0.0.1:5070",
                              first_line="INVITE sip:300@127.0.0.1:5070 SIP/2.0", call_id="abc123", text=INVITE))
        await pilot.press("f3")
        assert isinstance(app.screen, TraceScreen)
        await until(pilot, lambda: "UDP 127.0.0.1:5070" in screen_text(app))
        await pilot.press("enter")                  # the dialog's ladder
        phone.fire(SipMessage(time=1709283900.6, direction="in", transport="UDP", remote="127.0.0.1:5070",
                              first_line="SIP/2.0 180 Ringing", call_id="abc123", text="SIP/2.0 180 Ringing\r\n"))
        await until(pilot, lambda: "180 Ringing" in screen_text(app))
        text = screen_text(app)
        assert "▶" in text and "◀" in text and "INVITE" in text
        await pilot.press("up", "enter")
        assert isinstance(app.screen, SipMessageScreen)
        assert "Call-ID: abc123@127.0.0.1" in screen_text(app)
        assert "#1 sent to 127.0.0.1:5070 over UDP" in screen_text(app)


async def test_choosing_chinese_in_the_menu_changes_the_soft_key_labels():
    app, _ = build()
    async with app.run_test() as pilot:
        assert soft_keys(app)[3] == "F4 Menu"
        await pilot.press("m", "7", "1")
        assert "简体中文" in screen_text(app)
        await pilot.press("2")
        await until(pilot, lambda: soft_keys(app)[3] == "F4 返回")
        assert soft_keys(app)[0] == "F1 选择"
        assert "● 简体中文" in screen_text(app)
        await pilot.press("escape", "escape", "escape")
        assert isinstance(app.screen, IdleScreen)
        assert soft_keys(app)[1:] == ["F2 IP 直拨", "F3 SIP 跟踪", "F4 菜单"]
        assert "无音频设备" in screen_text(app)
