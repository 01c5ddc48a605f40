"""A typed IPv4 address in the dialer: `#` after it is the port's colon, and the call shows as an address."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.screens.dialer import DialerScreen
from tuiphone.screens.history import HistoryScreen


async def test_pound_after_an_ip_address_types_the_port_and_enter_calls_it():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"127*0*0*1", "#")
        assert isinstance(app.screen, DialerScreen)
        await until(pilot, lambda: "127.0.0.1:" in screen_text(app))
        assert "type the port" in screen_text(app)
        assert not [c for c in phone.commands if c[0] == "call"]
        await pilot.press(*"5062")
        await until(pilot, lambda: "127.0.0.1:5062" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: ("call", "127.0.0.1:5062", 0) in phone.commands)
        await until(pilot, lambda: "Line 1  Calling" in screen_text(app))
        assert "127.0.0.1:5062  sip:" in screen_text(app)
        assert "127*0*0*1" not in screen_text(app)


async def test_pound_still_sends_an_ordinary_number():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"200", "#")
        await until(pilot, lambda: ("call", "200", 0) in phone.commands)


async def test_pound_after_the_port_sends_the_address():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"127*0*0*1#5062", "#")
        await until(pilot, lambda: ("call", "127.0.0.1:5062", 0) in phone.commands)


async def test_history_shows_a_keypad_address_as_an_ip_and_port():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        phone.log("127*0*0*1#5062", direction="out", account=None)
        await until(pilot, lambda: app.store.calls("all"))
        app.push_screen(HistoryScreen())
        await until(pilot, lambda: "127.0.0.1:5062" in screen_text(app))
        assert "127*0*0*1" not in screen_text(app)
