"""The config file as last checked: what `tuiphone --standalone` draws its first screen from.

Checking the file with the schema takes pydantic's import and model build (~280 ms here), before the first
screen could show. So after a check passes, the standalone TUI keeps the result as plain data
(`view.plain_config`) in the data dir, stamped with the file's bytes (SHA-256) and the schema that read them
(the tuiphone version and the config package's sources). The next start finds the same stamp and draws the
first screen from that data (a `ConfigView`, as an attached front-end does); the phone then reads and
checks the file again as it always has. A changed file, another tuiphone, a config that provisions itself
(`provisioning.config_url`: the server may change it at start) or a damaged record is not a match: the file
is checked before anything is drawn, as before, and its mistakes are said then.

The record holds what the file holds (account passwords included): it is written 0600 in a 0700 folder.
Nothing here imports pydantic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from tuiphone.config.view import ConfigView, plain_config

log = logging.getLogger(__name__)

FOLDER = "config-checked"        # in the data dir: one record per config file
RECORD_VERSION = 1


def _schema_stamp() -> str:
    """The tuiphone version and the config package's sources as they are now (a changed default changes it)."""
    from tuiphone import __version__

    here = Path(__file__).parent
    parts = [__version__]
    for source in sorted(here.glob("*.py")):
        st = source.stat()
        parts.append(f"{source.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def _record_path(data: Path, config_file: Path) -> Path:
    name = hashlib.sha256(str(config_file.resolve()).encode()).hexdigest()[:24]
    return data / FOLDER / f"{name}.json"


def file_stamp(config_file: Path) -> dict[str, Any] | None:
    """What a record is matched on: the file's bytes as they are now and the schema; None with no file.
    Taken before the file is read, so a file changed in between is never recorded as checked."""
    try:
        content = config_file.read_bytes()
    except OSError:
        return None
    return {"version": RECORD_VERSION, "file": str(config_file.resolve()),
            "sha256": hashlib.sha256(content).hexdigest(), "schema": _schema_stamp()}


def checked_before(config_file: Path, data: Path) -> ConfigView | None:
    """The file as it was when last checked, if it has not changed since; else None (check it now)."""
    record = _record_path(data, config_file)
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    stamp = file_stamp(config_file)
    if stamp is None or not isinstance(saved, dict) or saved.get("stamp") != stamp:
        return None
    config = saved.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("phone"), dict):
        return None
    return ConfigView(config)


def remember_checked(config_file: Path, data: Path, cfg: Any, stamp: dict[str, Any] | None) -> None:
    """Keep `cfg` (the schema's Config read from `config_file` after `file_stamp` gave `stamp`) for the next
    start; a config that provisions itself is not kept. A record that cannot be written only costs the next
    start its speed."""
    from tuiphone.config.files import write_atomically
    from tuiphone.paths import ensure_dir

    record = _record_path(data, config_file)
    if cfg.provisioning.config_url:
        record.unlink(missing_ok=True)
        return
    if stamp is None:
        return
    try:
        folder = ensure_dir(record.parent)
        os.chmod(folder, 0o700)
        write_atomically(record, json.dumps({"stamp": stamp, "config": plain_config(cfg)}), mode=0o600,
                         replace=True)
    except OSError as exc:
        log.info("could not keep the checked config in %s: %s", record, exc)
