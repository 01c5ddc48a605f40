"""What tuiphone/textual_tuning.py takes off Textual's frames and callbacks, and that what is drawn stays right."""

from __future__ import annotations

from functools import partial

import textual._callback as callback_module
from textual.app import App, ComposeResult
from textual.containers import Container
from textual.widgets import Static

from tuiphone.textual_tuning import tune_textual


class Panel(App[None]):
    CSS = """
    Container { background: #102030; }
    Container.alert { background: #a01010; }
    Static { height: 3; }
    """

    def compose(self) -> ComposeResult:
        with Container():
            yield Static("first words", id="words")


def background_at(app: App, x: int, y: int):
    strip = app.screen._compositor.render_strips()[y]
    offset = 0
    for segment in strip:
        if offset + segment.cell_length > x:
            return segment.style.bgcolor
        offset += segment.cell_length
    raise AssertionError("no cell there")


def render_calls(monkeypatch) -> list:
    """Every time a StylesCache renders a widget's lines (cached or not) beneath the kept strips."""
    from textual._styles_cache import StylesCache

    seen: list = []
    original = StylesCache.render

    def counted(self, *args, **kwargs):
        seen.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StylesCache, "render", counted)
    return seen


async def test_a_widget_painted_again_unchanged_gives_the_strips_it_drew(monkeypatch):
    tune_textual()
    app = Panel()
    async with app.run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        words = app.query_one("#words", Static)
        seen = render_calls(monkeypatch)
        app.screen.refresh()            # the whole screen painted again: nothing in it changed
        await pilot.pause()
        await pilot.pause()
        assert words._styles_cache not in seen, "the unchanged widget was rendered again"
        assert "first words" in "\n".join(s.text for s in app.screen._compositor.render_strips())


async def test_a_widget_that_changes_is_drawn_anew():
    tune_textual()
    app = Panel()
    async with app.run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        app.query_one("#words", Static).update("second words")
        await pilot.pause()
        text = "\n".join(s.text for s in app.screen._compositor.render_strips())
        assert "second words" in text and "first words" not in text


async def test_a_parent_restyled_paints_its_child_in_the_new_background():
    tune_textual()
    app = Panel()
    async with app.run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        before = background_at(app, 2, 1)
        app.query_one(Container).add_class("alert")
        await pilot.pause()
        await pilot.pause()
        after = background_at(app, 2, 1)
        assert before is not None and after is not None and before != after
        assert after.triplet == (0xa0, 0x10, 0x10), after


def test_a_partial_is_counted_from_its_function_once(monkeypatch):
    tune_textual()
    counted: list = []
    original = callback_module._count_parameters
    monkeypatch.setattr(callback_module, "_count_parameters", lambda f: counted.append(f) or original(f))

    def subscriber(app, data):
        return data

    class Node:
        def changed(self, line: int) -> int:
            return line

    count = callback_module.count_parameters
    assert [count(partial(subscriber, "app")) for _ in range(3)] == [1, 1, 1]
    assert counted == [subscriber], counted          # the signature once, not once per partial
    node = Node()
    assert count(partial(node.changed, 2)) == 0 and count(partial(node.changed)) == 1
    assert count(partial(setattr, node, "uncovered")) == 1      # a builtin: counted as Textual counts it


def test_a_function_in_a_partial_both_plain_and_bound_is_counted_right_both_ways():
    tune_textual()

    class Line:
        def show(self, number):
            return number

    line, count = Line(), callback_module.count_parameters
    assert count(partial(Line.show, line, 1)) == 0        # the plain function: self and number given
    assert count(partial(line.show)) == 1                 # bound: number still to come
    assert count(line.show) == 1                          # and Textual's own count of the bound method


def test_the_parts_of_textual_it_relies_on_are_there():
    from textual._styles_cache import StylesCache

    cache = StylesCache()
    assert isinstance(cache._dirty_lines, set) and hasattr(cache, "__dict__")
    assert callable(callback_module.count_parameters) and callable(callback_module._count_parameters)
    assert "count_parameters(callback)" in __import__("inspect").getsource(callback_module._invoke)
