"""Config download and upload for the web admin.

Download: the config file as it is on disk, secrets masked unless asked. Upload: a config.toml (checked with
the same checker as `tuiphone config check`: parse_config_text) or a Grandstream config.txt / <gs_provision>
XML (mapped over the current file like `tuiphone config import-gs`). On any problem nothing is written and
the sentences come back; on success the old file is kept as config.toml.bak.1 (.bak.1-5 rotate) and the
running phone takes the new config: accounts re-register at once, other sections are named as needing a restart.
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from tuiphone.config import Config, ConfigError, load_config, parse_config_text, save_config
from tuiphone.config.files import write_atomically
from tuiphone.config_edit import rotate_backups
from tuiphone.services.provisioning import SECRET_KEYS, ProvisioningError, import_gs
from tuiphone.services.remote_keys import wait

MASK = "********"


@dataclass
class Outcome:
    """What an upload did: problems (nothing written), or changes applied and sections needing a restart."""
    problems: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    backup: str = ""
    notes: list[str] = field(default_factory=list)


def masked_text(path: Path, show_secrets: bool = False) -> str:
    """The config file's text; every password, passcode and admin password replaced by MASK unless asked."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    if show_secrets:
        return text
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError:
        return "# the config file does not parse as TOML; download it with its secrets to see it\n"
    _mask(doc)
    return doc.as_string()


def _mask(node: Any) -> None:
    if hasattr(node, "items") and hasattr(node, "keys"):
        for key in list(node.keys()):
            value = node[key]
            if key in SECRET_KEYS and isinstance(value, str) and value:
                node[key] = MASK
            else:
                _mask(value)
    elif isinstance(node, list):
        for item in node:
            _mask(item)


def looks_like_toml(data: bytes) -> bool:
    text = data.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("<"):
        return False
    first = next((line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")),
                 "")
    return not (first[:1] == "P" and first[1:2].isdigit())


def check_upload(data: bytes, path: Path, name: str) -> tuple[Config | None, str | None, Outcome]:
    """(config, text to write or None for a save_config, outcome with the problems)."""
    outcome = Outcome()
    if looks_like_toml(data):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            outcome.problems.append(f"{name}: line {line}: is not UTF-8 text; save the file as UTF-8")
            return None, None, outcome
        try:
            return parse_config_text(text, name), text, outcome
        except ConfigError as exc:
            outcome.problems = str(exc).splitlines()
            return None, None, outcome
    try:
        applied = import_gs(data, load_config(path), name)
    except ProvisioningError as exc:
        outcome.problems.append(f"{name}: {exc}")
        return None, None, outcome
    except ConfigError as exc:
        outcome.problems = str(exc).splitlines()
        return None, None, outcome
    outcome.notes = applied.notes + ([f"{len(applied.unmapped)} P-values have no tuiphone setting: "
                                      + " ".join(applied.unmapped[:30])] if applied.unmapped else [])
    return applied.config, None, outcome


def write_config_text(path: Path, text: str) -> Path:
    """Replace the config file by `text` atomically, keeping the old one as .bak.1; returns the backup path."""
    path = Path(os.path.realpath(path))
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    backup = rotate_backups(path)
    if path.exists():
        shutil.copy2(path, backup)
    write_atomically(path, text, mode, replace=True)
    return backup


async def upload(phone: Any, path: Path, data: bytes, name: str) -> Outcome:
    """Check, write (with a backup) and apply an uploaded config; nothing is written when it has problems."""
    new, text, outcome = check_upload(data, path, name)
    if new is None:
        return outcome
    try:
        if text is not None:
            outcome.backup = str(write_config_text(path, text))
        else:
            save_config(new, path)
            outcome.backup = str(path.with_name(path.name + ".bak.1"))
    except (OSError, ConfigError) as exc:
        outcome.problems.append(f"{path}: cannot be saved: {getattr(exc, 'strerror', None) or exc}; "
                                "nothing was changed")
        return outcome
    await apply_live(phone, new, outcome)
    return outcome


async def apply_live(phone: Any, new: Config, outcome: Outcome) -> None:
    """Give the running phone `new`: accounts re-register now; other changed sections are taken into the
    phone's config (so a later save keeps them) and named as needing a restart."""
    current = phone.config
    for index, account in enumerate(new.accounts):
        if index < len(current.accounts) and current.accounts[index] == account:
            continue
        await wait(phone.reconfigure_account(index, account.model_copy(deep=True)))
        outcome.applied.append(f"account {index + 1} ({account.user_id or account.name or 'no user'}) "
                               "applied: it registers again with the new settings")
    for index in range(len(new.accounts), len(current.accounts)):
        gone = current.accounts[index]
        if gone.enabled:
            await wait(phone.reconfigure_account(index, gone.model_copy(update={"enabled": False})))
        outcome.restart.append(f"account {index + 1} was removed: it is disabled now and leaves the list "
                               "when the phone restarts")
    for name in type(new).model_fields:
        if name == "accounts" or getattr(current, name) == getattr(new, name):
            continue
        live = name == "web" and current.web.model_copy(update={"password": new.web.password}) == new.web
        setattr(current, name, copy.deepcopy(getattr(new, name)))
        if live:
            outcome.applied.append("[web] applied: the new web password works now")
        else:
            outcome.restart.append(f"[{name}] changed; it takes effect when the phone restarts")
