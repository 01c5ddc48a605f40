"""Screen lock: k and the menu lock, holding * on idle locks, the password unlocks, calls come through while locked."""

from __future__ import annotations

from tests.tui.conftest import ACCOUNTS, build, screen_text, until
from tuiphone.engine.events import LineState
from tuiphone.screens.call import CallScreen
from tuiphone.screens.dialer import DialerScreen
from tuiphone.screens.idle import IdleScreen
from tuiphone.screens.incoming import IncomingCallScreen
from tuiphone.screens.lock import LockScreen, StarHold

STAR_LOCK = ACCOUNTS + """
[features]
star_key_lock = true
lock_password = "1234"
lock_hold_seconds = 2
"""


def test_star_hold_needs_an_unbroken_key_repeat_stream():
    now = [0.0]
    hold = StarHold(2, clock=lambda: now[0])
    assert not hold.press()
    for _ in range(6):
        now[0] += 0.3
        hold.press()
    now[0] += 0.3
    assert hold.press()                 # 2.1 s with no gap over 0.5 s
    now[0] += 0.6
    assert not hold.press()             # let go and pressed again: a new hold begins


async def test_holding_star_on_idle_locks_and_only_the_password_unlocks(clock):
    app, phone = build(STAR_LOCK, clock=clock)
    async with app.run_test() as pilot:
        await pilot.press("asterisk")
        assert isinstance(app.screen, DialerScreen)
        for _ in range(7):
            clock.now += 0.3
            await pilot.press("asterisk")
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        assert [type(s).__name__ for s in app.screen_stack] == ["Screen", "IdleScreen", "LockScreen"][-len(
            app.screen_stack):]
        assert "Phone locked" in screen_text(app) and "LOCKED" in screen_text(app)
        await pilot.press("m", "l", "9", "enter")
        assert isinstance(app.screen, LockScreen)
        assert "Wrong password: try again." in screen_text(app)
        await pilot.press(*"1234")
        assert "••••" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        assert phone.commands == []


async def test_star_with_gaps_is_just_a_digit(clock):
    app, _ = build(STAR_LOCK, clock=clock)
    async with app.run_test() as pilot:
        await pilot.press("asterisk")
        for _ in range(6):
            clock.now += 0.7
            await pilot.press("asterisk")
        assert isinstance(app.screen, DialerScreen) and app.screen.digits == "*******"


async def test_k_locks_a_phone_with_no_password_and_enter_unlocks_it_with_no_second_question():
    app, _ = build()
    async with app.run_test() as pilot:
        await pilot.press("m", "k")
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        assert "Press Enter to unlock." in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        assert not app.locked
        await pilot.press("2")           # the next key is the phone's again: it starts dialing
        await until(pilot, lambda: isinstance(app.screen, DialerScreen) and app.screen.digits == "2")


async def test_a_call_is_answered_while_locked_and_the_lock_is_back_when_it_ends():
    app, phone = build(STAR_LOCK)
    async with app.run_test() as pilot:
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        phone.ring(1, "3005", "Alice")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        await pilot.press("m", "alt+2")               # no menu and no new call while locked
        assert isinstance(app.screen, CallScreen)
        phone.set_state(1, LineState.ENDED)
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        assert app.locked


async def test_screen_lock_preferences_turn_star_lock_on_and_set_the_password():
    app, _ = build()
    async with app.run_test() as pilot:
        await pilot.press("m", "7", "4")
        assert "2. Hold * for 4 s to lock: Off" in screen_text(app)
        assert "3. Unlock password: none (Enter unlocks)" in screen_text(app)
        await pilot.press("2")
        await until(pilot, lambda: "2. Hold * for 4 s to lock: On" in screen_text(app))
        await pilot.press("3", *"12a", "enter")
        assert "use digits only" in screen_text(app)
        assert app.screen.query_one("#prompt-input").value == ""
        await pilot.press(*"12", "enter")
        await until(pilot, lambda: "Type the new unlock password again" in screen_text(app))
        await pilot.press(*"13", "enter")          # a slip of the finger is caught before it locks anyone out
        await until(pilot, lambda: "not the password you typed first" in screen_text(app))
        assert app.config.features.lock_password == ""
        await pilot.press(*"12", "enter")
        await until(pilot, lambda: "3. Unlock password: set" in screen_text(app))
        assert app.config.features.lock_password == "12" and app.config.features.star_key_lock
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        assert len(app.screen_stack) == 2


async def test_cti_lock_and_unlock_keys_lock_and_unlock_the_screen():
    from tuiphone.services.remote_keys import PhoneKeys

    app, phone = build(STAR_LOCK)
    keys = PhoneKeys(phone, on_lock=app.remote_lock)
    async with app.run_test() as pilot:
        await keys.press("LOCK")
        await until(pilot, lambda: isinstance(app.screen, LockScreen))
        await keys.press("UNLOCK")
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        assert not app.locked
