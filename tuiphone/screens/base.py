"""What every phone screen shares: F1–F4 soft keys, keypad bindings with ids, relabelling on a language switch,
+ and - for the speaker volume. It imports no other screen (any screen can build on it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

from textual.binding import Binding, BindingType
from textual.events import ScreenResume
from textual.geometry import Region
from textual.screen import Screen

from tuiphone.i18n import t
from tuiphone.screen_updates import repaint_as_drawn, resume_as_left, resumed_as_left, whole_repaint
from tuiphone.widgets.soft_keys import SOFT_KEY_COUNT, SoftKey, SoftKeyBar

KEYPAD = "0123456789*#"
_KEY_NAMES = {"*": "asterisk", "#": "number_sign"}
_KEY_IDS = {"*": "star", "#": "pound"}
MAX_LINE_KEY_BINDINGS = 10      # alt+1 … alt+9, then alt+0 for the tenth key


def keypad_bindings(action: str = "digit") -> list[Binding]:
    """0-9 * # as bindings with ids keypad-0 … keypad-star, keypad-pound (remappable)."""
    return [Binding(_KEY_NAMES.get(d, d), f"{action}('{d}')", d, show=False, id=f"keypad-{_KEY_IDS.get(d, d)}")
            for d in KEYPAD]


# Most terminals send alt+digit as ESC digit, which Textual reads as the character macOS's Option+digit
# types (ESC 1 -> "¡"): bind those characters too, or alt+1 … alt+0 never arrive outside tests.
_ALT_DIGIT_AS_TEXTUAL_READS_IT = {
    1: "inverted_exclamation_mark", 2: "trade_mark_sign", 3: "pound_sign", 4: "cent_sign", 5: "infinity",
    6: "section_sign", 7: "pilcrow_sign", 8: "bullet", 9: "ª", 10: "º",
}


def line_key_bindings() -> list[Binding]:
    """alt+1 … alt+9 and alt+0 press keys 1 … 10 of the line key column (line or programmable keys)."""
    return [Binding(f"alt+{n % 10},{_ALT_DIGIT_AS_TEXTUAL_READS_IT[n]}", f"line_key({n})", show=False,
                    id=f"line-key-{n}")
            for n in range(1, MAX_LINE_KEY_BINDINGS + 1)]


def repaint_now(screen: Screen) -> None:
    """Repaint the top screen after a rebuild: the screens below rebuild at the same time, and a screen that
    finished while they still held the app's batch update would show its old text until the next key."""
    screen.app.refresh(layout=True)


class PhoneScreen(Screen):
    """A screen with a soft key bar: F1–F4 run whatever `soft_keys()` says now."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(f"f{n}", f"soft_key({n})", f"F{n}", show=False, id=f"soft-key-{n}")
          for n in range(1, SOFT_KEY_COUNT + 1)),
        Binding("q", "app.quit_phone", "Quit", show=False, id="quit"),
        Binding("k", "app.lock", "Lock", show=False, id="lock"),
        Binding("+", "volume(1)", "Volume up", show=False, id="volume-up"),
        Binding("-", "volume(-1)", "Volume down", show=False, id="volume-down"),
    ]

    soft_page = 0     # which page of keys F1–F3 show when a screen has more than four (F4: More)
    covered = False   # while PhoneApp.push_screen puts another screen over this one
    uncovered = False  # from PhoneApp.pop_screen closing the screen over this one until it has come back

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> Self:
        """As Textual's, except the whole repaint Textual gives a screen as it pushes another over it: the
        screen pushed draws the whole terminal at once, so that repaint only threw away this screen's lines
        (for each ringing call: bench/attach.py). Parts that change draw as ever.
        When it comes back (the screen over it closed, `uncovered`, or it is pushed again) it is drawn whole
        from the lines it has: screen_updates.repaint_as_drawn."""
        if whole_repaint(regions, repaint, layout, recompose):
            if self.covered:
                return self
            if self.uncovered or resumed_as_left(self):
                repaint_as_drawn(self)
                return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def soft_keys(self) -> Sequence[SoftKey | None]:
        """The keys for the screen's current state (None = blank key); past four they go on pages."""
        return ()

    def shown_soft_keys(self) -> list[SoftKey | None]:
        """What F1–F4 do now: the keys, or one page of three of them and More on F4, like the desk phone."""
        keys = list(self.soft_keys())
        if len(keys) <= SOFT_KEY_COUNT:
            return keys
        per_page = SOFT_KEY_COUNT - 1
        pages = (len(keys) + per_page - 1) // per_page
        self.soft_page %= pages
        page = keys[self.soft_page * per_page:(self.soft_page + 1) * per_page]
        return page + [None] * (per_page - len(page)) + [SoftKey("key.more", "soft_more")]

    def action_volume(self, step: int) -> None:
        change_volume(self.app, step)

    def action_soft_more(self) -> None:
        self.soft_page += 1
        self.refresh_soft_keys()

    def on_mount(self) -> None:
        self.app.language_changed.subscribe(self, lambda _: self.relabel())

    def _on_screen_resume(self, event: ScreenResume) -> None:
        """Before Screen's own handler (in place of an `on_screen_resume` here; subclasses may have theirs)."""
        resume_as_left(self, event)
        self.refresh_soft_keys()

    def refresh_soft_keys(self) -> None:
        for bar in self.query(SoftKeyBar):
            bar.show_keys(self.shown_soft_keys())

    async def relabel(self) -> None:
        """Rebuild the screen from its state so every label is in the new language."""
        await self.recompose()
        self.refresh_soft_keys()
        repaint_now(self)

    async def action_soft_key(self, index: int) -> None:
        keys = self.shown_soft_keys()
        key = keys[index - 1] if index <= len(keys) else None
        if key is not None:
            if key.action != "soft_more":
                self.soft_page = 0     # after a key has done its job the first page comes back, as on the phone
            await self.run_action(key.action)
            self.refresh_soft_keys()

    async def on_soft_key_bar_pressed(self, message: SoftKeyBar.Pressed) -> None:
        await self.action_soft_key(message.index)


class StateScreen(PhoneScreen):
    """A screen that shows the phone's state: `fill()` draws it at mount, on every status change (a
    registration, a feature, a voicemail count) and after a language switch."""

    def on_mount(self) -> None:
        self.app.status_changed.subscribe(self, lambda _: self.fill())
        self.fill()

    async def relabel(self) -> None:
        await super().relabel()
        self.fill()

    def fill(self) -> None:
        raise NotImplementedError


VOLUME_STEPS = 10      # + and - move the speaker volume by a tenth


def change_volume(app: Any, step: int) -> None:
    """+ / -: the speaker volume up or down a step, shown for a moment; a sentence when there is no speaker."""
    audio = getattr(app.phone, "local_audio", None)
    if audio is None:
        app.notify(t("volume.no_audio"), severity="warning", timeout=3, markup=False)
        return
    level = min(VOLUME_STEPS, max(0, round(audio.volume * VOLUME_STEPS) + step))
    audio.set_volume(level / VOLUME_STEPS)
    app.notify(t("volume.level", percent=level * 100 // VOLUME_STEPS,
                 bar="█" * level + "░" * (VOLUME_STEPS - level)), timeout=1.5, markup=False)
