"""Dialing: on-hook and off-hook, Enter, `#`, timeout, dial-plan verdicts, redial, errors as sentences."""

from __future__ import annotations

from tests.tui.conftest import ACCOUNTS, build, screen_text, until
from tuiphone.engine.phone import PhoneError
from tuiphone.screens.dialer import DialerScreen


def plan(rules: str, **extra: object) -> str:
    lines = ["[[accounts]]", 'name = "Office"', 'sip_server = "127.0.0.1:5090"', 'user_id = "1001"',
             f"dial_plan = '{rules}'"]
    extra.setdefault("no_key_timeout", 0)
    lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def test_typing_digits_opens_the_dialer_backspace_deletes_and_enter_calls_the_number():
    app, phone = build()
    async with app.run_test() as pilot:
        await pilot.press("2", "0", "0", "7")
        assert isinstance(app.screen, DialerScreen)
        assert "2007" in screen_text(app)
        await pilot.press("backspace", "enter")
        await until(pilot, lambda: phone.commands)
        assert phone.commands[0] == ("call", "200", 0)
        await until(pilot, lambda: "1 Calling 200" in screen_text(app))
        assert not isinstance(app.screen, DialerScreen)


async def test_dial_plan_verdict_is_shown_while_typing():
    app, _ = build(plan("{[369]11 | 1617xxxxxxx}"))
    async with app.run_test() as pilot:
        await pilot.press("1", "6")
        assert "Keep dialing" in screen_text(app)
        await pilot.press("5")
        assert "The dial plan does not allow this number." in screen_text(app)


async def test_blocked_number_names_the_rule():
    app, phone = build(plan("{^1900x+ | xxxxxxx}"))
    async with app.run_test() as pilot:
        await pilot.press(*"1900")
        assert "The dial plan does not allow this number." in screen_text(app)
        await pilot.press("1")
        assert "Blocked by the dial plan rule ^1900x+." in screen_text(app)
        assert phone.commands == []


async def test_allowed_number_shows_how_it_will_be_dialed():
    app, _ = build(plan("{<=1617>xxxxxxx | x+}"))
    async with app.run_test() as pilot:
        await pilot.press(*"5551234")
        assert "Allowed by <=1617>xxxxxxx, dialed as 16175551234." in screen_text(app)


async def test_complete_number_is_sent_at_once():
    app, phone = build(plan("{[369]11 | 1617xxxxxxx}"))
    async with app.run_test() as pilot:
        await pilot.press("9", "1", "1")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("call", "911", 0)]


async def test_pound_sends_the_number_without_the_pound():
    app, phone = build(plan("{ x+ | *x+ }", pound_sends=True))
    async with app.run_test() as pilot:
        await pilot.press("4", "2", "number_sign")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("call", "42", 0)]


async def test_pound_is_a_digit_when_the_account_says_it_does_not_send():
    app, phone = build(plan("{ x+ | x+#x+ }", pound_sends=False))
    async with app.run_test() as pilot:
        await pilot.press("4", "number_sign", "2")
        assert phone.commands == []
        assert "4#2" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("call", "4#2", 0)]


async def test_number_is_sent_by_itself_after_the_no_key_timeout_with_a_countdown():
    app, phone = build(plan("{ x+ }", no_key_timeout=1))
    async with app.run_test() as pilot:
        await pilot.press("3", "0", "1")
        assert "Sending in 1 s" in screen_text(app)
        assert phone.commands == []
        await until(pilot, lambda: phone.commands, timeout=3)
        assert phone.commands == [("call", "301", 0)]


async def test_enter_on_idle_goes_off_hook_and_enter_again_redials():
    app, phone = build()
    async with app.run_test() as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, DialerScreen)
        assert "Dial tone" in screen_text(app)
        await pilot.press("enter")
        assert "Nothing to redial yet" in screen_text(app)
        await pilot.press(*"777", "enter")
        await until(pilot, lambda: phone.commands)
        phone.hangup(1)
        await until(pilot, lambda: "1 Calling" not in screen_text(app))
        await pilot.press("enter", "enter")
        await until(pilot, lambda: len(phone.commands) == 3)
        assert phone.commands[-1] == ("call", "777", 0)


async def test_refused_call_is_explained_and_the_number_kept():
    app, phone = build()
    phone.refuse["999"] = PhoneError("999 is not allowed by the dial plan", "blocked_by_dial_plan")
    async with app.run_test() as pilot:
        await pilot.press("9", "9", "9", "enter")
        await until(pilot, lambda: "999 is not allowed by the dial plan" in screen_text(app))
        assert isinstance(app.screen, DialerScreen)
        assert app.screen.digits == "999"


async def test_tab_chooses_the_next_account():
    app, phone = build(ACCOUNTS)
    async with app.run_test() as pilot:
        await pilot.press("5")
        assert "Account: Office" in screen_text(app)
        await pilot.press("tab")
        assert "Account: Home" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("call", "5", 1)]


async def test_escape_cancels_without_calling():
    app, phone = build()
    async with app.run_test() as pilot:
        await pilot.press("5", "escape")
        assert not isinstance(app.screen, DialerScreen)
        assert phone.commands == []


async def test_send_key_can_be_remapped_by_binding_id():
    app, phone = build(keymap={"send": "f9"})
    async with app.run_test() as pilot:
        await pilot.press("8", "enter")
        assert phone.commands == []
        await pilot.press("f9")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("call", "8", 0)]


async def test_after_a_restart_redial_calls_the_last_number_in_the_history(tmp_path):
    from tuiphone.store import Store

    store = Store(tmp_path / "phone.db")
    store.add_call("in", 0, "sip:3005@127.0.0.1", "", "3005", 1709283100.0, 10.0, "answered")
    store.add_call("out", 1, "sip:2002@127.0.0.2", "", "2002", 1709283000.0, 30.0, "answered")
    store.close()
    app, phone = build(store=Store(tmp_path / "phone.db"))       # a phone started again over the same data
    async with app.run_test() as pilot:
        await until(pilot, lambda: "F1 Redial" in screen_text(app))
        await pilot.press("f1")
        await until(pilot, lambda: ("call", "2002", 1) in phone.commands)
