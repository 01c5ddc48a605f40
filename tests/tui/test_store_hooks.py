"""The app and the database: calls land in the history per `call_log`, the blocklist survives a restart."""

from __future__ import annotations

from tests.tui.conftest import build, until
from tuiphone.store import Store

MODES = """
[[accounts]]
name = "All"
sip_server = "127.0.0.1:5090"
user_id = "1001"
call_log = "all"

[[accounts]]
name = "Answered"
sip_server = "127.0.0.2"
user_id = "2002"
call_log = "answered"

[[accounts]]
name = "Off"
sip_server = "127.0.0.3"
user_id = "3003"
call_log = "off"
"""


async def test_finished_calls_are_kept_as_each_account_call_log_mode_says(tmp_path):
    store = Store(tmp_path / "tuiphone.db")
    app, phone = build(MODES, store=store)
    async with app.run_test() as pilot:
        phone.log("101", disposition="answered", account=0, duration=5)
        phone.log("102", disposition="missed", account=0)
        phone.log("201", disposition="answered", account=1, duration=5)
        phone.log("202", disposition="missed", account=1)
        phone.log("301", disposition="answered", account=2, duration=5)
        phone.log("127*0*0*1", direction="out", disposition="failed", account=None)
        await until(pilot, lambda: len(store.calls()) == 4)
        await pilot.pause()
        assert sorted(c.remote_number for c in store.calls()) == ["101", "102", "127*0*0*1", "201"]
        assert app.missed_unseen == 1


async def test_saved_blocklist_is_loaded_at_start_and_changes_are_saved(tmp_path):
    store = Store(tmp_path / "tuiphone.db")
    store.set_blocklist(["1900x+", "555"])
    app, phone = build(store=store)
    assert phone.blocked == ["1900x+", "555"]
    async with app.run_test() as pilot:
        phone.block("666")         # a *40 code or another screen changes the engine's blocklist
        await until(pilot, lambda: store.blocklist() == ["1900x+", "555", "666"])
        phone.unblock("555")
        await until(pilot, lambda: store.blocklist() == ["1900x+", "666"])


async def test_a_saved_entry_the_engine_refuses_is_named_on_screen(tmp_path):
    from tests.tui.conftest import screen_text

    store = Store(tmp_path / "tuiphone.db")
    store.set_blocklist(["bad entry", "555"])
    app, phone = build(store=store)
    assert phone.blocked == ["555"]
    async with app.run_test(notifications=True) as pilot:
        await until(pilot, lambda: "bad entry: 'bad entry'" in screen_text(app))
        assert "Some saved blocklist entries" in screen_text(app)
