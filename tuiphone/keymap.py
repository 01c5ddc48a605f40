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
    "escape", "enter", "return", "tab", "space", "backspace", "delete", "insert", "home", "end",
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
    return ""


def id_problem(binding_id: str) -> str:
    """"" for a binding id the phone has, else a sentence naming the nearest ones."""
    if binding_id in BINDING_IDS:
        return ""
    import difflib

    near = difflib.get_close_matches(binding_id, BINDING_IDS, n=3)
    hint = f"did you mean {' or '.join(near)}?" if near else "the README lists every binding id"
    return f"is not a binding id: {hint}"
