"""Saving a changed config into the user's own file: only the keys that changed are rewritten.

`edit_config_text(text, new)` takes the file as it is on disk and the config the phone wants saved, and
returns the file with just the differing keys changed (tomlkit keeps comments, order and formatting).
A key the file leaves out is added only when its new value is not the default, with the schema's
one-line description as its comment. Arrays of tables (`[[accounts]]`, `[[keys]]`...) are edited entry
by entry: an entry added is appended (or inserted where it belongs), one deleted is removed, the others
keep their text. The result is checked to load back as exactly `new`; when it would not (a layout this
module cannot edit), `None` tells the caller to write the whole file afresh instead.

`rotate_backups(path)` keeps the last saves as `config.toml.bak.1` (newest) ... `.bak.5`.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from contextlib import suppress
from pathlib import Path
from typing import Any, get_args

import tomlkit
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined
from tomlkit.items import AoT, Table

from tuiphone.config.problems import _unwrap
from tuiphone.config.render import _kind as _schema_kind

BACKUPS_KEPT = 5


class _CannotEdit(Exception):
    """The file's layout is one this module does not edit in place (the caller rewrites the file)."""


def backup_paths(path: Path, count: int = BACKUPS_KEPT) -> list[Path]:
    """`config.toml` -> [config.toml.bak.1, ..., config.toml.bak.<count>], newest first."""
    return [path.with_name(f"{path.name}.bak.{n}") for n in range(1, count + 1)]


def rotate_backups(path: Path, count: int = BACKUPS_KEPT) -> Path:
    """Shift the numbered backups up by one (the oldest is dropped) and return the path for the newest."""
    backups = backup_paths(path, count)
    with suppress(FileNotFoundError):
        os.unlink(backups[-1])
    for older, newer in zip(reversed(backups[1:]), reversed(backups[:-1]), strict=False):
        with suppress(FileNotFoundError):
            os.replace(newer, older)
    return backups[0]


def edit_config_text(text: str, new: BaseModel) -> str | None:
    """`text` (the config file now) changed to hold `new`, touching only what differs; None if it cannot be."""
    model = type(new)
    try:
        old = model.model_validate(tomllib.loads(text))
        doc = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, ValidationError, tomlkit.exceptions.TOMLKitError):
        return None     # the file was broken since it was loaded: nothing to keep
    try:
        _merge(doc, old, new)
        edited = doc.as_string()
        if model.model_validate(tomllib.loads(edited)).model_dump() != new.model_dump():
            return None
    except (_CannotEdit, tomllib.TOMLDecodeError, ValidationError, tomlkit.exceptions.TOMLKitError,
            TypeError, ValueError, KeyError, AttributeError):
        return None
    return edited


# ---------------------------------------------------------------- walking the models


def _kind(model: type[BaseModel], name: str) -> tuple[str, Any]:
    """("table", Model) for a sub-table, ("array", ItemModel) for an array of tables, else ("value", None)."""
    info = model.model_fields[name]
    kind = _schema_kind(info.annotation)
    if kind == "table":
        return kind, _unwrap(info.annotation)
    if kind == "array":
        return kind, _unwrap(get_args(_unwrap(info.annotation))[0])
    return kind, None


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    return value


def _default(model: type[BaseModel], name: str) -> Any:
    value = model.model_fields[name].get_default(call_default_factory=True)
    return None if value is PydanticUndefined else _plain(value)


def _merge(container: Any, old: BaseModel, new: BaseModel) -> None:
    """Make the TOML table `container` (which loads as `old`) load as `new`."""
    model = type(new)
    for name in model.model_fields:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        kind, _ = _kind(model, name)
        if kind == "table":
            if name not in container:
                container[name] = _new_table(after)
            else:
                _merge(_table(container[name]), before, after)
        elif kind == "array":
            _merge_array(container, name, before, after)
        else:
            _set(container, name, after, model.model_fields[name].description)
    _merge_extra(container, old.model_extra or {}, new.model_extra or {})


def _merge_extra(container: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    """A free-form table ([keymap]): keys set, changed or removed as in `after`."""
    for name in before.keys() - after.keys():
        del container[name]
    for name, value in after.items():
        if before.get(name) != value:
            container[name] = value


def _table(item: Any) -> Any:
    if not hasattr(item, "keys") or isinstance(item, AoT):
        raise _CannotEdit(f"not a table: {type(item).__name__}")
    return item


def _set(container: Any, name: str, value: Any, comment: str | None) -> None:
    if name in container:
        container[name] = value        # tomlkit keeps the line's indent and trailing comment
        return
    item = tomlkit.item(value)
    if comment:
        item.comment(comment)
    container[name] = item


def _new_table(model: BaseModel) -> Table:
    """A table with the keys of `model` that are not their default (and those that have no default)."""
    table = tomlkit.table()
    cls = type(model)
    for name, info in cls.model_fields.items():
        value = getattr(model, name)
        kind, _ = _kind(cls, name)
        if _plain(value) == _default(cls, name):
            continue
        if kind == "table":
            table[name] = _new_table(value)
        elif kind == "array":
            array = tomlkit.aot()
            for entry in value:
                array.append(_new_table(entry))
            table[name] = array
        else:
            _set(table, name, value, info.description)
    for name, value in (model.model_extra or {}).items():
        table[name] = value
    return table


def _merge_array(container: Any, name: str, before: list[BaseModel], after: list[BaseModel]) -> None:
    """Edit an array of tables entry by entry: kept entries keep their text, new ones are added."""
    if name not in container:
        array = tomlkit.aot()
        for entry in after:
            array.append(_new_table(entry))
        container[name] = array
        return
    array = container[name]
    if not isinstance(array, AoT):
        raise _CannotEdit(f"{name} is not written as [[{name}]] blocks")
    if len(array) != len(before):
        raise _CannotEdit(f"{name} has entries the file does not show as blocks")
    keys = [[json.dumps(_plain(e), sort_keys=True, default=str) for e in side] for side in (before, after)]
    opcodes = difflib.SequenceMatcher(None, keys[0], keys[1], autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(opcodes):      # from the end, so earlier indexes stay valid
        if tag == "equal":
            continue
        pairs = _pair_by_likeness(before[i1:i2], after[j1:j2])
        # walk the block from its end: inserts and deletes then never move what is still to be done
        old_at, new_at = i2, j2
        for pair_old, pair_new in reversed([(i1 - 1, j1 - 1), *((i1 + a, j1 + b) for a, b in pairs)]):
            for index in reversed(range(pair_old + 1, old_at)):
                _delete_entry(array, index)
            for entry in reversed(after[pair_new + 1:new_at]):
                _insert_entry(array, pair_old + 1, entry)
            if pair_old >= i1:
                _merge(_table(array[pair_old]), before[pair_old], after[pair_new])
            old_at, new_at = pair_old, pair_new


def _likeness(a: BaseModel, b: BaseModel) -> float:
    names = type(a).model_fields
    return sum(bool(getattr(a, n) == getattr(b, n)) for n in names) / max(1, len(names))


def _pair_by_likeness(old: list[BaseModel], new: list[BaseModel]) -> list[tuple[int, int]]:
    """Which changed entries are the same entry edited (in order): the pairing with the most fields alike."""
    best: dict[tuple[int, int], tuple[float, list[tuple[int, int]]]] = {}

    def solve(i: int, j: int) -> tuple[float, list[tuple[int, int]]]:
        if i == len(old) or j == len(new):
            return 0.0, []
        if (i, j) not in best:
            skip_old, skip_new = solve(i + 1, j), solve(i, j + 1)
            choice = max(skip_old, skip_new, key=lambda c: c[0])
            like = _likeness(old[i], new[j])
            if like >= 0.5:
                rest = solve(i + 1, j + 1)
                if rest[0] + like > choice[0]:
                    choice = (rest[0] + like, [(i, j), *rest[1]])
            best[i, j] = choice
        return best[i, j]

    return solve(0, 0)[1]


def _trailing(table: Table) -> list[Any]:
    """The comments and blank lines after a block's last key (they introduce the next block)."""
    body = table.value.body
    end = len(body)
    while end and body[end - 1][0] is None:
        end -= 1
    return body[end:]


def _delete_entry(array: AoT, index: int) -> None:
    """Remove a block; the comments that introduced the block after it stay in front of that block."""
    keep = list(_trailing(array[index]))
    if index > 0:
        previous = array[index - 1].value.body
        del previous[len(previous) - len(_trailing(array[index - 1])):]
        previous.extend(keep)
    del array[index]


def _insert_entry(array: AoT, at: int, entry: BaseModel) -> None:
    table = _new_table(entry)
    if at == len(array):
        _separate(array)
        array.append(table)
    else:       # the comments in front of the block now at `at` move down with it
        moved = _trailing(array[at - 1]) if at > 0 else []
        if moved:
            previous = array[at - 1].value.body
            del previous[len(previous) - len(moved):]
            previous.append((None, tomlkit.nl()))
            table.value.body.extend(moved)
        else:
            table.add(tomlkit.nl())
        array.insert(at, table)


def _separate(array: AoT) -> None:
    """A blank line between the last block and one appended after it."""
    if len(array):
        last = array[len(array) - 1]
        text = last.as_string()
        if not text.endswith("\n\n"):
            last.add(tomlkit.nl())
