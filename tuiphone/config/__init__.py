"""The config file (SPEC §5): schema, loading with clear errors, commented rendering, atomic save.

Every key has a pydantic field with its default and a one-line description; the description is
the comment written next to the key in `config.toml.example` and in saved files.

Key paths in error messages use 0-based list indexes in file order: `accounts[0]` is the first
`[[accounts]]` block, `accounts[1].srtp` the `srtp` key of the second one.

The parts: values.py (what a value may be), schema.py and service_schema.py (the sections),
problems.py (ConfigError, key paths), reasons.py (validation errors as sentences), files.py
(load, create, save), render.py (commented TOML, the example), check.py (`tuiphone config check`).
Addresses and ports are parsed by tuiphone/addresses.py, which paging uses too.

The package loads its parts when a name is first used (PEP 562): `tuiphone.config.view` (the plain
data an attached front-end reads) comes without pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuiphone.addresses import parse_listen_address, parse_multicast, split_host_port
    from tuiphone.config.check import check_config_cli
    from tuiphone.config.files import (
        config_to_dict,
        load_config,
        load_or_create,
        parse_config_text,
        save_config,
    )
    from tuiphone.config.problems import MAX_PROBLEMS_SHOWN, ConfigError
    from tuiphone.config.problems import _unwrap as _unwrap  # screens/account_form.py reads field types
    from tuiphone.config.reasons import validation_problems
    from tuiphone.config.render import (
        EXAMPLE_HEADER,
        HEADER,
        default_config_text,
        example_config,
        example_config_text,
        render_config,
    )
    from tuiphone.config.schema import (
        MAX_PAGING_LISTEN,
        AccountConfig,
        AudioConfig,
        Config,
        FeaturesConfig,
        KeyConfig,
        KeymapConfig,
        PagingConfig,
        PagingListen,
        PhoneConfig,
        RingRule,
        SipConfig,
        TlsConfig,
    )
    from tuiphone.config.service_schema import (
        ActionUrlConfig,
        CtiConfig,
        PhonebookConfig,
        ProvisioningConfig,
        SyslogConfig,
        WebConfig,
    )
    from tuiphone.config.values import DEFAULT_DIAL_PLAN

_WHERE = {
    "parse_listen_address": "tuiphone.addresses",
    "parse_multicast": "tuiphone.addresses",
    "split_host_port": "tuiphone.addresses",
    "check_config_cli": "tuiphone.config.check",
    "config_to_dict": "tuiphone.config.files",
    "load_config": "tuiphone.config.files",
    "load_or_create": "tuiphone.config.files",
    "parse_config_text": "tuiphone.config.files",
    "save_config": "tuiphone.config.files",
    "MAX_PROBLEMS_SHOWN": "tuiphone.config.problems",
    "ConfigError": "tuiphone.config.problems",
    "_unwrap": "tuiphone.config.problems",
    "validation_problems": "tuiphone.config.reasons",
    "EXAMPLE_HEADER": "tuiphone.config.render",
    "HEADER": "tuiphone.config.render",
    "default_config_text": "tuiphone.config.render",
    "example_config": "tuiphone.config.render",
    "example_config_text": "tuiphone.config.render",
    "render_config": "tuiphone.config.render",
    "MAX_PAGING_LISTEN": "tuiphone.config.schema",
    "AccountConfig": "tuiphone.config.schema",
    "AudioConfig": "tuiphone.config.schema",
    "Config": "tuiphone.config.schema",
    "FeaturesConfig": "tuiphone.config.schema",
    "KeyConfig": "tuiphone.config.schema",
    "KeymapConfig": "tuiphone.config.schema",
    "PagingConfig": "tuiphone.config.schema",
    "PagingListen": "tuiphone.config.schema",
    "PhoneConfig": "tuiphone.config.schema",
    "RingRule": "tuiphone.config.schema",
    "SipConfig": "tuiphone.config.schema",
    "TlsConfig": "tuiphone.config.schema",
    "ActionUrlConfig": "tuiphone.config.service_schema",
    "CtiConfig": "tuiphone.config.service_schema",
    "PhonebookConfig": "tuiphone.config.service_schema",
    "ProvisioningConfig": "tuiphone.config.service_schema",
    "SyslogConfig": "tuiphone.config.service_schema",
    "WebConfig": "tuiphone.config.service_schema",
    "DEFAULT_DIAL_PLAN": "tuiphone.config.values",
}

__all__ = [
    "DEFAULT_DIAL_PLAN", "EXAMPLE_HEADER", "HEADER", "MAX_PAGING_LISTEN", "MAX_PROBLEMS_SHOWN",
    "AccountConfig", "ActionUrlConfig", "AudioConfig", "Config", "ConfigError", "CtiConfig", "FeaturesConfig",
    "KeyConfig", "KeymapConfig", "PagingConfig", "PagingListen", "PhoneConfig", "PhonebookConfig",
    "ProvisioningConfig", "RingRule", "SipConfig", "SyslogConfig", "TlsConfig", "WebConfig",
    "check_config_cli", "config_to_dict", "default_config_text", "example_config", "example_config_text",
    "load_config", "load_or_create", "parse_config_text", "parse_listen_address", "parse_multicast",
    "render_config", "save_config", "split_host_port", "validation_problems",
]


def __getattr__(name: str) -> Any:
    """`tuiphone.config.X`: the part that defines X, imported on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tuiphone.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
