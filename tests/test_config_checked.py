"""The config as last checked (tuiphone/config/checked.py): the standalone TUI's first screen is drawn from
it only while the file and the schema are what they were when the check passed."""

from __future__ import annotations

import json
import stat

import pytest

from tuiphone.config import checked as checked_module
from tuiphone.config import load_config
from tuiphone.config.checked import checked_before, file_stamp, remember_checked
from tuiphone.config.view import ConfigView, plain_config

TEXT = '[phone]\nlanguage = "zh_CN"\nidle_text = "front desk"\n\n[[accounts]]\nname = "Office"\n' \
       'sip_server = "127.0.0.1:5090"\nuser_id = "1001"\npassword = "s3cret"\n'


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "phone.toml"
    path.write_text(TEXT)
    return path


def remember(config_file, data):
    stamp = file_stamp(config_file)
    cfg = load_config(config_file)
    remember_checked(config_file, data, cfg, stamp)
    return cfg


def test_an_unchanged_file_is_drawn_from_what_its_last_check_read(config_file, tmp_path):
    data = tmp_path / "data"
    assert checked_before(config_file, data) is None          # never checked
    cfg = remember(config_file, data)
    view = checked_before(config_file, data)
    assert isinstance(view, ConfigView)
    assert view.data == plain_config(cfg)
    assert view.phone.language == "zh_CN" and view.accounts[0].name == "Office"


def test_a_changed_file_is_checked_again(config_file, tmp_path):
    data = tmp_path / "data"
    remember(config_file, data)
    config_file.write_text(TEXT.replace("front desk", "front desk!"))
    assert checked_before(config_file, data) is None


def test_a_changed_schema_is_not_matched(config_file, tmp_path, monkeypatch):
    data = tmp_path / "data"
    remember(config_file, data)
    stamp = checked_module._schema_stamp()
    monkeypatch.setattr(checked_module, "_schema_stamp", lambda: stamp + "|values.py:1:2")
    assert checked_before(config_file, data) is None


def test_a_file_changed_while_it_was_read_is_not_recorded_as_checked(config_file, tmp_path):
    data = tmp_path / "data"
    stamp = file_stamp(config_file)                 # taken before the read, as tui_run does
    config_file.write_text(TEXT.replace("Office", "Lab"))
    remember_checked(config_file, data, load_config(config_file), stamp)
    assert checked_before(config_file, data) is None


def test_a_config_that_provisions_itself_is_not_kept(config_file, tmp_path):
    data = tmp_path / "data"
    remember(config_file, data)
    config_file.write_text(TEXT + '\n[provisioning]\nconfig_url = "http://127.0.0.1:9/cfg.xml"\n')
    remember(config_file, data)
    assert checked_before(config_file, data) is None
    assert not list((data / checked_module.FOLDER).iterdir()), "the older record should be gone too"


def test_a_damaged_record_is_not_used(config_file, tmp_path):
    data = tmp_path / "data"
    remember(config_file, data)
    (record,) = (data / checked_module.FOLDER).iterdir()
    record.write_text(record.read_text()[:40])
    assert checked_before(config_file, data) is None
    saved = {"stamp": file_stamp(config_file), "config": ["not", "a", "config"]}
    record.write_text(json.dumps(saved))
    assert checked_before(config_file, data) is None


def test_the_record_holds_passwords_so_only_its_owner_reads_it(config_file, tmp_path):
    data = tmp_path / "data"
    remember(config_file, data)
    folder = data / checked_module.FOLDER
    (record,) = folder.iterdir()
    assert "s3cret" in record.read_text()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(record.stat().st_mode) == 0o600


def test_two_config_files_keep_two_records(config_file, tmp_path):
    data = tmp_path / "data"
    other = tmp_path / "other.toml"
    other.write_text(TEXT.replace("zh_CN", "en"))
    remember(config_file, data)
    remember(other, data)
    assert checked_before(config_file, data).phone.language == "zh_CN"
    assert checked_before(other, data).phone.language == "en"
