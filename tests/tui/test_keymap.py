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
from tests.tui.conftest import ACCOUNTS, build, screen_text, until
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


def screen_classes() -> dict[str, tuple[set[str], bool]]:
    """Each screen class -> (the binding ids that work on it, whether it is a question over the others)."""
    from textual.command import CommandPalette
    from textual.screen import ModalScreen, Screen

    from tuiphone.screens.base import PhoneScreen, StateScreen

    app_ids = {b.id for b in tuiphone.app.PhoneApp.BINDINGS if b.id}
    priority_ids = {b.id for b in tuiphone.app.PhoneApp.BINDINGS if b.id and b.priority}
    found = {}
    for m in pkgutil.iter_modules(tuiphone.screens.__path__):
        module = importlib.import_module(f"tuiphone.screens.{m.name}")
        for cls in vars(module).values():
            if (inspect.isclass(cls) and issubclass(cls, Screen) and cls.__module__ == module.__name__
                    and cls not in (PhoneScreen, StateScreen) and not issubclass(cls, CommandPalette)):
                ids = {b.id for klass in cls.__mro__ for b in vars(klass).get("BINDINGS", [])
                       if isinstance(b, Binding) and b.id}
                modal = issubclass(cls, ModalScreen)
                found[cls.__name__] = (ids | (priority_ids if modal else app_ids), modal)
    return found


def test_the_keymap_knows_which_bindings_share_each_screen():
    from tuiphone.keymap import SCREENS

    in_code = {frozenset(ids) for ids, _ in screen_classes().values()}
    in_table = {frozenset(ids) for ids in SCREENS.values()}
    assert in_code == in_table


def test_the_default_keys_the_keymap_knows_are_the_screens_keys():
    from tuiphone.keymap import default_keys, normal_key

    for module in [*(importlib.import_module(f"tuiphone.screens.{m.name}")
                     for m in pkgutil.iter_modules(tuiphone.screens.__path__)), tuiphone.app]:
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, DOMNode):
                for b in vars(cls).get("BINDINGS", []):
                    if isinstance(b, Binding) and b.id:
                        code = [normal_key(k) for k in b.key.split(",")]
                        known = [normal_key(k) for k in default_keys(b.id)]
                        assert known[0] == code[0] and set(known) <= set(code), (cls.__name__, b.id, b.key)


@pytest.mark.parametrize(("table", "said"), [
    ('hold = "d"', "keymap.hold: 'd' is also the key of dnd (do not disturb) on the call screen: "
                   "give one of them another key"),
    ('dnd = "h"', "keymap.dnd: 'h' is also the key of hold"),
    ('menu = "ctrl+m"', "keymap.menu: has 'ctrl+m', which a terminal sends exactly as enter"),
    ('send = "ctrl+i"', "keymap.send: has 'ctrl+i', which a terminal sends exactly as tab"),
    ('back = "ctrl+["', "keymap.back: has 'ctrl+[', which a terminal sends exactly as escape"),
    ('lock = "ctrl+q"', "keymap.lock: has 'ctrl+q', which quits tuiphone at once"),
    ('hold = "m"\nmenu = "f9"\nhistory = "L"\nphonebook = "l"\nvoicemail = "f9"',
     "keymap.menu: 'f9' is also the key of voicemail"),
])
def test_a_key_given_twice_on_one_screen_or_one_a_terminal_cannot_send_is_refused(table, said):
    with pytest.raises(ConfigError) as caught:
        parse_config_text(f"[keymap]\n{table}\n", "c.toml")
    assert f"c.toml: {said}" in str(caught.value)


def test_keys_moved_out_of_each_others_way_are_accepted():
    config = parse_config_text('[keymap]\nhold = "d"\ndnd = "D"\nvolume-up = "plus,="\nsoft-key-1 = "f5"\n')
    assert config.keymap.model_extra["hold"] == "d"


def test_the_readme_keymap_example_is_a_valid_keymap():
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[keymap\].*?)```", readme, re.S).group(1)
    config = parse_config_text(block)
    assert "ctrl+m" not in block and config.keymap.model_extra


def test_the_phone_refuses_a_clashing_keymap_at_start_with_exit_2(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "c.toml"
    path.write_text('[keymap]\nhold = "d"\n')
    for argv in (["config", "check", str(path)], ["--config", str(path), "--data-dir", str(tmp_path), "--port", "0"]):
        head = argv if argv[0] == "--config" else []
        proc = subprocess.run([sys.executable, "-m", "tuiphone", *head, *([] if head else argv)],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode == 2, proc
        assert "keymap.hold: 'd' is also the key of dnd" in proc.stderr and "Traceback" not in proc.stderr


async def test_hints_palette_and_soft_keys_name_the_keys_of_the_keymap():
    app, phone = build(ACCOUNTS + '[keymap]\nhold = "H"\nmenu = "f9"\nsoft-key-1 = "f5"\nsend = "ctrl+j"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        text = screen_text(app)
        assert "ctrl+j" not in text and "Ctrl+J: off hook · F9: menu" in text
        app.place_call("200", 0)
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        phone.set_state(1, LineState.TALKING)
        await until(pilot, lambda: "F5 Hold" in screen_text(app))
        assert "H hold · t transfer" in screen_text(app) and "h hold" not in screen_text(app)
        await pilot.press("ctrl+p", *"hold")
        await until(pilot, lambda: "H on the call screen" in screen_text(app))
        assert "h on the call screen" not in screen_text(app)


def test_every_key_named_in_the_string_tables_is_a_binding_id():
    import re

    from tuiphone import i18n

    for code in i18n.LANGUAGES:
        for key, text in i18n.table(code).items():
            for field in re.findall(r"\{(key_[a-z0-9_]+)\}", text):
                assert field == "key_line_keys" or field[4:].replace("_", "-") in BINDING_IDS, (code, key, field)
