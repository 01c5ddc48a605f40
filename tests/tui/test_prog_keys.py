"""Programmable keys: the line key column shows each [[keys]] entry by its mode, and alt+N does its job."""

from __future__ import annotations

from tests.tui.conftest import ACCOUNTS, build, screen_text, until
from tests.tui.fake_phone import FakePager
from tuiphone.engine.events import Blf, LineState
from tuiphone.screens.call import CallScreen
from tuiphone.screens.history import HistoryScreen
from tuiphone.screens.menu import MenuScreen
from tuiphone.widgets.line_keys import LineKey

KEYS = ACCOUNTS + """
[[keys]]
mode = "line"

[[keys]]
mode = "speed_dial"
label = "Reception"
value = "200"

[[keys]]
mode = "blf"
label = "Anna"
value = "201"

[[keys]]
mode = "intercom"
account = 2
value = "202"

[[keys]]
mode = "voicemail"

[[keys]]
mode = "dnd"

[[keys]]
mode = "paging"
label = "All staff"
value = "224.1.1.1:4009"

[[keys]]
mode = "forward"

[[keys]]
mode = "call_log"

[[keys]]
mode = "menu"
"""


def key(app, n: int) -> LineKey:
    return app.screen.query_one(f"#line-key-{n}", LineKey)


async def test_each_configured_key_shows_its_label_by_mode():
    app, _ = build(KEYS)
    async with app.run_test(size=(120, 36)):
        text = screen_text(app)
        for caption in ("1 Idle", "2 Reception", "3 Anna", "4 Intercom 202", "5 Voicemail",
                        "6 Do not disturb", "7 All staff", "8 Forward", "9 Call log", "10 Menu"):
            assert caption in text
        assert key(app, 1).has_class("-idle")
        assert key(app, 3).has_class("-blf-unknown")


async def test_plain_config_still_shows_one_line_key_per_line():
    app, _ = build()
    async with app.run_test(size=(80, 24)):
        assert [k.spec.mode for k in app.screen.query(LineKey)] == ["line"] * 6
        assert "6 Idle" in screen_text(app)


async def test_blf_key_follows_the_watched_extension():
    app, phone = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        blf = key(app, 3)
        for state, word in (("idle", "idle"), ("ringing", "ringing"), ("busy", "busy"), ("offline", "offline")):
            phone.fire(Blf(key=2, extension="201", state=state))
            await until(pilot, lambda s=state: blf.has_class(f"-blf-{s}"))
            assert f"3 Anna {word}" in screen_text(app)


async def test_speed_dial_key_dials_through_the_engine_and_shows_the_call():
    app, phone = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("alt+2")
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        assert ("dial_key", 1) in phone.commands and ("call", "200", 0) in phone.commands


async def test_blf_key_picks_up_while_the_extension_rings_and_calls_it_otherwise():
    app, phone = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("alt+3")
        await until(pilot, lambda: ("call", "201", 0) in phone.commands)
        phone.hangup(1)
        await until(pilot, lambda: not isinstance(app.screen, CallScreen))
        phone.fire(Blf(key=2, extension="201", state="ringing"))
        await until(pilot, lambda: app.blf.get(2) == "ringing")
        await pilot.press("alt+3")
        await until(pilot, lambda: ("call", "**201", 0) in phone.commands)


async def test_intercom_key_calls_through_its_account():
    app, phone = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("alt+4")
        await until(pilot, lambda: ("call", "202", 1) in phone.commands)


async def test_voicemail_and_dnd_keys():
    app, phone = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("alt+6")
        await until(pilot, lambda: key(app, 6).has_class("-on"))
        assert ("set_dnd", True) in phone.commands
        await pilot.press("alt+5")
        await until(pilot, lambda: ("dial_voicemail", 0) in phone.commands)


async def test_forward_call_log_and_menu_keys_open_their_screens():
    app, _ = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("alt+8")
        await until(pilot, lambda: "Forward always: Off" in screen_text(app))
        await pilot.press("escape")
        await pilot.press("alt+9")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("escape")
        await pilot.press("alt+0")
        await until(pilot, lambda: isinstance(app.screen, MenuScreen) and "Call History" in screen_text(app))


async def test_paging_key_starts_then_stops_the_page_and_lights_while_sending():
    app, phone = build(KEYS)
    phone.pager = FakePager(phone.commands)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("alt+7")
        await until(pilot, lambda: key(app, 7).has_class("-on"))
        assert ("page", "224.1.1.1:4009") in phone.commands
        await pilot.press("alt+7")
        await until(pilot, lambda: not key(app, 7).has_class("-on"))
        assert ("stop_page", "224.1.1.1:4009") in phone.commands


async def test_paging_key_says_why_a_page_was_refused():
    app, phone = build(KEYS)
    phone.pager = FakePager(phone.commands)
    phone.pager.refuse = "Line 1 is in a call and has the microphone; hold it or hang up, then page."
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await pilot.press("alt+7")
        await until(pilot, lambda: "The page was not sent: Line 1 is in a call" in screen_text(app))


async def test_paging_key_without_a_pager_says_paging_is_not_available():
    app, _ = build(KEYS)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await pilot.press("alt+7")
        await until(pilot, lambda: "Paging is not available" in screen_text(app))


async def test_line_key_of_the_layout_answers_its_ringing_line():
    app, phone = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        phone.ring(1, "3003")
        await until(pilot, lambda: app._ringing_screen is not None)
        await pilot.press("f4")          # silence: the prompt stays; answer from the line key instead
        app._ringing_screen.dismiss(None)
        await until(pilot, lambda: app._ringing_screen is None)
        await pilot.press("alt+1")
        await until(pilot, lambda: ("answer", 1) in phone.commands)
        await until(pilot, lambda: phone.lines()[0].state == LineState.TALKING)


async def test_speed_dial_key_during_a_call_places_a_second_call():
    app, phone = build(KEYS)
    async with app.run_test(size=(120, 36)) as pilot:
        app.place_call("300", 0)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        phone.set_state(1, LineState.TALKING)
        await pilot.press("alt+2")
        await until(pilot, lambda: ("call", "200", 0) in phone.commands)
        await until(pilot, lambda: 2 in app.lines)
