"""Provisioning: Grandstream P-values for accounts 1–3 (config.txt and <gs_provision> XML) mapped into the
config, TOML merged over it, fetched from a local HTTP server or a file at start, and `config import-gs`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from tests.services.helpers import DAEMON_MAIN
from tuiphone.config import Config, ConfigError, load_config
from tuiphone.services.provisioning import (
    ProvisioningError,
    apply_provisioning,
    import_gs,
    map_pvalues,
    parse_pvalues,
    provision_at_start,
)

CONFIG_TXT = r"""# Grandstream GXP1760W config
P2 = adminpw
P8 = 1
P192 = fw.example.com
# Account 1
P271 = 1
P270 = Office
P47 = pbx.example.com:5060
P35 = 1001
P36 = auth1001
P34 = s3cret
P3 = 张三
P48 = proxy.example.com
P33 = *97
P32 = 30
P290 = { x+ | \+x+ | *x+ | *xx*x+ }
P66 = 9
P85 = 6
P72 = 0
P130 = 1
# Account 2
P401 = 1
P417 = Trunk
P402 = sip.provider.net
P404 = 2002
P405 =
P406 = pw2
P407 = Desk 2
P403 =
P426 = 500
P412 = 60
P459 = { [2-9]xxxxxxx }
P419 =
P491 = 0
P492 = 1
# Account 3: active by default in the template, but empty
P501 = 1
P502 =
P504 =
P9999 = something
"""


def test_p_values_of_accounts_1_to_3_are_mapped_and_the_rest_reported():
    applied = import_gs(CONFIG_TXT.encode(), Config())
    cfg = applied.config
    one, two, three = cfg.accounts
    assert (one.name, one.sip_server, one.user_id, one.auth_id, one.password, one.display_name) == (
        "Office", "pbx.example.com:5060", "1001", "auth1001", "s3cret", "张三")
    assert (one.outbound_proxy, one.voicemail, one.reg_expires, one.dial_plan, one.dial_plan_prefix) == (
        "proxy.example.com", "*97", 1800, r"{ x+ | \+x+ | *x+ | *xx*x+ }", "9")
    assert (one.no_key_timeout, one.pound_sends, one.transport, one.enabled) == (6, False, "tcp", True)
    assert (two.name, two.sip_server, two.user_id, two.auth_id, two.password, two.display_name) == (
        "Trunk", "sip.provider.net", "2002", "", "pw2", "Desk 2")
    assert (two.voicemail, two.reg_expires, two.dial_plan, two.no_key_timeout, two.pound_sends) == (
        "500", 3600, "{ [2-9]xxxxxxx }", 0, True)
    assert three.enabled is False
    assert cfg.phone.admin_password == "adminpw"
    assert applied.unmapped == ["P8", "P192", "P9999"]
    assert applied.mapped["P47"] == "accounts[0].sip_server" and applied.mapped["P504"] == "accounts[2].user_id"
    assert applied.notes == ["account 3 has no SIP server or user ID: it is left disabled"]
    assert "accounts[0].password: '***' -> '***'" not in applied.changes
    assert "accounts[0].password: '' -> '***'" in applied.changes
    assert "accounts[1]: added" in applied.changes
    assert "phone.admin_password: '' -> '***'" in applied.changes


def test_gs_provision_xml_maps_the_same_way():
    xml = (b"<?xml version='1.0' encoding='UTF-8'?><gs_provision version='1'><mac>000b82123456</mac>"
           b"<config version='1'><P271>1</P271><P47>pbx.example.com</P47><P35>1001</P35><P34>pw</P34>"
           b"<P1234>x</P1234></config></gs_provision>")
    applied = import_gs(xml, Config())
    assert (applied.config.accounts[0].sip_server, applied.config.accounts[0].user_id) == ("pbx.example.com", "1001")
    assert applied.unmapped == ["P1234"]


@pytest.mark.parametrize("text, words", [
    ("P47 = pbx\nthis is not a p-value\n", "line 2 is not a P-value"),
    ("<!DOCTYPE x [<!ENTITY a 'b'>]><gs_provision><config><P47>&a;</P47></config></gs_provision>",
     "declares a DTD or entities"),
    ("<settings/>", "expected <gs_provision>"),
])
def test_bad_provisioning_files_are_refused(text, words):
    with pytest.raises(ProvisioningError, match=words):
        import_gs(text.encode(), Config())


def test_a_bad_value_is_reported_and_an_invalid_result_names_the_p_value():
    mapping = map_pvalues({"P271": "yes", "P85": "4"})
    assert mapping.problems == ["P271 = 'yes' (accounts[0].enabled) must be 0 or 1; it was not imported"]
    with pytest.raises(ConfigError) as err:
        import_gs(b"P47 = pbx.example.com\nP85 = 99\n", Config())
    assert str(err.value) == ("the P-value file: accounts[0].no_key_timeout: must be between 0 and 60 (got 99) "
                              "(from P85)")


def test_toml_is_merged_over_the_local_config_account_by_account():
    local = Config.model_validate({"accounts": [{"sip_server": "old.example.com", "user_id": "1001",
                                                 "ringtone": "ring3"}]})
    applied = apply_provisioning(b'[phone]\nlanguage = "zh_CN"\n[[accounts]]\nsip_server = "new.example.com"\n',
                                 local, "prov.toml")
    assert applied.config.phone.language == "zh_CN"
    assert (applied.config.accounts[0].sip_server, applied.config.accounts[0].ringtone) == ("new.example.com", "ring3")
    assert applied.changes == ["phone.language: 'en' -> 'zh_CN'",
                               "accounts[0].sip_server: 'old.example.com' -> 'new.example.com'"]


def test_provisioning_at_start_from_a_local_server_logs_each_change(recorder, caplog):
    server = recorder(body=CONFIG_TXT.encode())
    local = Config.model_validate({"provisioning": {"config_url": f"http://{server.base}/cfg000b82123456.txt"}})
    caplog.set_level(logging.INFO, logger="tuiphone.services.provisioning")
    cfg = provision_at_start(local)
    assert cfg.accounts[0].sip_server == "pbx.example.com:5060"
    messages = [r.getMessage() for r in caplog.records]
    assert "provisioning changed accounts[0].sip_server: '' -> 'pbx.example.com:5060'" in messages
    assert any(m.startswith("provisioning from http://") and "settings changed" in m for m in messages)
    assert not any("s3cret" in m for m in messages)


def test_provisioning_that_fails_keeps_the_local_config(recorder, tmp_path, caplog):
    server = recorder(status=404)
    local = Config.model_validate({"provisioning": {"config_url": f"http://{server.base}/missing.toml"}})
    assert provision_at_start(local) is local
    (tmp_path / "bad.toml").write_text('[phone]\nlines = "six"\n')
    bad = Config.model_validate({"provisioning": {"config_url": f"file://{tmp_path / 'bad.toml'}"}})
    assert provision_at_start(bad) is bad
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "answered HTTP 404" in warnings[0] and "the local config is used" in warnings[0]
    assert "phone.lines" in warnings[1]


def test_parse_pvalues_keeps_empty_values():
    assert parse_pvalues("P47 =\n  # c\nP35=1001\n") == {"P47": "", "P35": "1001"}


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    main = ("from tuiphone.cli import main; from tuiphone.cli.config import config, import_gs; "
            "config.add_command(import_gs); main()")
    assert "main()" in DAEMON_MAIN
    return subprocess.run([sys.executable, "-c", main, "--config", str(tmp_path / "config.toml"), *args],
                          capture_output=True, text=True, timeout=60)


def test_config_import_gs_writes_the_config_and_reports_in_json(tmp_path):
    (tmp_path / "config.txt").write_text(CONFIG_TXT)
    done = _cli(tmp_path, "config", "import-gs", str(tmp_path / "config.txt"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["unmapped"] == ["P8", "P192", "P9999"]
    assert report["mapped"]["P402"] == "accounts[1].sip_server"
    assert "accounts[1].sip_server: '' -> 'sip.provider.net'" in report["changed"]
    saved = load_config(tmp_path / "config.toml")
    assert [a.user_id for a in saved.accounts] == ["1001", "2002", ""]
    assert (tmp_path / "config.toml.bak.1").exists()
    check = subprocess.run([sys.executable, "-m", "tuiphone", "config", "check", str(tmp_path / "config.toml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_config_import_gs_refuses_a_broken_file_and_changes_nothing(tmp_path):
    (tmp_path / "config.txt").write_text("P47 = pbx.example.com\nP85 = 99\n")
    done = _cli(tmp_path, "config", "import-gs", str(tmp_path / "config.txt"))
    assert done.returncode == 2
    assert "nothing was changed" in done.stderr and "(from P85)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "config.toml.bak.1").exists()
