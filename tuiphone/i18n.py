"""Every string the UI shows, in English and 简体中文, switched at run time.

Tables live in `tuiphone/locale/<code>.json` as flat `{"key": "text"}` maps; texts use
`str.format` fields (`{line}`). A key missing from a table falls back to English and then to the
key itself, so a gap shows up on screen instead of crashing the phone.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"
_LOCALE_DIR = Path(__file__).with_name("locale")
_current = DEFAULT_LANGUAGE


@lru_cache(maxsize=None)
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


def t(key: str, **fields: object) -> str:
    """The text for `key` in the current language, with `fields` filled in."""
    text = table(_current).get(key) or table(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**fields) if fields else text
