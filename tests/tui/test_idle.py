"""The idle screen: registration icons, clock, account, idle text, line keys, the audio state."""

from __future__ import annotations

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import CallState, LineState, RegState
from tuiphone.widgets.line_keys import LineKey
from tuiphone.widgets.status_bar import StatusBar

THREE_ACCOUNTS = """
[phone]
time_format = "12h"
timezone = "Asia/Shanghai"
idle_text = "Front desk"

[[accounts]]
name = "Office"
sip_server = "127.0.0.1:5090"
user_id = "1001"

[[accounts]]
name = "Home"
sip_server = "127.0.0.2"
user_id = "2002"

[[accounts]]
name = "Trunk"
sip_server = "127.0.0.3"
user_id = "3003"
"""


async def test_status_bar_shows_a_filled_hollow_or_error_icon_per_account():
    app, phone = build(THREE_ACCOUNTS)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.screen.query_one(StatusBar)
        assert "○ Office" in str(bar.content) and "○ Home" in str(bar.content)
        phone.fire(RegState(account=0, registered=True, sip_status=200, reason="OK", expires=3600,
                            server="127.0.0.1:5090"),
                   RegState(account=1, registered=False, sip_status=403, reason="Forbidden", expires=0,
                            server="127.0.0.2"))
        await until(pilot, lambda: "● Office" in str(bar.content))
        text = screen_text(app)
        assert "● Office" in text
        assert "✕ Home" in text
        assert "○ Trunk" in text


async def test_status_bar_says_there_is_no_audio_device():
    app, _ = build(THREE_ACCOUNTS)
    async with app.run_test(size=(80, 24)):
        assert "no audio device" in screen_text(app)


async def test_idle_shows_time_in_the_configured_zone_and_format_with_account_and_idle_text():
    app, _ = build(THREE_ACCOUNTS)      # 09:05 UTC is 5:05 PM in Shanghai
    async with app.run_test(size=(80, 24)):
        assert str(app.screen.query_one("#clock-digits").value) == "5:05"
        text = screen_text(app)
        assert "PM" in text
        assert "2024-03-01 Fri" in text
        assert "Office (1001)" in text
        assert "Front desk" in text


async def test_posix_tz_string_sets_the_clock():
    app, _ = build('[phone]\ntimezone = "MTZ-8MDT-8,M3.2.0,M11.1.0"\n')
    async with app.run_test(size=(80, 24)):
        assert app.screen.query_one("#clock-digits").value == "17:05"
        assert "No account: direct IP calls only" in screen_text(app)


async def test_line_keys_light_up_by_line_state():
    app, phone = build(THREE_ACCOUNTS)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = {k.number: k for k in app.screen.query(LineKey)}
        assert len(keys) == 6
        assert all(k.has_class("-idle") for k in keys.values())

        def call(line: int, state: LineState, number: str) -> CallState:
            return CallState(line=line, state=state, direction="in", account=0, remote_uri=f"sip:{number}@x",
                             remote_name="", remote_number=number)
        phone.fire(call(2, LineState.RINGING, "2002"), call(3, LineState.HELD, "3003"))
        await until(pilot, lambda: keys[3].has_class("-held"))
        assert keys[2].has_class("-ringing")
        assert "2 Ringing 2002" in screen_text(app)
        assert "3 Held 3003" in screen_text(app)
        assert keys[1].has_class("-idle")


async def test_a_change_on_one_line_redraws_only_that_lines_key(monkeypatch):
    app, phone = build(THREE_ACCOUNTS)
    shown: list[int] = []
    show_call = LineKey.show_call
    monkeypatch.setattr(LineKey, "show_call", lambda self, *a, **k: shown.append(self.number) or show_call(
        self, *a, **k))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown.clear()
        phone.fire(CallState(line=2, state=LineState.RINGING, direction="in", account=0, remote_uri="sip:2002@x",
                             remote_name="", remote_number="2002"))
        await until(pilot, lambda: "2 Ringing 2002" in screen_text(app))
        assert set(shown) == {2}


async def test_a_lit_key_draws_its_light_in_the_colours_of_the_theme_in_use():
    app, phone = build(THREE_ACCOUNTS)
    async with app.run_test(size=(80, 24)) as pilot:
        key = app.screen.query_one("#line-key-1", LineKey)
        phone.fire(CallState(line=1, state=LineState.TALKING, direction="in", account=0, remote_uri="sip:2002@x",
                             remote_name="", remote_number="2002"))
        await until(pilot, lambda: key.has_class("-talking"))
        before = key.render().style.bgcolor
        assert before is not None and before.triplet.hex.lower() == app.current_theme.success.lower()
        assert key.render().style.bold
        drawn_before = {seg.style.bgcolor for seg in key.render_line(0) if seg.style}
        assert before in drawn_before
        app.theme = "nord" if app.theme != "nord" else "gruvbox"
        await pilot.pause(0.1)
        now = key.render().style.bgcolor
        assert now != before
        # a theme that changes the light and not the key's own background: only the column is restyled
        from dataclasses import replace
        before = now
        app.register_theme(replace(app.current_theme, name="greener", success="#00ff00"))
        app.theme = "greener"
        await pilot.pause(0.1)
        now = key.render().style.bgcolor
        assert now != before
        assert "2002" in str(key.render()) and key.render().cell_len == key.size.width
        drawn_now = {seg.style.bgcolor for seg in key.render_line(0) if seg.style}     # the row drawn again
        assert now in drawn_now and before not in drawn_now


async def test_ringing_and_held_keys_blink_and_talking_keys_do_not():
    app, phone = build(THREE_ACCOUNTS)
    app.blink = True
    async with app.run_test(size=(80, 24)) as pilot:
        from tuiphone.widgets.line_keys import LineKeys

        column = app.screen.query_one(LineKeys)
        keys = {k.number: k for k in app.screen.query(LineKey)}

        def call(line: int, state: LineState) -> CallState:
            return CallState(line=line, state=state, direction="in", account=0, remote_uri=f"sip:200{line}@x",
                             remote_name="", remote_number=f"200{line}")
        phone.fire(call(1, LineState.RINGING), call(2, LineState.HELD), call(3, LineState.TALKING))
        await until(pilot, lambda: keys[3].has_class("-talking"))
        await until(pilot, lambda: keys[1].has_class("-blink-off"), timeout=10)     # the timer blinks it
        # one blink at a time (no await in between, so the timer cannot step in): dark, then lit again
        def drawn(key: LineKey):        # the light the key draws (render: what its row shows)
            return key.render().style.bgcolor or key.styles.background.rich_color

        column.blink_off = True
        column._blink()                 # lit
        lit = drawn(keys[1])
        column._blink()                 # dark
        assert keys[1].has_class("-blink-off") and keys[2].has_class("-blink-off")
        assert drawn(keys[1]) != lit and drawn(keys[1]) == drawn(keys[4])        # as dark as an idle key
        # only the blinking keys go dark: the talking and the idle keys never do
        assert not keys[3].has_class("-blink-off") and not keys[4].has_class("-blink-off")
        column._blink()
        assert not keys[1].has_class("-blink-off") and drawn(keys[1]) == lit


async def test_d_toggles_do_not_disturb_and_the_status_bar_shows_it():
    app, phone = build(THREE_ACCOUNTS)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "DND" not in screen_text(app)
        await pilot.press("d")
        await until(pilot, lambda: "DND" in screen_text(app))
        await pilot.press("d")
        await until(pilot, lambda: "DND" not in screen_text(app))
        assert phone.commands == [("set_dnd", True), ("set_dnd", False)]


async def test_forwarding_set_elsewhere_shows_in_the_status_bar():
    from dataclasses import replace

    app, phone = build(THREE_ACCOUNTS)
    async with app.run_test(size=(80, 24)) as pilot:
        phone.fire(replace(phone.feature_state(), forward_always="2002"))
        await until(pilot, lambda: "FWD 2002" in screen_text(app))
