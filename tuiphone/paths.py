"""Where tuiphone keeps its files: the config file and the data dir (XDG dirs via platformdirs).

Nothing here creates a directory except `ensure_dir`; callers create what they are about to write.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tuiphone"
CONFIG_ENV = "TUIPHONE_CONFIG"
DATA_DIR_ENV = "TUIPHONE_DATA_DIR"
CONFIG_FILE_NAME = "config.toml"


def _expand(path: str | os.PathLike[str]) -> Path:
    """A user-given path with `~` and `$VARS` expanded."""
    return Path(os.path.expandvars(os.path.expanduser(os.fspath(path))))


def config_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The config file: `override` (--config), else $TUIPHONE_CONFIG, else the user config dir.

    On Linux the default is `$XDG_CONFIG_HOME/tuiphone/config.toml` (~/.config when unset).
    """
    if override is not None and os.fspath(override) != "":
        return _expand(override)
    from_env = os.environ.get(CONFIG_ENV, "")
    if from_env:
        return _expand(from_env)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILE_NAME


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data dir (history database, recordings, logs, captures).

    `override` (--data-dir), else $TUIPHONE_DATA_DIR, else the user data dir
    (`$XDG_DATA_HOME/tuiphone`, ~/.local/share when unset). Not created here: see `ensure_dir`.
    """
    if override is not None and os.fspath(override) != "":
        return _expand(override)
    from_env = os.environ.get(DATA_DIR_ENV, "")
    if from_env:
        return _expand(from_env)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def ensure_dir(path: Path) -> Path:
    """Create `path` (and its parents) if missing, private to the user; return it."""
    # 0o700: recordings, call history and logs are personal data.
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def recordings_dir(cfg_record_dir: str, data: Path) -> Path:
    """Where call recordings go: `features.record_dir`, or `<data dir>/recordings` when it is "".

    A relative `record_dir` is taken relative to the data dir, so it does not depend on
    the directory the phone was started from.
    """
    if not cfg_record_dir:
        return data / "recordings"
    chosen = _expand(cfg_record_dir)
    return chosen if chosen.is_absolute() else data / chosen


def log_dir(data: Path) -> Path:
    """Where the rotating log file goes: `<data dir>/logs`."""
    return data / "logs"


def captures_dir(data: Path) -> Path:
    """Where SIP packet captures (pcap) go: `<data dir>/captures`."""
    return data / "captures"


def database_path(data: Path) -> Path:
    """The SQLite file with call history, phonebook and blocklist: `<data dir>/tuiphone.db`."""
    return data / "tuiphone.db"


def backup_path(config_file: Path) -> Path:
    """The newest backup written before a save: `config.toml` -> `config.toml.bak.1` (older ones: .2 ... .5)."""
    return config_file.with_name(config_file.name + ".bak.1")
