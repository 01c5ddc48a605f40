"""The config file on disk: loading with clear errors, creating the default one, atomic saving."""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import tomllib
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tuiphone import paths
from tuiphone.config.problems import ConfigError
from tuiphone.config.reasons import validation_problems
from tuiphone.config.render import default_config_text, render_config
from tuiphone.config.schema import Config


def _syntax_problem(exc: tomllib.TOMLDecodeError) -> tuple[str, int | None]:
    text = str(exc)
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", text, re.DOTALL)
    if match:
        return f"line {match[2]}, column {match[3]}: {match[1]}", int(match[2])
    match = re.fullmatch(r"(.*) \(at end of document\)", text, re.DOTALL)
    if match:
        return f"at the end of the file: {match[1]}", None
    return text, None


def parse_config_text(text: str, source: str = "<config>") -> Config:
    """Parse and validate config TOML; `source` names it in the ConfigError messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem, line = _syntax_problem(exc)
        raise ConfigError(source, [problem], line=line) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc)) from None


def load_config(path: Path) -> Config:
    """Read and validate the config file at `path`; the file is only read, never changed.

    Raises ConfigError (a missing, unreadable, non-UTF-8, malformed or invalid file) whose
    `str()` names the file and each problem; key paths count list entries from 0.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), ["no such config file; check the path"]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), ["is a directory, not a config file"]) from None
    except PermissionError:
        raise ConfigError(str(path), ["cannot be read (permission denied); check its permissions"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot be read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = f"line {line}: is not UTF-8 text; save the file as UTF-8"
        raise ConfigError(str(path), [problem], line=line) from None
    return parse_config_text(text, str(path))


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Every key of `cfg` as plain TOML-ready values (nothing dropped, defaults included)."""
    return cfg.model_dump(mode="python")


def _fsync_dir(directory: Path) -> None:
    with suppress(OSError):  # not every filesystem lets a directory be opened and synced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path: Path, text: str, mode: int, replace: bool) -> None:
    """Write `text` to a temp file beside `path`, fsync, then move it into place.

    With `replace=False` an existing `path` is never overwritten (FileExistsError).
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        if replace:
            os.replace(temp_name, path)
        else:
            _move_no_clobber(temp_name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_dir(path.parent)


def _move_no_clobber(temp_name: str, path: Path) -> None:
    try:
        os.link(temp_name, path)  # fails with EEXIST instead of replacing a file written meanwhile
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(temp_name, path)
        return
    os.unlink(temp_name)


def load_or_create(path: Path) -> tuple[Config, bool]:
    """Load the config at `path`; when there is no file, write the default one first.

    Returns (config, created). An existing file is only read. The new file is private (0600)
    because accounts will hold passwords.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        return load_config(path), False
    created = True
    try:
        paths.ensure_dir(path.parent)
        write_atomically(path, default_config_text(), mode=0o600, replace=False)
    except FileExistsError:
        created = False  # another tuiphone wrote it first; use theirs
    except OSError as exc:
        problem = f"cannot create the default config file: {exc.strerror or exc}"
        raise ConfigError(str(path), [problem]) from None
    return load_config(path), created


def save_config(cfg: Config, path: Path) -> None:
    """Write `cfg` to `path` atomically, keeping the previous file as `<name>.bak.1` (up to `.bak.5`).

    The config is validated first, so a file that `load_config` would refuse is never written.
    An existing file is edited in place (config_edit): only the keys that changed are rewritten, and
    its comments, order and formatting stay; a new file (or one that cannot be edited) is written whole,
    every key commented. When nothing changed the file is left as it is.
    The file keeps its permissions (0600 when new); a symlinked config is written through.
    """
    from tuiphone.config_edit import edit_config_text, rotate_backups

    path = Path(os.path.realpath(path))
    try:
        checked = Config.model_validate(config_to_dict(cfg))
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc)) from None
    try:
        mode = 0o600
        text = None
        if path.exists():
            mode = path.stat().st_mode & 0o777
            current = path.read_bytes().decode("utf-8-sig", errors="replace")
            text = edit_config_text(current, checked)
            if text == current:
                return
            _copy_atomically(path, rotate_backups(path))
        else:
            paths.ensure_dir(path.parent)
        write_atomically(path, render_config(checked) if text is None else text, mode=mode, replace=True)
    except OSError as exc:
        problem = f"cannot be saved: {exc.strerror or exc}; nothing was changed"
        raise ConfigError(str(path), [problem]) from None


def _copy_atomically(source: Path, target: Path) -> None:
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(source, temp_name)
        os.replace(temp_name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
