"""`tuiphone --standalone`: the first screen comes before the phone.

Building the phone (pjsua2, numpy, the sound devices, the config checked by the schema: ~0.6 s here) used to
come before the TUI drew anything. Now the App opens on a `StartingPhone`: what a first screen reads of a
phone (no lines and no registrations yet, the call features as the config has them). Once that screen is
drawn, the App builds the real phone with the StartingPhone's `bring_up` (on the UI thread: the screen waits,
as a desk phone's does while it boots) and takes it (`PhoneApp.take_started_phone`). Keys pressed meanwhile
are held and handled, in order, once the phone is up; a phone that cannot start ends the App, and the
command line says its sentence with its exit code (runtime.StartError), as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuiphone.engine.events import CallState, FeaturesChanged, RegState


class StartingPhone:
    """The phone as the first screen sees it while the real one is built."""

    remote = False          # the App keeps the history itself, as with the real phone it will take
    starting = True

    def __init__(self, config: Any, bring_up: Callable[[Any], tuple[Any, str, Any]]) -> None:
        """`bring_up(app)` builds and starts the phone with the app subscribed to it (an EngineBridge, before
        its SIP port opens) and returns it, a sentence for the user ("" when all went well) and what ends that
        subscription; or raises runtime.StartError."""
        self.config = config
        self.bring_up = bring_up
        self.voicemail: dict[int | None, tuple[bool, int, int]] = {}
        self.max_lines = int(config.phone.lines)

    def subscribe(self, fn: Callable[[Any], None]) -> Callable[[], None]:
        return lambda: None     # nothing happens before the phone is up

    def registrations(self) -> dict[int, RegState]:
        return {}

    def lines(self) -> list[CallState]:
        return []

    def feature_state(self) -> FeaturesChanged:
        features = self.config.features
        return FeaturesChanged(dnd=features.dnd, call_waiting=features.call_waiting,
                               forward_always=features.forward_always, forward_busy=features.forward_busy,
                               forward_no_answer=features.forward_no_answer,
                               anonymous=tuple(a.anonymous for a in self.config.accounts), blocklist=())


def phone_comes_up(app: Any) -> None:
    """On the UI thread, once the first screen is drawn: build the phone, give it to the app, then hand the
    app the keys pressed meanwhile (after any still queued behind this: they come in the order pressed)."""
    from tuiphone.runtime import StartError

    try:
        phone, problem, unsubscribe = app.phone.bring_up(app)
    except StartError as exc:
        app.start_error = exc
        app.exit(return_code=exc.code)
        return
    app.take_started_phone(phone, problem, unsubscribe)
    app.call_later(release_input, app)


async def release_input(app: Any) -> None:
    """The held keys and clicks, handled as they would have been when they came."""
    from textual.app import App

    held, app.held_input = app.held_input or [], None
    for event in held:
        await App.on_event(app, event)
