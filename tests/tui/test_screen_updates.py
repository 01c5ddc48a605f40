"""Screens draw as soon as they are idle after a change (tuiphone/screen_updates.py), on Textual's own timer."""

from __future__ import annotations

from textual._compositor import Compositor
from textual.screen import Screen
from textual.timer import Timer

from tests.tui.conftest import build, screen_text, until
from tuiphone.engine.events import LineState
from tuiphone.screen_updates import draw_when_changed
from tuiphone.screens.idle import IdleScreen
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


async def test_a_ringing_call_draws_the_whole_terminal_once_as_the_prompt_opens_and_once_as_it_closes(monkeypatch):
    """Textual repaints the screen it covers as it pushes another; the prompt's first frame draws that screen
    whole anyway (it is the prompt's background), so the idle screen skips it (PhoneScreen.refresh). It was
    three whole frames a call: the third went after the prompt's first, as the idle screen's own repaint.
    (Compositor.render_full_update is Textual's private part that draws the whole terminal.)"""
    app, phone = build()
    full = []
    draw_whole = Compositor.render_full_update
    monkeypatch.setattr(Compositor, "render_full_update", lambda self, *a, **k: full.append(1) or draw_whole(
        self, *a, **k))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(2):                           # the first call installs the prompt; the second is counted
            full.clear()
            phone.ring(1, "3005")
            await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
            await pilot.pause(0.1)
            opened = len(full)
            phone.set_state(1, LineState.ENDED)
            await until(pilot, lambda: isinstance(app.screen, IdleScreen))
            await pilot.pause(0.1)
        assert (opened, len(full) - opened) == (1, 1)
        assert not any(screen.covered for screen in app.screen_stack)


async def test_the_prompt_is_styled_once_and_a_theme_changed_while_it_waits_still_shows_on_the_next_call(monkeypatch):
    """Textual restyles every widget of a screen it pushes; the installed prompt keeps its styles between calls
    (IncomingCallScreen._on_screen_resume), and the app's CSS changing between calls restyles it anyway."""
    from textual.css.stylesheet import Stylesheet

    app, phone = build()
    styled: list[object] = []
    apply = Stylesheet.apply
    monkeypatch.setattr(Stylesheet, "apply", lambda self, node, *a, **k: styled.append(node) or apply(
        self, node, *a, **k))

    async def call() -> IncomingCallScreen:
        styled.clear()
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.pause(0.1)
        prompt = app.screen
        assert isinstance(prompt, IncomingCallScreen)
        phone.set_state(1, LineState.ENDED)
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        await pilot.pause(0.1)
        return prompt

    async with app.run_test(size=(80, 24)) as pilot:
        prompt = await call()                       # the first call mounts and styles it
        assert prompt in styled
        prompt = await call()
        assert prompt not in styled and not any(node in styled for node in prompt.walk_children())
        background = prompt.query_one("Vertical").styles.background
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause(0.1)
        assert (await call()).query_one("Vertical").styles.background != background


def _screen_lines_drawn(monkeypatch) -> list[str]:
    """The screens whose own lines (their background: every row of the terminal) are drawn, one entry a row."""
    from textual._styles_cache import StylesCache

    drawn: list[str] = []
    render_widget, render_line = StylesCache.render_widget, StylesCache.render_line
    owner: dict[int, object] = {}

    def widget(self, widget, crop):
        owner[id(self)] = widget
        return render_widget(self, widget, crop)

    def line(self, styles, y, *args, **kwargs):
        if isinstance(owner.get(id(self)), Screen):
            drawn.append(type(owner[id(self)]).__name__)
        return render_line(self, styles, y, *args, **kwargs)

    monkeypatch.setattr(StylesCache, "render_widget", widget)
    monkeypatch.setattr(StylesCache, "render_line", line)
    return drawn


async def test_a_ringing_call_repaints_the_whole_terminal_from_the_lines_each_screen_has(monkeypatch):
    """As the prompt opens and as it closes the terminal is painted whole (it showed the other screen), but
    neither screen draws its own background rows again: Screen.refresh would discard them, and drawing them was
    most of the cost of a ringing call's two whole frames (screen_updates.repaint_as_drawn)."""
    app, phone = build()
    drawn = _screen_lines_drawn(monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(2):                           # the first call installs and draws the prompt
            drawn.clear()
            phone.ring(1, "3005")
            await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
            await pilot.pause(0.1)
            phone.set_state(1, LineState.ENDED)
            await until(pilot, lambda: isinstance(app.screen, IdleScreen))
            await pilot.pause(0.1)
        # a row or two where a line key changed under the prompt (Textual repaints those rows of the top screen)
        assert drawn.count("IdleScreen") <= 2 and drawn.count("IncomingCallScreen") <= 2, drawn
        assert not any(getattr(screen, "uncovered", False) for screen in app.screen_stack)


async def test_a_theme_changed_while_the_prompt_is_up_shows_on_the_screen_it_uncovers():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        idle = app.screen_stack[0]
        before = idle.styles.background
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause(0.1)
        phone.set_state(1, LineState.ENDED)
        await until(pilot, lambda: app.screen is idle)
        await pilot.pause(0.1)
        assert idle.styles.background != before
        kept = [list(strip) for strip in idle._compositor.render_strips()]
        for node in idle.walk_children(with_self=True):      # every line drawn afresh
            node._set_dirty()
        assert kept == [list(strip) for strip in idle._compositor.render_strips()]


async def test_a_line_key_blinking_under_the_ringing_prompt_repaints_nothing_of_the_prompt(monkeypatch):
    """The prompt is opaque: what changes on the screen under it does not show, so it paints nothing
    (Textual counted that screen as showing through, and repainted the prompt's rows where it changed)."""
    from tuiphone.widgets.line_keys import LineKeys

    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        await pilot.pause(0.1)
        column = app.screen_stack[0].query_one(LineKeys)
        painted: list[object] = []
        display = type(app)._display
        monkeypatch.setattr(type(app), "_display", lambda self, screen, update: painted.append(update) or display(
            self, screen, update))
        for _ in range(4):
            column._blink()
            await pilot.pause(0.05)
        assert [update for update in painted if update is not None] == []
        phone.set_state(1, LineState.ENDED)
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        await pilot.pause(0.1)
        assert painted                    # the idle screen, uncovered, is painted


async def test_the_idle_screen_and_the_prompt_have_nothing_to_focus_so_they_skip_textuals_search_for_it():
    app, phone = build()
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring(1, "3005")
        await until(pilot, lambda: isinstance(app.screen, IncomingCallScreen))
        for screen in app.screen_stack:
            assert screen.AUTO_FOCUS == ""
            assert not [widget for widget in screen.walk_children() if widget.focusable]


def _styles_of(screen: Screen) -> dict:
    """Every widget's styles (its rules) and its component styles, by widget."""
    return {node: (node.styles.base.get_rules(),
                   {name: styles.base.get_rules() for name, styles in node._component_styles.items()})
            for node in screen.walk_children(with_self=True)}


async def test_the_idle_screen_is_styled_once_as_the_tui_starts_and_as_a_whole_restyle_would_style_it(monkeypatch):
    """Textual styles each widget as it mounts and the whole screen again at its first resume, a moment later;
    the idle screen (the first frame of every start) skips the second (screen_updates.styled_at_mount). What
    it skips would change nothing: a whole restyle afterwards gives every widget the same styles."""
    from textual.css.stylesheet import Stylesheet

    app, phone = build()
    styled: list[object] = []
    apply = Stylesheet.apply
    monkeypatch.setattr(Stylesheet, "apply", lambda self, node, *a, **k: styled.append(node) or apply(
        self, node, *a, **k))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, IdleScreen) and "1 Idle" in screen_text(app))
        screen = app.screen
        widgets = [node for node in styled if node in set(screen.walk_children(with_self=True))]
        twice = {node for node in widgets if widgets.count(node) > 1}
        assert len(widgets) < len(set(widgets)) * 1.5, twice
        assert screen not in twice and not any(type(node).__name__ == "LineKey" for node in twice), twice
        before = _styles_of(screen)
        screen.update_node_styles(animate=False)         # what Screen's first resume would have done
        assert _styles_of(screen) == before
