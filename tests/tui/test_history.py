"""Call History: filled by calls, filters, phonebook names, details, call back, add to phonebook, delete, clear."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.screens.call import CallScreen
from tuiphone.screens.confirm import ConfirmScreen
from tuiphone.screens.history import CallDetailsScreen, HistoryScreen
from tuiphone.screens.phonebook import ContactEditScreen
from tuiphone.store import Contact, Number, Store


def soft_keys(app) -> str:
    return " | ".join(app.screen.query_one("SoftKeyBar").labels())


def rows(app) -> int:
    return app.screen.query_one("DataTable").row_count


async def test_calls_fill_the_history_with_phonebook_names_and_the_filters_split_them():
    store = Store(":memory:")
    store.save_contact(Contact("Alice", [Number("200")]))
    app, phone = build(store=store)
    async with app.run_test(size=(100, 24)) as pilot:
        phone.log("200", "in", "answered", started=1709283000, duration=83)
        phone.log("300", "in", "missed", started=1709283060, name="Bob")
        phone.log("400", "out", "answered", started=1709283120, duration=5)
        await until(pilot, lambda: "1 missed" in screen_text(app))
        await pilot.press("l")
        assert isinstance(app.screen, HistoryScreen)
        text = screen_text(app)
        assert "Alice (200)" in text and "01:23" in text and "03-01 08:50" in text
        assert "✕  Bob (300)" in text and "↗  400" in text
        assert "1 missed" not in text          # looked at: no longer counted on the status bar
        await pilot.press("right")
        await until(pilot, lambda: rows(app) == 1)
        assert "Bob (300)" in screen_text(app) and "Alice" not in screen_text(app)
        await pilot.press("right")
        await until(pilot, lambda: rows(app) == 2)
        await pilot.press("right")
        await until(pilot, lambda: rows(app) == 1 and "400" in screen_text(app))
        assert soft_keys(app) == "F1 Dial | F2 Details | F3 Filter | F4 More"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        assert phone.commands == [("call", "400", 0)]


async def test_details_delete_and_clear_with_a_question_first():
    app, phone = build()
    async with app.run_test(size=(100, 24)) as pilot:
        phone.log("300", "in", "missed", started=1709283060)
        phone.log("301", "in", "dnd", started=1709283070)
        phone.log("400", "out", "failed", started=1709283120)
        await pilot.press("l")
        await until(pilot, lambda: rows(app) == 3)
        await pilot.press("down", "i")
        assert isinstance(app.screen, CallDetailsScreen)
        text = screen_text(app)
        assert "Do not disturb" in text and "Incoming" in text and "sip:301@127.0.0.1" in text
        await pilot.press("escape", "f4", "f2")          # More, then Delete on the second page
        await until(pilot, lambda: rows(app) == 2)
        assert "301" not in screen_text(app)
        await pilot.press("f4", "f3")                    # More, Clear
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete all 2 calls in All?" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: "No calls here yet." in screen_text(app))
        assert app.store.calls() == []


async def test_a_caller_is_added_to_the_phonebook_from_the_history_and_named_there():
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        phone.log("3005", "in", "missed", started=1709283060)
        await pilot.press("l")
        await until(pilot, lambda: rows(app) == 1)
        await pilot.press("a")
        assert isinstance(app.screen, ContactEditScreen)
        assert app.screen.query_one(".number-input").value == "3005"
        await pilot.press(*"Carol", "enter")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await until(pilot, lambda: "Carol (3005)" in screen_text(app))
        assert [(c.name, c.numbers) for c in app.store.contacts()] == [("Carol", [Number("3005")])]


async def test_a_call_is_in_the_history_while_it_rings_and_stays_one_row_when_it_ends():
    from tuiphone.engine.events import CallLogEntry, CallStarted

    store = Store(":memory:")
    app, phone = build(store=store)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("l")
        phone.fire(CallStarted(key="k1", line=1, direction="in", account=0, remote_uri="sip:300@127.0.0.1",
                               remote_name="Bob", remote_number="300", started=1709283060))
        await until(pilot, lambda: rows(app) == 1)       # written as it rings: a crash cannot lose it
        assert "●  Bob (300)" in screen_text(app)
        assert store.calls()[0].disposition == "in_progress"
        phone.fire(CallLogEntry(direction="in", account=0, remote_uri="sip:300@127.0.0.1", remote_name="Bob",
                                remote_number="300", started=1709283060, duration_s=0.0, disposition="missed",
                                key="k1"))
        await until(pilot, lambda: "✕  Bob (300)" in screen_text(app))
        assert rows(app) == 1 and [c.disposition for c in store.calls()] == ["missed"]

async def test_call_details_show_the_quality_and_the_transfer_of_the_call():
    from tuiphone.engine.events import LineState, TransferProgress
    from tuiphone.engine.quality import CallQuality

    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        app.place_call("200", 0)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        phone.quality_of[1] = CallQuality.measure("PCMU", rx_packets=990, rx_lost=10, jitter_ms=3.0, tx_packets=1000,
                                                  rtt_ms=40.0)
        phone.set_state(1, LineState.TALKING, codec="PCMU")
        await until(pilot, lambda: app.lines[1].quality is not None)      # the call screen polls once a second
        await pilot.press("t", "3", "0", "0", "enter")
        await until(pilot, lambda: ("blind_transfer", 1, "300") in phone.commands)
        phone.fire(TransferProgress(line=1, sip_status=200, reason="OK", final=True))
        await pilot.pause()
        # the engine logs the call, then ends its line (in that order)
        phone.log("200", "out", "answered", started=1709283000.0, duration=42.0)
        phone.set_state(1, LineState.ENDED, sip_status=200, reason="OK")
        await until(pilot, lambda: len(app.store.calls("all")) == 1)
        await until(pilot, lambda: not isinstance(app.screen, CallScreen))
        app.push_screen(HistoryScreen())
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and "200" in screen_text(app))
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, CallDetailsScreen))
        text = screen_text(app)
        assert "PCMU · MOS 4." in text and "loss 1.0 % · jitter 3.0 ms · RTT 40.0 ms" in text, text
        assert "to 300: done" in text, text
