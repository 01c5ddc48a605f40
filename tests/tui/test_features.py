"""Voicemail light and Messages, the Call features menu and blocklist, Forward and Silence on a ringing call,
and the conference keys on the call screen."""

from __future__ import annotations

from dataclasses import replace

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import LineState
from tuiphone.screens.call import CallScreen
from tuiphone.screens.features import BlocklistScreen, CallFeaturesScreen
from tuiphone.screens.incoming import IncomingCallScreen
from tuiphone.screens.messages import MessagesScreen
from tuiphone.screens.prompt import TextPromptScreen
from tuiphone.widgets.status_bar import StatusBar


def soft_keys(app) -> str:
    return " | ".join(app.screen.query_one("SoftKeyBar").labels())


def bar(app) -> str:
    return str(app.screen.query_one(StatusBar).content)


async def test_voicemail_light_counts_new_messages_v_calls_the_mailbox_and_messages_lists_them():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        assert "✉" not in bar(app)
        phone.mwi(0, 3, 1)
        await until(pilot, lambda: "✉ 3" in bar(app))
        phone.fire(replace(phone.feature_state(), forward_busy="300", forward_no_answer="400"))
        await until(pilot, lambda: "BUSY→300" in bar(app) and "NO ANS→400" in bar(app))
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        assert phone.commands == [("dial_voicemail", None), ("call", "*97", 0)]
        await pilot.press("escape", "m", "4")
        await until(pilot, lambda: isinstance(app.screen, MessagesScreen))
        text = screen_text(app)
        assert "Office" in text and "Messages waiting  3    1    *97" in text and "No messages" in text
        phone.commands.clear()
        await pilot.press("down", "f1")
        await until(pilot, lambda: phone.commands)
        assert phone.commands[:2] == [("dial_voicemail", 1), ("call", "*97", 1)]


async def test_call_features_menu_toggles_and_sets_forwarding_through_the_engine():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("m", "5")
        assert isinstance(app.screen, CallFeaturesScreen)
        text = screen_text(app)
        for entry in ("1. Do not disturb: Off", "2. Forward always: Off", "3. Forward when busy: Off",
                      "4. Forward on no answer (after 20 s): Off", "5. Call waiting: On",
                      "6. Anonymous calls from Office: Off", "7. Anonymous calls from Home: Off", "8. Blocklist (0)"):
            assert entry in text
        await pilot.press("1")
        await until(pilot, lambda: "1. Do not disturb: On" in screen_text(app))
        await pilot.press("2")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*"2 0", "enter")
        assert "2 0 is not a number" in screen_text(app)
        await pilot.press("ctrl+u", *"200", "enter")
        await until(pilot, lambda: "2. Forward always: 200" in screen_text(app))
        assert "FWD 200" in bar(app) and "DND" in bar(app)
        await pilot.press("5", "6")
        await until(pilot, lambda: "6. Anonymous calls from Office: On" in screen_text(app))
        assert "5. Call waiting: Off" in screen_text(app)
        await pilot.press("2", "ctrl+u", "enter")           # empty: forwarding off
        await until(pilot, lambda: "2. Forward always: Off" in screen_text(app))
        assert phone.commands == [("set_dnd", True), ("set_forward", "always", "200"), ("set_call_waiting", False),
                                  ("set_anonymous", 0, True), ("set_forward", "always", "")]


async def test_blocklist_adds_checked_entries_and_removes_them():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("m", "5", "8")
        assert isinstance(app.screen, BlocklistScreen)
        assert "Nobody is blocked" in screen_text(app)
        await pilot.press("f1", *"19 00", "enter")
        assert "'19 00' is not a number" in screen_text(app)     # the engine's own check, before sending
        await pilot.press("ctrl+u", *"1900x+", "enter")
        await until(pilot, lambda: "1900x+" in screen_text(app) and isinstance(app.screen, BlocklistScreen))
        await pilot.press("f1", *"555", "enter")
        await until(pilot, lambda: phone.blocked == ["1900x+", "555"])
        await pilot.press("f2")
        await until(pilot, lambda: phone.blocked == ["555"])
        assert app.store.blocklist() == ["555"]
        await pilot.press("escape")
        await until(pilot, lambda: "8. Blocklist (1)" in screen_text(app))


async def test_silence_stops_the_ringer_and_forward_sends_the_call_on():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        phone.ring(1, "3005", "Alice")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        assert soft_keys(app) == "F1 Answer | F2 Reject | F3 Forward | F4 Silence"
        await pilot.press("f4")
        await until(pilot, lambda: ("stop_ring",) in phone.commands)
        assert soft_keys(app) == "F1 Answer | F2 Reject | F3 Forward | "
        await pilot.press("f3")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*"300", "enter")
        await until(pilot, lambda: ("forward", 1, "300") in phone.commands)
        await until(pilot, lambda: not app.lines and not isinstance(app.screen, (IncomingCallScreen,
                                                                                 TextPromptScreen)))


async def test_a_caller_who_hangs_up_closes_the_forward_question_too():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("f3")
        assert isinstance(app.screen, TextPromptScreen)
        phone.set_state(1, LineState.ENDED, sip_status=487)
        await until(pilot, lambda: type(app.screen).__name__ == "IdleScreen")


async def test_conference_joins_the_calls_shows_its_members_and_splits_holds_and_ends():
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        for line, number in ((1, "200"), (2, "300")):
            app.place_call(number)
            await until(pilot, lambda n=line: n in app.lines)
            phone.set_state(line, LineState.TALKING)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        await until(pilot, lambda: "F2 Conf" in soft_keys(app))
        phone.commands.clear()
        await pilot.press("c")
        await until(pilot, lambda: "Conference of 3 (with you): 200, 300" in screen_text(app))
        assert screen_text(app).count("CONF") >= 2
        assert soft_keys(app) == "F1 Hold conf | F2 Split | F3 End conf | F4 More"
        await pilot.press("f1")
        await until(pilot, lambda: "F1 Resume conf" in soft_keys(app))
        await pilot.press("f1", "f2")
        await until(pilot, lambda: "Conference of" not in screen_text(app))
        selected = app.screen.selected
        assert app.lines[selected].call.state == LineState.TALKING
        assert [c for c in phone.commands if c[0] != "quality"] == [
            ("conference", None), ("hold_conference", True), ("hold_conference", False),
            ("split_conference", selected)]
        await pilot.press("c")
        await until(pilot, lambda: "Conference of" in screen_text(app))
        await pilot.press("f3")
        await until(pilot, lambda: not app.lines)
