"""Config problems: ConfigError (what the user reads), cross-field problems found by the schema, key paths.

Key paths use 0-based list indexes in file order: `accounts[0]` is the first `[[accounts]]` block.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, get_args, get_origin

import tomli_w

MAX_PROBLEMS_SHOWN = 30


class ConfigError(Exception):
    """A config that cannot be used. `str()` is the message for the user, one line per problem."""

    def __init__(self, source: str, problems: list[str], line: int | None = None) -> None:
        self.source = source
        self.problems = problems
        self.line = line  # of a TOML syntax error, when known
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


class _Problems(ValueError):
    """Cross-field problems found by a model validator, each at a key path below that model."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_key_path(loc)}: {message}" for loc, message in problems))


def _raise_problems(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    if problems:
        raise _Problems(problems)


def _key_path(loc: tuple[str | int, ...]) -> str:
    """('accounts', 1, 'srtp') -> 'accounts[1].srtp' (quoting keys that are not bare TOML keys)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else tomli_w.dumps({"k": part})[4:].strip()
            text += f".{name}" if text else name
    return text


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _shown(value: Any) -> str:
    """A value as the user wrote it, briefly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        text = "[" + ", ".join(_shown(item) for item in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
