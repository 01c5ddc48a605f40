"""The call screen: duration and quality, hold/resume, mute, DTMF, line keys, blind and attended transfer, end."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import LineState, TransferProgress
from tuiphone.engine.quality import CallQuality
from tuiphone.screens.call import CallScreen
from tuiphone.screens.idle import IdleScreen
from tuiphone.screens.incoming import IncomingCallScreen


async def talking(pilot, phone, number: str = "200", line: int = 1) -> None:
    """Place a call to `number` (the dialer's own tests cover the keys) and let the far end answer."""
    pilot.app.place_call(number)
    await until(pilot, lambda: isinstance(pilot.app.screen, CallScreen) and line in pilot.app.lines)
    phone.set_state(line, LineState.TALKING, codec="G722")
    await until(pilot, lambda: pilot.app.lines[line].call.state == LineState.TALKING)
    phone.commands.clear()


def soft_keys(app) -> str:
    return " | ".join(app.screen.query_one("SoftKeyBar").labels())


async def test_call_screen_shows_duration_codec_and_quality(clock):
    app, phone = build(clock=clock)
    async with app.run_test() as pilot:
        await talking(pilot, phone)
        phone.quality_of[1] = CallQuality.measure("G722", rx_packets=990, rx_lost=10, jitter_ms=2.5,
                                                   tx_packets=1000, rtt_ms=40.0)
        clock.now += 83
        await until(pilot, lambda: "MOS" in screen_text(app), timeout=3)
        text = screen_text(app)
        assert "Line 1  Talking  01:23  G722" in text
        assert "loss 1.0% · jitter 2.5 ms · RTT 40 ms" in text
        assert ("quality", 1) in phone.commands


async def test_hold_and_resume_from_the_soft_key_and_from_h():
    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone)
        assert soft_keys(app) == "F1 Hold | F2 Transfer | F3 Mute | F4 End"
        await pilot.press("f1")
        await until(pilot, lambda: "F1 Resume" in soft_keys(app))
        assert "ON HOLD" in screen_text(app)
        await pilot.press("h")
        await until(pilot, lambda: "F1 Hold" in soft_keys(app))
        assert [c for c in phone.commands if c[0] != "quality"] == [("hold", 1), ("resume", 1)]


async def test_mute_toggles_and_shows_a_mark():
    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone)
        await pilot.press("u")
        await until(pilot, lambda: "MUTED" in screen_text(app))
        assert "F3 Unmute" in soft_keys(app)
        await pilot.press("f3")
        await until(pilot, lambda: "MUTED" not in screen_text(app))
        assert [c for c in phone.commands if c[0] == "mute"] == [("mute", 1, True), ("mute", 1, False)]


async def test_digits_in_a_call_send_dtmf():
    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone)
        await pilot.press("5", "number_sign")
        await until(pilot, lambda: "DTMF sent 5#" in screen_text(app))
        assert [c for c in phone.commands if c[0] == "send_dtmf"] == [("send_dtmf", 1, "5"), ("send_dtmf", 1, "#")]


async def test_blind_transfer_sends_the_number_and_shows_the_progress():
    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone)
        await pilot.press("t", "3", "0", "1", "backspace", "0")
        assert "Transfer line 1 to: 300" in screen_text(app)
        assert soft_keys(app).startswith("F1 Send")
        await pilot.press("enter")
        await until(pilot, lambda: ("blind_transfer", 1, "300") in phone.commands)
        assert not [c for c in phone.commands if c[0] == "send_dtmf"]
        phone.fire(TransferProgress(line=1, sip_status=180, reason="Ringing", final=False))
        await until(pilot, lambda: "Transfer: 180 Ringing" in screen_text(app))


async def test_attended_transfer_joins_the_held_line_with_the_current_one():
    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone, "200", line=1)
        await pilot.press("alt+2")       # a free line key: dial a second call, the first goes on hold
        assert type(app.screen).__name__ == "DialerScreen"
        await talking(pilot, phone, "300", line=2)
        assert app.lines[1].call.state == LineState.HELD
        await pilot.press("t", "alt+1")
        await until(pilot, lambda: any(c[0] == "attended_transfer" for c in phone.commands))
        assert ("attended_transfer", 1, 2) in phone.commands


async def test_line_key_switches_to_the_held_line():
    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone, "200", line=1)
        await pilot.press("alt+2")
        await talking(pilot, phone, "300", line=2)
        await pilot.press("alt+1")
        await until(pilot, lambda: ("resume", 1) in phone.commands)
        await until(pilot, lambda: app.lines[2].call.state == LineState.HELD)
        assert app.screen.selected == 1


async def test_end_hangs_up_and_goes_back_to_idle():
    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        assert ("hangup", 1) in phone.commands


async def test_answered_call_opens_the_call_screen():
    app, phone = build()
    async with app.run_test() as pilot:
        phone.ring(1, "3005", "Alice")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        assert "Alice <3005>" in screen_text(app)


async def test_quit_asks_first_while_a_call_is_up():
    from tuiphone.screens.confirm import ConfirmScreen

    app, phone = build()
    async with app.run_test() as pilot:
        await talking(pilot, phone)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "A call is up" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, CallScreen)
        await pilot.press("q", "enter")
        await until(pilot, lambda: app.return_code == 0)


async def test_r_records_the_call_with_a_mark_and_says_where_the_file_went():
    app, phone = build()
    async with app.run_test(notifications=True) as pilot:
        await talking(pilot, phone)
        await pilot.press("r")
        await until(pilot, lambda: "● REC" in screen_text(app))
        await pilot.press("r")
        await until(pilot, lambda: "Recording saved to" in screen_text(app))     # a toast, wrapped
        assert "line1.wav" in screen_text(app)
        assert "● REC" not in screen_text(app)
        assert [c for c in phone.commands if c[0] == "record"] == [("record", 1, True), ("record", 1, False)]
