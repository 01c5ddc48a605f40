"""Incoming calls: the ringing prompt over any screen, answer, reject, queued calls, callers who give up."""

from __future__ import annotations

from dataclasses import replace

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import CallState, IncomingCall, LineState
from tuiphone.screens.dialer import DialerScreen
from tuiphone.screens.incoming import IncomingCallScreen
from tuiphone.store import Contact, Number, Store


async def test_incoming_call_pops_the_prompt_and_enter_answers_it():
    app, phone = build()
    async with app.run_test() as pilot:
        phone.ring(2, "3005", "Alice", account=0)
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        text = screen_text(app)
        assert "Incoming call on line 2" in text
        assert "Alice <3005>" in text
        assert "To account Office" in text
        assert "F1 Answer" in text and "F2 Reject" in text
        await pilot.press("enter")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("answer", 2)]
        await until(pilot, lambda: not isinstance(app.screen, IncomingCallScreen))


async def test_f1_answers_and_the_caller_is_named_from_the_phonebook():
    store = Store(":memory:")
    store.save_contact(Contact("Carol", [Number("3005")]))
    app, phone = build(store=store)
    async with app.run_test() as pilot:
        phone.ring(1, "3005", account=None)
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        assert "Direct call (no account)" in screen_text(app)
        assert "Carol <3005>" in screen_text(app)
        await pilot.press("f1")
        await until(pilot, lambda: phone.commands)
        assert phone.commands == [("answer", 1)]


async def test_f2_and_escape_reject_with_busy_here():
    app, phone = build()
    async with app.run_test() as pilot:
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("f2")
        await until(pilot, lambda: phone.commands)
        await until(pilot, lambda: "1 Idle" in screen_text(app))
        phone.ring(2, "3006")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("escape")
        await until(pilot, lambda: len(phone.commands) == 2)
        assert phone.commands == [("reject", 1, 486), ("reject", 2, 486)]


async def test_several_ringing_calls_queue_one_after_the_other():
    app, phone = build()
    async with app.run_test() as pilot:
        phone.ring(1, "3005", "Alice")
        phone.ring(2, "3006", "Bob")
        await until(pilot, lambda: "Calls waiting behind this one: 1" in screen_text(app))
        assert "Alice" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: "Bob <3006>" in screen_text(app))
        assert "Calls waiting" not in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: len(phone.commands) == 2)
        assert phone.commands == [("reject", 1, 486), ("answer", 2)]


async def test_prompt_closes_when_the_caller_gives_up():
    app, phone = build()
    async with app.run_test() as pilot:
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        phone.set_state(1, LineState.ENDED, sip_status=487, reason="Request Terminated")
        await until(pilot, lambda: not isinstance(app.screen, IncomingCallScreen))
        assert phone.commands == []


async def test_prompt_comes_over_the_dialer_and_leaves_the_number_alone():
    app, phone = build()
    async with app.run_test() as pilot:
        await pilot.press("4", "5")
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("6")      # keys go to the prompt, not to the dialer under it
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DialerScreen))
        assert app.screen.digits == "45"


async def test_how_a_ringing_call_ended_is_said_on_the_idle_screen_not_that_it_failed():
    """Rejected, forwarded, missed: the idle screen's message line says which (in the UI's language), and no
    toast piles up for it."""
    from tuiphone import i18n

    app, phone = build()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        phone.ring(1, "3005", "Bob Li")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("f2")
        await until(pilot, lambda: "Rejected Bob Li (486)." in screen_text(app))
        phone.ring(2, "3006", "Ann")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("f")
        await pilot.press(*"1002", "enter")
        await until(pilot, lambda: "Forwarded Ann to 1002." in screen_text(app))
        assert "Rejected Bob Li" not in screen_text(app)          # the newest outcome replaces the one before
        phone.ring(3, "3007")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        phone.set_state(3, LineState.ENDED, sip_status=487, reason="Request Terminated")
        await until(pilot, lambda: "Missed call from 3007." in screen_text(app))
        assert "failed" not in screen_text(app) and not app._notifications

        app.switch_language("zh_CN")
        phone.ring(1, "3008", "Bob Li")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("escape")
        await until(pilot, lambda: "已拒接 Bob Li（486）。" in screen_text(app))
        assert "失败" not in screen_text(app) and not app._notifications
        i18n.set_language("en")


async def test_the_outcome_gives_the_line_back_to_the_dialing_hint_after_a_while(monkeypatch):
    from tuiphone.screens import idle

    monkeypatch.setattr(idle, "OUTCOME_SHOWN_S", 0.3)
    now = [1000.0]
    app, phone = build(clock=lambda: now[0])
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring(1, "3007")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        phone.set_state(1, LineState.ENDED, sip_status=487, reason="Request Terminated")
        await until(pilot, lambda: "Missed call from 3007." in screen_text(app))
        assert "Type a number to dial" not in screen_text(app)
        now[0] += 1.0
        await until(pilot, lambda: "Type a number to dial" in screen_text(app))
        assert "Missed call" not in screen_text(app)


async def test_a_caller_who_gives_up_before_the_prompt_is_up_leaves_it_to_the_next_call_on_that_line():
    """The caller hangs up and the next call takes the same line in one go (the UI was busy): the prompt shows
    the next caller, never the one who has gone (answering would answer someone else)."""
    def ringing(number: str, call_id: str) -> tuple[CallState, IncomingCall]:
        uri = f"sip:{number}@127.0.0.1"
        return (CallState(line=1, state=LineState.RINGING, direction="in", account=0, remote_uri=uri,
                          remote_name="", remote_number=number, call_id=call_id),
                IncomingCall(line=1, account=0, remote_uri=uri, remote_name="", remote_number=number,
                             source="127.0.0.1:5070", call_id=call_id))

    app, phone = build()
    async with app.run_test() as pilot:
        first = ringing("3005", "first@127.0.0.1")
        phone.fire(*first, replace(first[0], state=LineState.ENDED, sip_status=487), *ringing("3006", "next@127.0.0.1"))
        await until(pilot, lambda: "3006" in screen_text(app))
        assert "3005" not in screen_text(app) and "Calls waiting" not in screen_text(app)


async def test_one_prompt_serves_every_call_and_shows_only_the_call_ringing_now():
    """The prompt is built once and given each call: the next call shows its own caller, line and account, a
    long name stays on its one row, and the keys act on the call shown (not on the one before)."""
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring(1, "3005", "Alice", account=0)
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        prompt = app.screen
        await pilot.press("f2")
        await until(pilot, lambda: not isinstance(app.screen, IncomingCallScreen))
        long_name = "Bartholomew Montgomery-Featherstonehaugh of the Accounts Department"
        phone.ring(2, "3006", long_name, account=None)
        await until(pilot, lambda: "Incoming call on line 2" in screen_text(app))
        assert app.screen is prompt
        text = screen_text(app)
        assert "Alice" not in text and "3005" not in text and "To account Office" not in text
        assert "Direct call (no account)" in text
        caller_rows = [row for row in text.splitlines() if "Bartholomew" in row]
        assert len(caller_rows) == 1 and "…" in caller_rows[0], caller_rows
        await pilot.press("enter")
        await until(pilot, lambda: len(phone.commands) == 2)
        assert phone.commands == [("reject", 1, 486), ("answer", 2)]
