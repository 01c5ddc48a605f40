"""`tuiphone --standalone` draws its first screen before the phone is built (tuiphone/starting_phone.py):
the App opens on a StartingPhone, builds the phone once that screen is drawn, and keys pressed meanwhile wait
for the phone and are then handled in the order pressed."""

from __future__ import annotations

from tests.tui.conftest import Clock, make_config, until
from tests.tui.fake_phone import FakePhone
from tuiphone.app import make_app
from tuiphone.engine.events import RegState
from tuiphone.runtime import StartError
from tuiphone.screens.idle import IdleScreen
from tuiphone.starting_phone import StartingPhone, release_input
from tuiphone.store import Store

DND_ON = """
[features]
dnd = true

[[accounts]]
name = "Office"
sip_server = "127.0.0.1:5090"
user_id = "1001"
"""


def starting_app(bring_up, config_text: str = DND_ON):
    config = make_config(config_text)
    return make_app(StartingPhone(config, bring_up), config, clock=Clock(), blink=False, store=Store(":memory:"))


async def test_the_phone_is_built_after_the_first_frame_and_the_screens_then_follow_it():
    frames_before: list[int] = []
    real: list[FakePhone] = []

    def bring_up(app):
        frames_before.append(frames[0])
        phone = FakePhone(app.config)
        phone._regs[0] = RegState(account=0, registered=True, sip_status=200, reason="OK", expires=300,
                                  server="127.0.0.1:5090")
        real.append(phone)
        return phone, "", None

    frames = [0]
    app = starting_app(bring_up)
    display = app._display

    def counted(*args, **kwargs):
        frames[0] += 1
        return display(*args, **kwargs)

    app._display = counted          # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.phone is not None and not getattr(app.phone, "starting", False))
        assert frames_before and frames_before[0] >= 1, "the phone was built before anything was drawn"
        assert app.phone is real[0] and app.config is real[0].config
        assert app.held_input is None
        assert isinstance(app.screen, IdleScreen)
        assert app.registrations[0].registered       # read from the phone it took


async def test_the_first_screen_shows_the_features_the_config_has_before_the_phone_is_up():
    seen = []

    def bring_up(app):
        seen.append(app.dnd_on())
        return FakePhone(app.config), "", None

    async with starting_app(bring_up).run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(seen))
    assert seen == [True]


async def test_keys_pressed_while_the_phone_starts_are_handled_by_it_in_order():
    app = starting_app(lambda app: (FakePhone(app.config), "", None))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.phone, FakePhone) and app.held_input is None)
        phone = app.phone
        app.held_input = []             # as while the phone is being built
        await pilot.press("1", "0", "2", "enter")      # a number typed on the idle screen, then dialed
        await pilot.pause()
        assert len(app.held_input) == 4 and isinstance(app.screen, IdleScreen), "a key was handled too soon"
        assert not [c for c in phone.commands if c[0] == "call"]
        await release_input(app)
        await until(pilot, lambda: any(c[0] == "call" for c in phone.commands))
        assert [c[1] for c in phone.commands if c[0] == "call"] == ["102"]
        assert app.held_input is None
        await pilot.press("escape")     # from now on keys go straight through: END hangs the call up
        await until(pilot, lambda: any(c[0] == "hangup" for c in phone.commands))


async def test_a_phone_that_cannot_start_ends_the_app_with_its_sentence_and_code():
    def bring_up(app):
        raise StartError("SIP port 5060 on 127.0.0.1 is in use by another program", 2)

    app = starting_app(bring_up)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.start_error is not None)
        await pilot.pause()
    assert app.return_code == 2
    assert str(app.start_error).startswith("SIP port 5060")

