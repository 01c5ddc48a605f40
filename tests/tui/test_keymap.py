"""[keymap]: every binding id can be given other keys in the config; unknown ids and key names are refused."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from textual.binding import Binding
from textual.dom import DOMNode

import tuiphone.app
import tuiphone.screens
from tests.tui.conftest import ACCOUNTS, build, until
from tuiphone.config import ConfigError, parse_config_text, render_config
from tuiphone.engine.events import LineState
from tuiphone.keymap import BINDING_IDS
from tuiphone.screens.call import CallScreen
from tuiphone.screens.menu import MenuScreen


def binding_ids_in_the_code() -> set[str]:
    """Every binding id the app and its screens declare."""
    modules = [importlib.import_module(f"tuiphone.screens.{m.name}")
               for m in pkgutil.iter_modules(tuiphone.screens.__path__)]
    found: set[str] = set()
    for module in [*modules, tuiphone.app]:
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, DOMNode) and cls.__module__.startswith("tuiphone"):
                for klass in cls.__mro__:
                    found |= {b.id for b in vars(klass).get("BINDINGS", []) if isinstance(b, Binding) and b.id}
    return found


def test_every_binding_id_in_the_screens_can_be_remapped():
    assert sorted(binding_ids_in_the_code() - set(BINDING_IDS)) == []


def test_keymap_is_read_and_written_back_as_it_was():
    config = parse_config_text(ACCOUNTS + '[keymap]\nhold = "H"\nvolume-up = "plus,="\n')
    assert config.keymap.model_extra == {"hold": "H", "volume-up": "plus,="}
    again = parse_config_text(render_config(config))
    assert again.keymap.model_extra == {"hold": "H", "volume-up": "plus,="}


@pytest.mark.parametrize(("table", "said"), [
    ('hodl = "H"', 'keymap.hodl: is not a binding id: did you mean hold?'),
    ('hold = "ctl+h"', "keymap.hold: has 'ctl+h': modifiers are ctrl, alt, shift"),
    ('hold = "enterr"', "keymap.hold: has 'enterr', which is not a key name"),
    ('hold = ""', "keymap.hold: is empty"),
    ("hold = 3", 'keymap.hold: must be keys in quotes, like "H" (got 3)'),
])
def test_bad_keymap_entries_are_refused_with_a_sentence(table, said):
    with pytest.raises(ConfigError) as caught:
        parse_config_text(f"[keymap]\n{table}\n", "c.toml")
    assert f"c.toml: {said}" in str(caught.value)


async def test_remapped_hold_key_holds_the_call_and_the_old_key_does_not():
    app, phone = build(ACCOUNTS + '[keymap]\nhold = "H"\nmenu = "f9"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        app.place_call("200", 0)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        phone.set_state(1, LineState.TALKING)
        await pilot.press("h")
        await pilot.pause()
        assert ("hold", 1) not in phone.commands
        await pilot.press("H")
        await until(pilot, lambda: ("hold", 1) in phone.commands)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, MenuScreen))
