"""Rendering a config as commented TOML: every key with its comment, empty lists as examples to copy."""

from __future__ import annotations

from inspect import isclass
from typing import Any, get_args, get_origin

import tomli_w
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tuiphone.config.problems import _key_path, _unwrap
from tuiphone.config.schema import (
    AccountConfig,
    Config,
    FeaturesConfig,
    KeyConfig,
    PagingConfig,
    PagingListen,
    RingRule,
)

HEADER = """\
# tuiphone configuration (TOML). Every key is listed with a one-line comment;
# "(default ...)" marks values that differ from the default.
# Check this file with: tuiphone config check
# In error messages list entries count from 0: accounts[0] is the first [[accounts]] block."""

EXAMPLE_HEADER = """\
# tuiphone example configuration: every key, its default and what it does.
# Copy it to ~/.config/tuiphone/config.toml (or pass --config) and edit.
# Generated from tuiphone/config/: python -m tuiphone.config > config.toml.example
# In error messages list entries count from 0: accounts[0] is the first [[accounts]] block."""

_COMMENT_COLUMN = 34


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value})[4:].rstrip("\n")


def _kind(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    if isclass(annotation) and issubclass(annotation, BaseModel):
        return "table"
    if get_origin(annotation) is list:
        item = _unwrap(get_args(annotation)[0])
        if isclass(item) and issubclass(item, BaseModel):
            return "array"
    return "value"


def _key_line(name: str, value: Any, info: FieldInfo) -> str:
    comment = info.description or ""
    default = info.get_default(call_default_factory=True)
    if default is not PydanticUndefined and value != default:
        comment += f" (default {_toml_value(default)})"
    line = f"{name} = {_toml_value(value)}"
    return f"{line.ljust(_COMMENT_COLUMN - 2)}  # {comment}" if comment else line


def _first_doc_line(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().splitlines()[0]


def _render(
    model: BaseModel, path: tuple[str, ...], out: list[str], *, array: bool = False, doc: bool = True
) -> None:
    fields = type(model).model_fields
    if path:
        out.append("")
        if doc:
            out.append(f"# {_first_doc_line(type(model))}")
        out.append(f"[[{'.'.join(path)}]]" if array else f"[{'.'.join(path)}]")
    nested: list[str] = []
    for name, info in fields.items():
        if _kind(info.annotation) == "value":
            out.append(_key_line(name, getattr(model, name), info))
        else:
            nested.append(name)
    # a free-form table ([keymap]) keeps what the user wrote
    out += [f"{_key_path((name,))} = {_toml_value(value)}" for name, value in (model.model_extra or {}).items()]
    for name in nested:
        value = getattr(model, name)
        if _kind(fields[name].annotation) == "table":
            _render(value, (*path, name), out)
        elif value:
            for index, item in enumerate(value):
                _render(item, (*path, name), out, array=True, doc=index == 0)
        else:
            _render_template(_unwrap(get_args(_unwrap(fields[name].annotation))[0]), (*path, name), out)


def _render_template(model: type[BaseModel], path: tuple[str, ...], out: list[str]) -> None:
    """An empty array of tables: a commented-out example block the user can copy."""
    block: list[str] = []
    _render(_TEMPLATES[model](), path, block, array=True, doc=False)
    out += ["", f"# {_first_doc_line(model)}"]
    out += ["# None yet. To add one, copy this block and remove the leading '# ':"]
    out += ["# " + line for line in block[1:]]


_TEMPLATES: dict[type[BaseModel], Any] = {
    AccountConfig: lambda: AccountConfig(name="Office", sip_server="pbx.example.com", user_id="1001"),
    RingRule: lambda: RingRule(match="1617x+", ringtone="ring2"),
    PagingListen: lambda: PagingListen(address="224.1.1.1:4009", label="All staff"),
    KeyConfig: lambda: KeyConfig(mode="speed_dial", account=1, label="Reception", value="200"),
}


def render_config(cfg: Config, header: str = HEADER) -> str:
    """`cfg` as commented TOML: every key with its comment; empty lists as commented-out examples."""
    out = [header] if header else []
    _render(cfg, (), out)
    return "\n".join(out).lstrip("\n") + "\n"


def default_config_text() -> str:
    """The file written on first run: every default, commented, with no accounts."""
    return render_config(Config())


def example_config() -> Config:
    """The config of `config.toml.example`: 3 accounts like the GXP1760W, one of each list entry."""
    spare: dict[str, Any] = {"enabled": False, "register": True}
    return Config(
        accounts=[
            AccountConfig(
                name="Office", sip_server="pbx.example.com", user_id="1001", display_name="Reception desk"
            ),
            AccountConfig(name="Account 2", **spare),
            AccountConfig(name="Account 3", **spare),
        ],
        features=FeaturesConfig(ring_rules=[RingRule(match="1617x+", ringtone="ring2")]),
        paging=PagingConfig(listen=[PagingListen(address="224.1.1.1:4009", label="All staff")]),
        keys=[KeyConfig(mode="speed_dial", account=1, label="Reception", value="200")],
    )


def example_config_text() -> str:
    """The text of `config.toml.example`."""
    return render_config(example_config(), EXAMPLE_HEADER)
