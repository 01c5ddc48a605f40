"""f forwards (a ringing call, or opens the forwarding settings on idle); + and - change the speaker volume."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import LineState
from tuiphone.screens.call import CallScreen
from tuiphone.screens.menu import MenuScreen
from tuiphone.screens.prompt import TextPromptScreen


async def test_f_on_idle_opens_forwarding_and_sets_forward_always():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, MenuScreen) and "Forward always: Off" in screen_text(app))
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        await pilot.press(*"2002", "enter")
        await until(pilot, lambda: "Forward always: 2002" in screen_text(app))
        assert ("set_forward", "always", "2002") in phone.commands


async def test_f_on_the_ringing_prompt_asks_where_and_forwards_the_call():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring(1, "3003")
        await until(pilot, lambda: app._ringing_screen is not None)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        await pilot.press(*"4004", "enter")
        await until(pilot, lambda: ("forward", 1, "4004") in phone.commands)


async def test_f_on_the_call_screen_forwards_the_selected_ringing_call():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        app.place_call("200", 0)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        phone.set_state(1, LineState.TALKING)
        phone.ring(2, "3003")
        await until(pilot, lambda: app._ringing_screen is not None)
        app._ringing_screen.dismiss(None)       # leave it ringing on line 2
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        app.screen.select_line(2)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        await pilot.press(*"4004", "enter")
        await until(pilot, lambda: ("forward", 2, "4004") in phone.commands)


async def test_plus_and_minus_change_the_volume_in_tenths_and_show_it():
    app, phone = build()
    phone.local_audio.volume = 0.5
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("+")
        await until(pilot, lambda: "Volume 60% ██████░░░░" in screen_text(app))
        await pilot.press("-", "-")
        await until(pilot, lambda: phone.local_audio.volume == 0.4)
        assert [c for c in phone.commands if c[0] == "set_volume"] == [("set_volume", 0.6), ("set_volume", 0.5),
                                                                        ("set_volume", 0.4)]


async def test_volume_stops_at_full_and_at_silent():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("+")
        await until(pilot, lambda: ("set_volume", 1.0) in phone.commands)
        assert phone.local_audio.volume == 1.0


async def test_volume_without_a_sound_device_says_so():
    app, phone = build()
    phone.local_audio = None
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("-")
        await until(pilot, lambda: "There is no sound device" in screen_text(app))
