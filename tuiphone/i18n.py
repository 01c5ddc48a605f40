"""Every string the UI shows, in English and 简体中文, switched at run time.

Tables live in `tuiphone/locale/<code>.json` as flat `{"key": "text"}` maps; texts use
`str.format` fields (`{line}`). A key missing from a table falls back to English and then to the
key itself, so a gap shows up on screen instead of crashing the phone.

A field `{key_<binding id>}` (`{key_hold}`, `{key_soft_key_1}`) is the key that binding has now, with the
config's [keymap] applied (`use_keymap`), so every hint names the key that really does the job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from tuiphone.keymap import BINDING_IDS, key_label, keys_now

LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"
_LOCALE_DIR = Path(__file__).with_name("locale")
_current = DEFAULT_LANGUAGE
_keymap: dict[str, str] = {}
_KEY_FIELD = re.compile(r"\{(key_[a-z0-9_]+)\}")
KEY_NAMES = ("enter", "escape", "backspace", "delete", "tab", "space")    # named keys each language words itself


@cache
def table(code: str) -> dict[str, str]:
    """The string table of one language (read once)."""
    with open(_LOCALE_DIR / f"{code}.json", encoding="utf-8") as f:
        return json.load(f)


def set_language(code: str) -> None:
    """Switch every later `t()` to `code`; raises ValueError for a language we have no table for."""
    global _current
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}: choose one of {', '.join(LANGUAGES)}")
    table(code)
    _current = code


def language() -> str:
    """The language `t()` uses now."""
    return _current


def use_keymap(keymap: Mapping[str, str]) -> None:
    """The [keymap] the phone runs with (binding id -> keys); ids left out keep their default keys."""
    global _keymap
    _keymap = {k: v for k, v in keymap.items() if isinstance(v, str)}


def key_name(binding_id: str) -> str:
    """The key that does `binding_id` now, as the screen names it in the current language ("H", "回车", "F9")."""
    names = {name: t(f"keyname.{name}") for name in KEY_NAMES}
    return key_label(keys_now(_keymap, binding_id)[0], names)


def _line_keys() -> str:
    """Alt+N while the line keys have their own keys, else the first ones as they are now."""
    ids = [f"line-key-{n}" for n in range(1, 11)]
    if not any(i in _keymap for i in ids):
        return "Alt+N"
    return "/".join(key_name(i) for i in ids[:3]) + "…"


def _key_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for field in _KEY_FIELD.findall(text):
        binding_id = field[4:].replace("_", "-")
        if field == "key_line_keys":
            fields[field] = _line_keys()
        elif binding_id in BINDING_IDS:
            fields[field] = key_name(binding_id)
    return fields


def t(key: str, **fields: object) -> str:
    """The text for `key` in the current language, with `fields` (and the keys it names) filled in."""
    text = table(_current).get(key) or table(DEFAULT_LANGUAGE).get(key) or key
    if "{key_" in text:
        fields = {**_key_fields(text), **fields}
    return text.format(**fields) if fields else text
