"""Screens draw as soon as they are idle after a change (tuiphone/screen_updates.py), on Textual's own timer."""

from __future__ import annotations

from textual.screen import Screen
from textual.timer import Timer

from tests.tui.conftest import build, until
from tuiphone.screen_updates import draw_when_changed
from tuiphone.screens.incoming import IncomingCallScreen


async def test_every_screen_of_the_app_updates_on_a_timer_that_does_not_wait_for_the_frame_grid():
    """Textual's private parts this relies on: Screen._update_timer (a property making a Timer named
    "screen_update") and the Timer's `_skip`. If Textual renames either, this fails rather than the phone
    silently drawing late again."""
    app, phone = build()
    async with app.run_test() as pilot:
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        for screen in app.screen_stack:            # the idle screen under the ringing prompt, and the prompt
            timer = screen._update_timer
            assert isinstance(timer, Timer) and timer.name == "screen_update"
            assert timer._skip is False


def test_it_is_set_up_once_however_often_an_app_is_built():
    draw_when_changed()
    wrapped = Screen.__dict__["_update_timer"]
    draw_when_changed()
    assert Screen.__dict__["_update_timer"] is wrapped
    assert isinstance(wrapped, property)
