"""Star codes the phone handles itself when an account's `local_call_features` is on (seed 2.9, 3.1–3.16)."""

from __future__ import annotations

from dataclasses import dataclass

# code -> (feature name, takes an argument)
CODES: dict[str, tuple[str, bool]] = {
    "*72": ("forward_always_on", True),
    "*73": ("forward_always_off", False),
    "*90": ("forward_busy_on", True),
    "*91": ("forward_busy_off", False),
    "*92": ("forward_no_answer_on", True),
    "*93": ("forward_no_answer_off", False),
    "*78": ("dnd_on", False),
    "*79": ("dnd_off", False),
    "*50": ("call_waiting_off", False),
    "*51": ("call_waiting_on", False),
    "*30": ("anonymous_on", False),
    "*31": ("anonymous_off", False),
    "*67": ("anonymous_once", True),
    "*40": ("block", True),
    "*41": ("unblock", True),
}


@dataclass(frozen=True)
class FeatureCode:
    name: str
    code: str
    argument: str = ""


class FeatureCodeError(ValueError):
    """A feature code typed without what it needs; the message says what to type."""


def parse_feature_code(dialed: str) -> FeatureCode | None:
    """'*72100' -> FeatureCode('forward_always_on', '*72', '100'); None when it is not a feature code.

    A '*' or '#' between code and argument is accepted ('*72*100', '*72#100').
    """
    text = dialed.strip()
    if not text.startswith("*") or len(text) < 3:
        return None
    code = text[:3]
    if code not in CODES:
        return None
    name, takes_arg = CODES[code]
    arg = text[3:].strip().lstrip("*#").strip()
    if takes_arg and not arg:
        raise FeatureCodeError(f"{code} needs a number after it, like {code}100.")
    if not takes_arg and arg:
        return None    # e.g. *7812 is not *78: dial it as typed
    return FeatureCode(name, code, arg)
