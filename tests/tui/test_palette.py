"""Ctrl+P: commands by name, Call for a typed number or a phonebook name, Transfer to in a call, none while locked."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import LineState
from tuiphone.screens.call import CallScreen
from tuiphone.screens.lock import LockScreen
from tuiphone.screens.trace import TraceScreen
from tuiphone.store import Contact, Number, Store


def palette_open(app) -> bool:
    from textual.command import CommandPalette

    return isinstance(app.screen, CommandPalette)


async def settled(pilot) -> None:
    """Let the palette's last batch of hits land (it redraws its list every 0.25 s, highlighting the first)."""
    await pilot.pause(0.3)


async def test_commands_by_name_toggle_dnd_and_open_the_trace():
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: palette_open(app))
        await pilot.press(*"dnd")
        await until(pilot, lambda: "Toggle do not disturb" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: ("set_dnd", True) in phone.commands)
        await pilot.press("ctrl+p", *"sip trace")
        await until(pilot, lambda: "Open SIP trace" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen))


async def test_a_typed_number_or_name_is_called():
    store = Store(":memory:")
    store.save_contact(Contact("Alice Smith", [Number("200"), Number("+1 617-555-0100", "mobile")]))
    app, phone = build(store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p", *"alice")
        await until(pilot, lambda: "Call Alice Smith (+1 617-555-0100)" in screen_text(app))
        await settled(pilot)
        await pilot.press("down", "enter")       # the second number
        await until(pilot, lambda: phone.commands)
        assert phone.commands[0] == ("call", "+16175550100", None)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        phone.set_state(1, LineState.TALKING)
        await pilot.press("ctrl+p", *"300")
        await until(pilot, lambda: "Transfer line 1 to 300" in screen_text(app))
        assert "Call 300" in screen_text(app)
        await settled(pilot)
        await pilot.press("down", "enter")
        await until(pilot, lambda: ("blind_transfer", 1, "300") in phone.commands)


async def test_the_palette_stays_shut_while_the_phone_is_locked():
    app, _ = build()
    async with app.run_test() as pilot:
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, LockScreen)


async def test_the_palette_opens_direct_ip_forwarding_audio_page_and_capture():
    from tuiphone.screens.audio_test import AudioTestScreen
    from tuiphone.screens.capture import CaptureScreen
    from tuiphone.screens.direct_ip import DirectIpScreen
    from tuiphone.screens.menu import MenuScreen
    from tuiphone.screens.page import PageScreen
    from tuiphone.screens.prompt import TextPromptScreen

    app, _ = build('[phone]\nadmin_password = "4321"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        for typed, name, opened in (("direct", "Direct IP call…", DirectIpScreen),
                                    ("forwarding", "Forwarding settings", MenuScreen),
                                    ("page a group", "Page a group…", PageScreen),
                                    ("capture", "Packet capture", CaptureScreen)):
            await pilot.press("ctrl+p", *typed)
            await until(pilot, lambda: name in screen_text(app))  # noqa: B023 (awaited before the loop moves on)
            await settled(pilot)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, opened))  # noqa: B023 (awaited before the loop moves on)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, opened))  # noqa: B023 (awaited before the loop moves on)
        await pilot.press("ctrl+p", *"audio")
        await until(pilot, lambda: "Open audio settings" in screen_text(app))
        await settled(pilot)
        await pilot.press("enter")      # Settings › Audio: behind the admin password like the rest of Settings
        await until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        await pilot.press(*"4321", "enter")
        await until(pilot, lambda: isinstance(app.screen, AudioTestScreen))
