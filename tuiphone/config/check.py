"""`tuiphone config check [PATH]`: is the config file usable, and what it sets up, in one line."""

from __future__ import annotations

import os

from tuiphone import paths
from tuiphone.config.files import load_config
from tuiphone.config.problems import ConfigError
from tuiphone.config.schema import Config


def _summary(cfg: Config) -> str:
    enabled = [account for account in cfg.accounts if account.enabled]
    registering = sum(1 for account in enabled if account.register)
    accounts = f"{len(cfg.accounts)} account{'s' if len(cfg.accounts) != 1 else ''}"
    if cfg.accounts:
        accounts += f" ({len(enabled)} enabled, {registering} registering)"
    else:
        accounts += " (direct calls only)"
    port = "any free port" if cfg.sip.port == 0 else f"port {cfg.sip.port}"
    return (
        f"{accounts}, {cfg.phone.lines} lines, SIP on {port} over {'/'.join(cfg.sip.transports)}, "
        f"CTI {'on at ' + cfg.cti.listen if cfg.cti.enabled else 'off'}"
    )


def check_config_cli(path: str | os.PathLike[str] | None = None) -> tuple[int, str]:
    """`tuiphone config check [PATH]`: (0, "OK: <path>: summary") or (2, the problems).

    With no PATH the usual config file is checked ($TUIPHONE_CONFIG or the platform default);
    nothing is created or changed.
    """
    target = paths.config_path(path)
    if not target.exists() and not target.is_symlink() and target == paths.config_path():
        return 2, f"{target}: no config file yet; tuiphone writes this default one when it first starts"
    try:
        cfg = load_config(target)
    except ConfigError as exc:
        return 2, str(exc)
    return 0, f"OK: {target}: {_summary(cfg)}"
