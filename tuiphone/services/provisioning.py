"""Provisioning (seed 3.21–3.22): Grandstream P-values (config.txt or <gs_provision> XML) and TOML
merged over the local config.

`import_gs(data, config)` maps the P-values of accounts 1–3 into a new Config and says what it changed
and what it could not map (`tuiphone config import-gs`). `provision_at_start(config)` fetches
`provisioning.config_url` (http, https or file) and merges it over the config in memory, logging every
change; when anything goes wrong the local config is kept and the log says why.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from tuiphone.config import Config, ConfigError, config_to_dict, validation_problems

log = logging.getLogger(__name__)

MAX_BYTES = 2_000_000
FETCH_TIMEOUT_S = 10.0
SECRET_KEYS = ("password", "admin_password", "passcode", "lock_password")


class ProvisioningError(Exception):
    """Provisioning input that cannot be used; `str()` says what is wrong."""


# ----- reading P-values -------------------------------------------------------------------------------
_PLINE = re.compile(r"^\s*(P\d+)\s*=(.*)$")


def parse_pvalues(text: str) -> dict[str, str]:
    """A config.txt: `P47 = pbx.example.com` lines; `#` comments and blank lines are skipped."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _PLINE.match(line)
        if m is None:
            shown = stripped if len(stripped) <= 40 else stripped[:40] + "…"
            raise ProvisioningError(f"line {number} is not a P-value (like P47 = pbx.example.com): {shown}")
        values[m.group(1)] = m.group(2).strip()
    return values


def parse_gs_provision(data: bytes) -> dict[str, str]:
    """`<gs_provision><config><P47>value</P47>…</config></gs_provision>` (version 1 XML)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    if len(data) > MAX_BYTES:
        raise ProvisioningError(f"the XML is larger than {MAX_BYTES // 1_000_000} MB; it is refused")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ProvisioningError("the XML declares a DTD or entities, which provisioning never needs; "
                                "it is refused") from None
    except ParseError as exc:
        raise ProvisioningError(f"the XML is not well-formed ({exc})") from None
    if root.tag != "gs_provision":
        raise ProvisioningError(f"the XML root is <{root.tag}>, expected <gs_provision>")
    config = root.find("config")
    if config is None:
        raise ProvisioningError("the <gs_provision> XML has no <config> element")
    values: dict[str, str] = {}
    for item in config:
        if re.fullmatch(r"P\d+", item.tag):
            values[item.tag] = (item.text or "").strip()
        elif item.tag == "item" and item.get("name"):        # version 2: named items, not P-values
            values[item.get("name", "")] = (item.findtext("value") or item.text or "").strip()
    return values


# ----- mapping P-values onto the config --------------------------------------------------------------------
def _bool(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("must be 0 or 1")
    return text == "1"


def _int(text: str) -> int:
    if not text.isdigit():
        raise ValueError("must be a whole number")
    return int(text)


def _minutes(text: str) -> int:
    return min(86400, max(30, _int(text) * 60))    # GXP: minutes; tuiphone: 30-86400 seconds


def _choice(table: dict[str, str]) -> Callable[[str], str]:
    def pick(text: str) -> str:
        if text not in table:
            raise ValueError(f"must be one of {', '.join(table)}")
        return table[text]
    return pick


def _text(text: str) -> str:
    return text


# config key of an account -> (converter, P-value of account 1, 2, 3)
ACCOUNT_PVALUES: dict[str, tuple[Callable[[str], Any], str, str, str]] = {
    "enabled": (_bool, "P271", "P401", "P501"),
    "name": (_text, "P270", "P417", "P517"),
    "sip_server": (_text, "P47", "P402", "P502"),
    "secondary_sip_server": (_text, "P2312", "P2412", "P2512"),
    "outbound_proxy": (_text, "P48", "P403", "P503"),
    "backup_outbound_proxy": (_text, "P2333", "P2433", "P2533"),
    "user_id": (_text, "P35", "P404", "P504"),
    "auth_id": (_text, "P36", "P405", "P505"),
    "password": (_text, "P34", "P406", "P506"),
    "display_name": (_text, "P3", "P407", "P507"),
    "voicemail": (_text, "P33", "P426", "P526"),
    "register": (_bool, "P31", "P410", "P510"),
    "reg_expires": (_minutes, "P32", "P412", "P512"),
    "transport": (_choice({"0": "udp", "1": "tcp", "2": "tls"}), "P130", "P448", "P548"),
    "srtp": (_choice({"0": "off", "1": "optional", "2": "mandatory", "3": "optional"}), "P183", "P443", "P543"),
    "dial_plan": (_text, "P290", "P459", "P559"),
    "dial_plan_prefix": (_text, "P66", "P419", "P519"),
    "no_key_timeout": (_int, "P85", "P491", "P591"),
    "pound_sends": (_bool, "P72", "P492", "P592"),
    "anonymous": (_bool, "P65", "P421", "P521"),
    "reject_anonymous": (_bool, "P129", "P446", "P546"),
    "auto_answer": (_choice({"0": "off", "1": "on"}), "P90", "P425", "P525"),
    "options_keepalive": (_bool, "P2397", "P2497", "P2597"),
    "options_interval": (_int, "P2398", "P2498", "P2598"),
    "options_max_lost": (_int, "P2399", "P2499", "P2599"),
    "mwi": (_bool, "P99", "P415", "P515"),
    "check_user_id": (_bool, "P258", "P449", "P549"),
    "accept_only_from_server": (_bool, "P2347", "P2447", "P2547"),
    "local_call_features": (_bool, "P191", "P420", "P520"),
    "call_log": (_choice({"0": "all", "1": "answered", "2": "off"}), "P182", "P442", "P542"),
}
PHONE_PVALUES: dict[str, tuple[tuple[str, str], Callable[[str], Any]]] = {
    "P2": (("phone", "admin_password"), _text),
    "P40": (("sip", "port"), _int),
}
ACCOUNTS = 3


def key_path(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (("." if text else "") + part)
    return text


@dataclass
class Mapping:
    """P-values turned into config settings: (path, value) per P-value, and what could not be used."""
    settings: dict[str, tuple[tuple[str | int, ...], Any]] = field(default_factory=dict)   # P-value -> (path, value)
    unmapped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def map_pvalues(values: dict[str, str]) -> Mapping:
    """The P-values of accounts 1–3 (and the admin password and SIP port) as config paths and values."""
    by_p: dict[str, tuple[tuple[str | int, ...], Callable[[str], Any]]] = {
        p: (path, convert) for p, (path, convert) in PHONE_PVALUES.items()}
    for key, (convert, *pvalues) in ACCOUNT_PVALUES.items():
        for index, p in enumerate(pvalues):
            by_p[p] = (("accounts", index, key), convert)
    result = Mapping()
    for p, text in values.items():
        if p not in by_p:
            result.unmapped.append(p)
            continue
        path, convert = by_p[p]
        try:
            result.settings[p] = (path, convert(text))
        except ValueError as exc:
            result.problems.append(f"{p} = {text!r} ({key_path(path)}) {exc}; it was not imported")
    result.unmapped.sort(key=lambda p: (not p.startswith("P"), int(p[1:]) if p[1:].isdigit() else 0, p))
    return result


def _apply(data: dict[str, Any], mapping: Mapping) -> list[str]:
    """Write the mapped settings into a config dict; returns notes about accounts left disabled."""
    notes = []
    accounts = data.setdefault("accounts", [])
    # an account's path is ("accounts", its index, ...)
    touched = sorted({cast(int, path[1]) for path, _ in mapping.settings.values() if path[0] == "accounts"})
    while touched and len(accounts) <= touched[-1]:
        # a new account starts from the defaults; one skipped over (only account 3 given) stays off
        accounts.append({} if len(accounts) in touched else {"enabled": False, "register": False})
    for path, value in mapping.settings.values():
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    for index in touched:
        acc = accounts[index]
        if acc.get("enabled", True) and not acc.get("sip_server") and not acc.get("user_id"):
            acc["enabled"] = False      # GXP templates mark every account active, even the empty ones
            notes.append(f"account {index + 1} has no SIP server or user ID: it is left disabled")
    return notes


# ----- the result --------------------------------------------------------------------------------------
@dataclass
class Applied:
    config: Config
    changes: list[str]                     # "accounts[0].sip_server: '' -> 'pbx'" (secrets masked)
    mapped: dict[str, str] = field(default_factory=dict)     # P-value -> config key
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _shown(path: str, value: Any) -> str:
    if path.rsplit(".", 1)[-1] in SECRET_KEYS and value not in ("", None):
        return "'***'"
    return repr(value)


def changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Every setting that differs, as 'key: old -> new' lines (passwords shown as ***)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            out += changes(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(old, list) and isinstance(new, list) and (
            any(isinstance(x, dict) for x in old + new)):
        out = []
        for i in range(max(len(old), len(new))):
            if i >= len(old) and path == "accounts":
                out.append(f"accounts[{i}]: added")
                out += changes(_account_defaults(), new[i], f"{path}[{i}]")
            elif i >= len(new):
                out.append(f"{path}[{i}]: removed")
            else:
                out += changes(old[i] if i < len(old) else {}, new[i], f"{path}[{i}]")
        return out
    if old != new:
        return [f"{path}: {_shown(path, old)} -> {_shown(path, new)}"]
    return []


def _account_defaults() -> dict[str, Any]:
    from tuiphone.config import AccountConfig

    return AccountConfig.model_construct().model_dump()


def _validated(data: dict[str, Any], source: str, hints: dict[str, str] | None = None) -> Config:
    from pydantic import ValidationError

    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc)
        if hints:
            problems = [p + "".join(f" (from {pv})" for key, pv in hints.items()
                                    if p.startswith((key + ":", key + " "))) for p in problems]
        raise ConfigError(source, problems) from None


def import_gs(data: bytes, config: Config, source: str = "the P-value file") -> Applied:
    """Map a Grandstream config.txt or <gs_provision> XML over `config`. Raises ProvisioningError or
    ConfigError (the result would not be a valid config; nothing is changed)."""
    text = data.decode("utf-8-sig", "replace")
    values = parse_gs_provision(data) if text.lstrip().startswith("<") else parse_pvalues(text)
    mapping = map_pvalues(values)
    old = config_to_dict(config)
    new = copy.deepcopy(old)
    notes = _apply(new, mapping) + mapping.problems
    hints = {key_path(path): p for p, (path, _) in mapping.settings.items()}
    checked = _validated(new, source, hints)
    return Applied(checked, changes(old, config_to_dict(checked)),
                   {p: key_path(path) for p, (path, _) in mapping.settings.items()}, mapping.unmapped, notes)


def merge(base: Any, over: Any) -> Any:
    """`over` laid over `base`: tables merged key by key, arrays of tables entry by entry."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(over, list) and all(isinstance(x, dict) for x in base + over):
        return [merge(base[i], over[i]) if i < len(base) and i < len(over) else (over[i] if i < len(over) else base[i])
                for i in range(max(len(base), len(over)))]
    return over


def apply_provisioning(data: bytes, config: Config, source: str) -> Applied:
    """TOML, config.txt P-values or <gs_provision> XML, laid over `config` (validated)."""
    text = data.decode("utf-8-sig", "replace")
    if text.lstrip().startswith("<") or _PLINE.match(text.lstrip().split("\n", 1)[0] if text.strip() else ""):
        return import_gs(data, config, source)
    try:
        over = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        try:
            return import_gs(data, config, source)      # P-values after a comment header
        except ProvisioningError:
            raise ProvisioningError(f"it is neither TOML ({exc}) nor Grandstream P-values") from None
    old = config_to_dict(config)
    checked = _validated(merge(old, over), source)
    return Applied(checked, changes(old, config_to_dict(checked)))


# ----- fetching at start ------------------------------------------------------------------------------
def fetch(url: str, timeout_s: float = FETCH_TIMEOUT_S) -> bytes:
    """The bytes at an http(s) or file URL (at most MAX_BYTES). Raises ProvisioningError."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise ProvisioningError(f"cannot read {path}: {exc.strerror or exc}") from None
    else:
        from tuiphone.services.phonebook_download import DownloadError
        from tuiphone.services.phonebook_download import fetch as get

        try:
            data = asyncio.run(get(url, timeout_s, MAX_BYTES))
        except DownloadError as exc:
            raise ProvisioningError(str(exc)) from None
    if len(data) > MAX_BYTES:
        raise ProvisioningError(f"{url} is larger than {MAX_BYTES // 1_000_000} MB")
    return data


def provision_at_start(config: Config, timeout_s: float = FETCH_TIMEOUT_S) -> Config:
    """`config` with `provisioning.config_url` merged over it, or `config` itself when there is none or it
    cannot be used (logged as a warning). Every change is logged; nothing is written to disk."""
    url = config.provisioning.config_url
    if not url:
        return config
    try:
        applied = apply_provisioning(fetch(url, timeout_s), config, url)
    except (ProvisioningError, ConfigError) as exc:
        log.warning("provisioning from %s not applied, the local config is used: %s", url, exc)
        return config
    for line in applied.notes:
        log.warning("provisioning: %s", line)
    if applied.unmapped:
        log.info("provisioning: %d P-values have no tuiphone setting: %s", len(applied.unmapped),
                 " ".join(applied.unmapped[:40]))
    for line in applied.changes:
        log.info("provisioning changed %s", line)
    log.info("provisioning from %s: %d settings changed", url, len(applied.changes))
    return applied.config
