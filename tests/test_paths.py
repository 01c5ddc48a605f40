"""Where tuiphone looks for its config file and keeps its data."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tuiphone import paths


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TUIPHONE_CONFIG", raising=False)
    monkeypatch.delenv("TUIPHONE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_config_file_defaults_to_xdg_config_home(tmp_path: Path) -> None:
    assert paths.config_path() == tmp_path / "xdg-config" / "tuiphone" / "config.toml"


def test_config_env_beats_default_and_option_beats_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIPHONE_CONFIG", str(tmp_path / "from-env.toml"))
    assert paths.config_path() == tmp_path / "from-env.toml"
    assert paths.config_path(tmp_path / "option.toml") == tmp_path / "option.toml"
    assert paths.config_path("~/phone.toml") == tmp_path / "home" / "phone.toml"


def test_data_dir_follows_option_env_then_xdg_and_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = paths.data_dir()
    assert default == tmp_path / "xdg-data" / "tuiphone"
    assert not default.exists()
    monkeypatch.setenv("TUIPHONE_DATA_DIR", str(tmp_path / "env-data"))
    assert paths.data_dir() == tmp_path / "env-data"
    assert paths.data_dir(str(tmp_path / "opt")) == tmp_path / "opt"


def test_ensure_dir_creates_a_private_directory_once(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert paths.ensure_dir(target) == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    paths.ensure_dir(target)  # a second call is harmless
    assert target.is_dir()


def test_recordings_go_to_data_dir_unless_configured(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert paths.recordings_dir("", data) == data / "recordings"
    assert paths.recordings_dir("/srv/rec", data) == Path("/srv/rec")
    assert paths.recordings_dir("calls", data) == data / "calls"
    assert paths.recordings_dir("~/rec", data) == tmp_path / "home" / "rec"


def test_logs_captures_database_and_backup_names(tmp_path: Path) -> None:
    assert paths.log_dir(tmp_path) == tmp_path / "logs"
    assert paths.captures_dir(tmp_path) == tmp_path / "captures"
    assert paths.database_path(tmp_path) == tmp_path / "tuiphone.db"
    assert paths.backup_path(tmp_path / "config.toml") == tmp_path / "config.toml.bak.1"
