"""The config file (SPEC §5): schema, loading with clear errors, commented rendering, atomic save.

Every key has a pydantic field with its default and a one-line description; the description is
the comment written next to the key in `config.toml.example` and in saved files.

Key paths in error messages use 0-based list indexes in file order: `accounts[0]` is the first
`[[accounts]]` block, `accounts[1].srtp` the `srtp` key of the second one.

The parts: values.py (what a value may be), schema.py and service_schema.py (the sections),
problems.py (ConfigError, key paths), reasons.py (validation errors as sentences), files.py
(load, create, save), render.py (commented TOML, the example), check.py (`tuiphone config check`).
Addresses and ports are parsed by tuiphone/addresses.py, which paging uses too.
"""

from __future__ import annotations

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

__all__ = [
    "DEFAULT_DIAL_PLAN", "EXAMPLE_HEADER", "HEADER", "MAX_PAGING_LISTEN", "MAX_PROBLEMS_SHOWN",
    "AccountConfig", "ActionUrlConfig", "AudioConfig", "Config", "ConfigError", "CtiConfig", "FeaturesConfig",
    "KeyConfig", "KeymapConfig", "PagingConfig", "PagingListen", "PhoneConfig", "PhonebookConfig",
    "ProvisioningConfig", "RingRule", "SipConfig", "SyslogConfig", "TlsConfig", "WebConfig",
    "check_config_cli", "config_to_dict", "default_config_text", "example_config", "example_config_text",
    "load_config", "load_or_create", "parse_config_text", "parse_listen_address", "parse_multicast",
    "render_config", "save_config", "split_host_port", "validation_problems",
]
