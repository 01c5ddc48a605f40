"""Pydantic's validation errors as the user's sentences: `key.path: what is wrong (got value)`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from inspect import isclass
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from tuiphone.config.problems import MAX_PROBLEMS_SHOWN, _key_path, _Problems, _shown, _unwrap
from tuiphone.config.schema import Config


def _field_at(loc: tuple[str | int, ...]) -> tuple[FieldInfo | None, Any]:
    """The field and the (unwrapped) type found at a key path of the Config schema."""
    model: Any = Config
    info: FieldInfo | None = None
    annotation: Any = Config
    for part in loc:
        if isinstance(part, int):
            if get_origin(annotation) is not list:
                return None, None
            annotation = _unwrap(get_args(annotation)[0])
        else:
            if model is None or part not in model.model_fields:
                return None, None
            info = model.model_fields[part]
            annotation = _unwrap(info.annotation)
        model = annotation if isclass(annotation) and issubclass(annotation, BaseModel) else None
    return info, annotation


def _choices(loc: tuple[str | int, ...], expected: str) -> str:
    _, annotation = _field_at(loc)
    if get_origin(annotation) is Literal:
        return ", ".join(str(choice) for choice in get_args(annotation))
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


def _bounds(loc: tuple[str | int, ...], ctx: dict[str, Any]) -> str:
    info, _ = _field_at(loc)
    low = ctx.get("ge")
    high = ctx.get("le")
    for item in info.metadata if info else []:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Le):
            high = item.le
    if low is not None and high is not None:
        return f"must be between {low} and {high}"
    return f"must be at least {low}" if low is not None else f"must be at most {high}"


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    _, owner = _field_at(loc[:-1])
    names = list(owner.model_fields) if isclass(owner) and issubclass(owner, BaseModel) else []
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a table (got {_shown(value)})"
    if kind == "too_short":
        return f"must not be empty (got {_shown(value)})"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} entries; at most {ctx.get('max_length')} are allowed"
    reasons: dict[str, Callable[[], str]] = {
        "literal_error": lambda: f"must be one of {_choices(loc, str(ctx.get('expected', '')))}",
        "int_type": lambda: "must be a whole number",
        "int_from_float": lambda: "must be a whole number",
        "bool_type": lambda: "must be true or false",
        "string_type": lambda: "must be text in quotes",
        "list_type": lambda: "must be a list, like [ ... ]",
        "value_error": lambda: str(ctx.get("error", error["msg"])),
    }
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        reason = _bounds(loc, ctx)
    else:
        reason = reasons.get(kind, lambda: str(error["msg"]))()
    return f"{reason} (got {_shown(value)})"


def validation_problems(err: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """One line per problem, `key.path: what is wrong (got value)`, for a schema ValidationError.

    `prefix` is the key path of the model that was validated, when it was not the whole Config.
    """
    lines: list[str] = []
    for error in err.errors(include_url=False):
        loc = prefix + tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            lines += [f"{_key_path(loc + sub)}: {message}" for sub, message in cause.problems]
        else:
            lines.append(f"{_key_path(loc)}: {_describe({**error, 'loc': loc})}")
    if len(lines) > MAX_PROBLEMS_SHOWN:
        hidden = len(lines) - MAX_PROBLEMS_SHOWN
        lines = lines[:MAX_PROBLEMS_SHOWN] + [f"... and {hidden} more problems"]
    return lines
