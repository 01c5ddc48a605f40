"""The config as plain data: what a front-end attached to the phone process reads, without pydantic.

The phone process reads and checks the file with the schema (schema.py) and sends `plain_config(cfg)`:
every key of every section, defaults included, as JSON data. `ConfigView` gives the same names back as
attributes (`view.phone.language`, `view.accounts[0].sip_server`, `view.keymap.model_extra`), read-only, so
the first screen draws from it. A screen that changes the config asks for the schema's models built from the
same data (`editable(view)`, PhoneApp.editable_config); `same_section` finds in those models the section a
view stood for. Nothing here imports pydantic: this module is the attaching TUI's whole config.
"""

from __future__ import annotations

from typing import Any

Path = tuple[str | int, ...]       # where a section is: ("accounts", 2), ("sip", "tls")


def plain_config(cfg: Any) -> dict[str, Any]:
    """Every key of a schema `Config` as JSON data (what the phone process sends an attaching front-end)."""
    data: dict[str, Any] = cfg.model_dump(mode="json")
    return data


class ConfigView:
    """A section of the config (the whole file at the top) as read-only attributes over its plain data;
    sections and lists of sections are views too, the same object each time they are read."""

    __slots__ = ("_data", "_path", "_children")
    _data: dict[str, Any]
    _path: Path
    _children: dict[str, Any]

    def __init__(self, data: dict[str, Any], path: Path = ()) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_children", {})

    @property
    def data(self) -> dict[str, Any]:
        """The plain data of this section (the schema validates it back: `Config.model_validate`)."""
        return self._data

    @property
    def path(self) -> Path:
        return self._path

    @property
    def model_extra(self) -> dict[str, Any]:
        """The keys of a section that allows any ([keymap]: binding id -> keys), as pydantic names them."""
        return dict(self._data)

    def __getattr__(self, name: str) -> Any:
        children = self._children
        if name in children:
            return children[name]
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(f"the config has no {'.'.join(map(str, (*self._path, name)))}") from None
        if isinstance(value, dict):
            value = ConfigView(value, (*self._path, name))
        elif isinstance(value, list):
            value = tuple(ConfigView(v, (*self._path, name, i)) if isinstance(v, dict) else v
                          for i, v in enumerate(value))
        else:
            return value
        children[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("this config is read-only: change it through PhoneApp.editable_config()")

    def __repr__(self) -> str:
        return f"ConfigView({'.'.join(map(str, self._path)) or 'config'})"


def editable(view: ConfigView) -> Any:
    """The schema's `Config` of a whole-config view (imports pydantic: for the screens that change it)."""
    from tuiphone.config.schema import Config

    return Config.model_validate(view.data)


def same_section(config: Any, section: Any) -> Any:
    """`section` itself, or when it is a view, the part of `config` (the schema's models) it stands for."""
    if not isinstance(section, ConfigView):
        return section
    found = config
    for step in section.path:
        found = found[step] if isinstance(step, int) else getattr(found, step)
    return found
