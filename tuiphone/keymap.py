"""The `[keymap]` table: which binding ids exist, and whether a key name is one a terminal can send.

Plain data and checks with no UI imports, so the config schema (which the engine loads too) can refuse
`[keymap] hodl = "H"` or `hold = "ctrl+"` with a sentence before the phone starts. The screens'
BINDINGS carry the same ids; a test keeps this list and them in step.
"""

from __future__ import annotations

import re
import unicodedata

# binding id -> what it does (the default key in brackets), for messages and the README
BINDING_IDS: dict[str, str] = {
    **{f"keypad-{d}": f"keypad {d} ({d})" for d in "0123456789"},
    "keypad-star": "keypad * (*)",
    "keypad-pound": "keypad # (#)",
    **{f"soft-key-{n}": f"soft key {n} (f{n})" for n in range(1, 5)},
    **{f"line-key-{n}": f"line / programmable key {n} (alt+{n % 10})" for n in range(1, 11)},
    "send": "send / OK (enter)",
    "end": "end the call / cancel dialing (escape)",
    "back": "back (escape)",
    "delete": "delete the last digit (backspace)",
    "menu": "menu (m)",
    "history": "call history (l)",
    "phonebook": "phonebook (p)",
    "hold": "hold / resume (h)",
    "transfer": "transfer (t)",
    "conference": "conference (c)",
    "mute": "mute (u)",
    "record": "record the call (r)",
    "dnd": "do not disturb (d)",
    "forward": "forward (f)",
    "voicemail": "voicemail (v)",
    "lock": "lock the phone (k)",
    "volume-up": "volume up (+)",
    "volume-down": "volume down (-)",
    "quit": "quit (q)",
    "command-palette": "command palette (ctrl+p)",
    "end-page": "end the page that is playing (e)",
    "previous-line": "previous line in a call (up)",
    "next-line": "next line in a call (down)",
    "next-account": "next account in the dialer (tab)",
    "answer": "answer a ringing call (enter)",
    "reject": "reject a ringing call (escape)",
    "unlock": "unlock (enter)",
    "lock-clear": "clear the typed unlock password (escape)",
    "confirm-yes": "yes in a question (enter)",
    "confirm-no": "no in a question (escape)",
    "prompt-cancel": "cancel a text question (escape)",
    "choice-cancel": "cancel a choice (escape)",
    "history-dial": "call back from the history (enter)",
    "history-next-filter": "next history filter (right,tab)",
    "history-previous-filter": "previous history filter (left,shift+tab)",
    "history-details": "call details (i)",
    "history-add": "add the caller to the phonebook (a)",
    "history-delete": "delete a history entry (delete)",
    "history-block": "block the caller (b)",
    "blocklist-remove": "remove a blocklist entry (delete)",
    "phonebook-up": "previous contact (up)",
    "phonebook-down": "next contact (down)",
    "phonebook-page-up": "contacts page up (pageup)",
    "phonebook-page-down": "contacts page down (pagedown)",
    "phonebook-next-group": "next phonebook group (tab)",
    "phonebook-previous-group": "previous phonebook group (shift+tab)",
    "trace-follow": "follow the SIP trace (end)",
    "trace-up": "previous dialog in the SIP trace (up)",
    "trace-down": "next dialog in the SIP trace (down)",
    "trace-next-method": "next method filter in the SIP trace (tab)",
    "trace-previous-method": "previous method filter in the SIP trace (shift+tab)",
    "audio-test-tone": "audio test: test tone (t)",
    "audio-loopback": "audio test: loopback (l)",
    "audio-echo-test": "audio test: echo test call (e)",
    "audio-use-input": "audio test: use the chosen microphone (i)",
    "audio-use-output": "audio test: use the chosen speaker (o)",
}

MODIFIERS = ("ctrl", "alt", "shift", "super", "meta", "hyper")
NAMED_KEYS = frozenset({
    "escape", "enter", "tab", "space", "backspace", "delete", "insert", "home", "end",
    "pageup", "pagedown", "up", "down", "left", "right", *(f"f{n}" for n in range(1, 25)),
})  # fmt: skip
# the short names Textual gives some characters instead of their Unicode names
SHORT_NAMES = frozenset({"plus", "minus", "slash", "backslash", "at", "underscore"})
_CHARACTER_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _is_key(name: str) -> bool:
    """One key without modifiers: a printable character, a named key, or a character's name (plus, number_sign)."""
    if len(name) == 1:
        return name.isprintable() and not name.isspace()
    if name in NAMED_KEYS or name in SHORT_NAMES:
        return True
    if not _CHARACTER_NAME.fullmatch(name):
        return False
    if name in _ASCII_NAMES:
        return True
    try:
        unicodedata.lookup(name.replace("_", " "))
    except KeyError:
        return False
    return True


def _key_name(char: str) -> str:
    """The name Textual gives a non-alphanumeric character: its Unicode name in snake case."""
    return unicodedata.name(char, char).lower().replace("-", "_").replace(" ", "_")


_ASCII_NAMES = frozenset(_key_name(chr(c)) for c in range(0x21, 0x7F) if not chr(c).isalnum())


# keys a terminal sends exactly like another one: a binding on them would fire for that key instead
SENT_AS = {"ctrl+m": "enter", "ctrl+i": "tab", "ctrl+[": "escape", "ctrl+left_square_bracket": "escape",
           "ctrl+left_square_brace": "escape"}
# keys Textual keeps for itself (quit, and the hint that ctrl+q quits)
RESERVED = {"ctrl+q": "quits tuiphone at once", "ctrl+c": "tells how to quit"}


def key_problem(keys: str) -> str:
    """"" when `keys` ("H", "ctrl+h", "f5,alt+h") are keys a terminal can send, else what is wrong."""
    if not keys.strip():
        return 'is empty: give a key like "H" or "ctrl+h", or leave the line out to keep the default'
    for key in keys.split(","):
        key = key.strip()
        *mods, base = key.split("+") if key != "+" else ["+"]
        if any(m not in MODIFIERS for m in mods) or not base:
            return (f"has {key!r}: modifiers are {', '.join(MODIFIERS)}, joined with + to a key, like ctrl+h "
                    "(write ctrl+plus for ctrl and +)")
        if not _is_key(base):
            return (f"has {key!r}, which is not a key name: use a character (H, +), a named key "
                    "(enter, escape, tab, space, f1-f24, up, pageup...) or a character's name (plus, number_sign)")
        if key.lower() in SENT_AS:
            return (f"has {key!r}, which a terminal sends exactly as {SENT_AS[key.lower()]}: "
                    "choose another key (an F key, a letter, or ctrl with another letter)")
        if normal_key(key) in RESERVED:
            return f"has {key!r}, which {RESERVED[normal_key(key)]}: choose another key"
    return ""


def normal_key(key: str) -> str:
    """The name Textual gives a key, so two spellings of one key compare equal: "+" and "plus", "shift+h"
    and "H", "*" and "asterisk"."""
    key = key.strip()
    *mods, base = key.split("+") if key != "+" and not key.endswith("++") else [*key[:-2].split("+"), "+"]
    mods = [m for m in mods if m]
    if len(base) == 1 and not base.isalnum():
        base = _TEXTUAL_NAMES.get(_key_name(base), _key_name(base))
    if mods == ["shift"] and len(base) == 1 and base.isalpha():
        return base.upper()
    return "+".join(sorted(set(mods)) + [base])


_TEXTUAL_NAMES = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at", "hyphen_minus": "minus",
                  "plus_sign": "plus", "low_line": "underscore"}


def default_keys(binding_id: str) -> list[str]:
    """The keys a binding id has when the config leaves it out (from BINDING_IDS: "hold / resume (h)")."""
    text = BINDING_IDS[binding_id]
    return [k.strip() for k in text[text.rindex("(") + 1:-1].split(",")]


# The binding ids that work at the same time on each screen (its own, the keys every phone screen has, and the
# app's); tests/tui/test_keymap.py keeps this in step with the screens' BINDINGS.
_PHONE = ("soft-key-1", "soft-key-2", "soft-key-3", "soft-key-4", "quit", "lock", "volume-up", "volume-down")
_KEYPAD = tuple(f"keypad-{k}" for k in (*"0123456789", "star", "pound"))
_MENU_DIGITS = tuple(f"keypad-{k}" for k in "0123456789")
_LINE_KEYS = tuple(f"line-key-{n}" for n in range(1, 11))
_APP = ("command-palette", "end-page")
_OVER_ALL = ("command-palette",)      # the app's one priority binding: it works over questions too
SCREENS: dict[str, tuple[str, ...]] = {
    "the idle screen": (*_PHONE, *_KEYPAD, *_LINE_KEYS, *_APP, "send", "menu", "dnd", "history", "phonebook",
                        "voicemail", "forward"),
    "the call screen": (*_PHONE, *_KEYPAD, *_LINE_KEYS, *_APP, "hold", "transfer", "mute", "conference", "record",
                        "end", "send", "delete", "previous-line", "next-line", "menu", "dnd", "forward"),
    "the dialer": (*_PHONE, *_KEYPAD, *_APP, "delete", "send", "end", "next-account"),
    "Direct IP Call": (*_PHONE, *_KEYPAD, *_APP, "delete", "send", "back"),
    "the menus": (*_PHONE, *_MENU_DIGITS, *_APP, "back"),
    "the blocklist": (*_PHONE, *_APP, "back", "blocklist-remove"),
    "call history": (*_PHONE, *_APP, "back", "history-dial", "history-next-filter", "history-previous-filter",
                     "history-details", "history-add", "history-delete", "history-block"),
    "call details": (*_PHONE, *_APP, "back", "history-dial"),
    "messages": (*_PHONE, *_APP, "back", "voicemail"),
    "the phonebook": (*_PHONE, *_APP, "back", "phonebook-up", "phonebook-down", "phonebook-page-up",
                      "phonebook-page-down", "phonebook-next-group", "phonebook-previous-group"),
    "the SIP trace": (*_PHONE, *_APP, "back", "trace-follow", "trace-up", "trace-down", "trace-next-method",
                      "trace-previous-method"),
    "the audio test": (*_PHONE, *_APP, "back", "audio-test-tone", "audio-loopback", "audio-echo-test",
                       "audio-use-input", "audio-use-output"),
    "the other screens": (*_PHONE, *_APP, "back"),
    "the lock screen": (*_KEYPAD, *_APP, "unlock", "soft-key-1", "delete", "lock-clear"),
    "the ringing prompt": (*_OVER_ALL, "soft-key-1", "soft-key-2", "soft-key-3", "soft-key-4", "answer", "reject",
                           "forward"),
    "yes/no questions": (*_OVER_ALL, "soft-key-1", "soft-key-4", "confirm-yes", "confirm-no"),
    "text questions": (*_OVER_ALL, "soft-key-1", "soft-key-4", "prompt-cancel"),
    "choices": (*_OVER_ALL, "soft-key-1", "soft-key-4", "choice-cancel", *(f"keypad-{n}" for n in "123456789")),
}


def keys_now(keymap: dict[str, str], binding_id: str) -> list[str]:
    """The keys of a binding id with `keymap` ([keymap] of the config) applied."""
    given = keymap.get(binding_id)
    return [k.strip() for k in given.split(",")] if isinstance(given, str) and given.strip() else \
        default_keys(binding_id)


def clash_problems(keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(binding id, sentence) for each key `keymap` gives to a binding id that another binding of the same
    screen has too (the phone would silently do only one of the two)."""
    problems: dict[str, str] = {}
    for screen, ids in SCREENS.items():
        owners: dict[str, list[str]] = {}
        for binding_id in ids:
            for key in keys_now(keymap, binding_id):
                owners.setdefault(normal_key(key), []).append(binding_id)
        for key, both in owners.items():
            mine = [b for b in both if b in keymap]
            if len(both) < 2 or not mine:
                continue      # the default keys of one screen never clash on purpose
            for binding_id in mine:
                others = [b for b in both if b != binding_id]
                what = BINDING_IDS[others[0]].rsplit(" (", 1)[0]
                problems.setdefault(binding_id, (f"{key!r} is also the key of {others[0]} ({what}) on {screen}: "
                                                 "give one of them another key"))
    return sorted(problems.items())


def id_problem(binding_id: str) -> str:
    """"" for a binding id the phone has, else a sentence naming the nearest ones."""
    if binding_id in BINDING_IDS:
        return ""
    import difflib

    near = difflib.get_close_matches(binding_id, BINDING_IDS, n=3)
    hint = f"did you mean {' or '.join(near)}?" if near else "the README lists every binding id"
    return f"is not a binding id: {hint}"


_SHOWN = {"escape": "Esc", "enter": "Enter", "tab": "Tab", "space": "Space", "backspace": "Backspace",
          "delete": "Del", "insert": "Ins", "home": "Home", "end": "End", "pageup": "PgUp", "pagedown": "PgDn",
          "up": "↑", "down": "↓", "left": "←", "right": "→"}
# an ASCII character's key name -> the character (minus -> -, number_sign -> #)
_CHARACTERS = {_TEXTUAL_NAMES.get(_key_name(chr(c)), _key_name(chr(c))): chr(c)
               for c in range(0x21, 0x7F) if not chr(c).isalnum()}


def key_label(key: str, names: dict[str, str] | None = None) -> str:
    """A key as the screen names it: "h", "H", "Esc", "F9", "Ctrl+P", "Alt+1", "+", "*"; `names` gives the
    current language's words for named keys (enter -> 回车)."""
    key = normal_key(key)
    *mods, base = key.split("+")
    if base in (names or {}):
        shown = (names or {})[base]
    elif base in _SHOWN:
        shown = _SHOWN[base]
    elif len(base) > 1 and base[0] == "f" and base[1:].isdigit():
        shown = base.upper()
    elif base in _CHARACTERS:
        shown = _CHARACTERS[base]
    elif len(base) > 1:
        try:
            shown = unicodedata.lookup(base.replace("_", " "))
        except KeyError:
            shown = base
    else:
        shown = base.upper() if mods and base.isalpha() else base
    return "".join(f"{m.capitalize()}+" for m in mods) + shown
