"""The config file: defaults, the example, error messages a user reads, and safe saving."""

from __future__ import annotations

import os
import stat
import tomllib
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tuiphone import config as cfgmod
from tuiphone.config import (
    AccountConfig,
    Config,
    ConfigError,
    check_config_cli,
    config_to_dict,
    default_config_text,
    example_config_text,
    load_config,
    load_or_create,
    parse_config_text,
    save_config,
    validation_problems,
)
from tuiphone.config.problems import _unwrap

EXAMPLE = Path(__file__).resolve().parent.parent / "config.toml.example"
ACCOUNT = '[[accounts]]\nsip_server = "pbx.example.com"\nuser_id = "1001"\n'
SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


def problems_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "c.toml")
    return str(caught.value)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- defaults and the example


def test_defaults_are_the_ones_spec_gives() -> None:
    cfg = Config()
    phone = cfg.phone
    assert (phone.language, phone.lines, phone.time_format, phone.timezone) == ("en", 6, "24h", "system")
    assert (cfg.sip.port, cfg.sip.transports, cfg.sip.bind_address) == (5060, ["udp", "tcp"], "")
    assert (cfg.sip.tls.verify_server, cfg.sip.tls.port) == (True, 5061)
    assert (cfg.audio.input_device, cfg.audio.sample_rate, cfg.audio.tone_region) == ("default", 16000, "us")
    assert cfg.accounts == [] and cfg.keys == [] and cfg.paging.listen == []
    assert (cfg.features.record, cfg.features.conference_max, cfg.features.lock_hold_seconds) == ("manual", 5, 4)
    assert (cfg.paging.codec, cfg.paging.ptime, cfg.paging.barge, cfg.paging.barge_action) == ("PCMU", 20, 0, "hold")
    assert (cfg.cti.enabled, cfg.cti.listen) == (False, "127.0.0.1:8088")
    assert set(config_to_dict(cfg)["action_url"].values()) == {""}
    assert len(type(cfg.action_url).model_fields) == 18
    assert (cfg.syslog.level, cfg.phonebook.remove_edited_on_download) == ("off", True)
    account = AccountConfig(register=False)
    assert account.dial_plan == r"{ x+ | \+x+ | *x+ | *xx*x+ }"
    assert (account.transport, account.srtp, account.reg_expires, account.voicemail) == ("udp", "off", 60, "*97")
    # issue 12: a registrar that went away or restarted is noticed within about a minute
    assert (account.options_keepalive, account.options_interval, account.options_max_lost) == (True, 20, 2)
    assert cfg.features.rtp_timeout == 30
    assert (account.codecs, account.dtmf, account.no_key_timeout) == (["G722", "PCMU", "PCMA"], "rfc2833", 4)


def test_an_empty_file_means_all_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


def test_example_loads_with_three_accounts_like_the_gxp1760w() -> None:
    cfg = load_config(EXAMPLE)
    assert [a.enabled for a in cfg.accounts] == [True, False, False]
    assert cfg.accounts[0].sip_server == "pbx.example.com"
    assert len(cfg.features.ring_rules) == len(cfg.paging.listen) == len(cfg.keys) == 1


def _missing_keys(model: type[BaseModel], data: Any, where: str) -> list[str]:
    """Every field of `model` (and of the models inside it) that `data` lacks."""
    missing = []
    for name, info in model.model_fields.items():
        if name not in data:
            missing.append(f"{where}{name}")
            continue
        annotation = _unwrap(info.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            missing += _missing_keys(annotation, data[name], f"{where}{name}.")
        elif get_origin(annotation) is list:
            item = _unwrap(get_args(annotation)[0])
            if isinstance(item, type) and issubclass(item, BaseModel):
                if not data[name]:
                    missing.append(f"{where}{name} (no example entry)")
                for index, entry in enumerate(data[name]):
                    missing += _missing_keys(item, entry, f"{where}{name}[{index}].")
    return missing


def test_example_shows_every_key_of_every_model() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert _missing_keys(Config, data, "") == []


def test_example_comments_every_key_and_matches_the_schema() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    key_lines = [line for line in text.splitlines() if " = " in line and not line.startswith("#")]
    assert len(key_lines) > 100
    assert [line for line in key_lines if "  # " not in line] == []
    # The example is generated from the schema; regenerate it with `python -m tuiphone.config`.
    assert text == example_config_text()


def test_uncommenting_the_account_template_of_the_default_file_adds_an_account() -> None:
    lines = default_config_text().splitlines()
    start = lines.index("# [[accounts]]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    edited = "\n".join(lines[:start] + block + lines[start + len(block) :])
    cfg = parse_config_text(edited)
    assert [(a.sip_server, a.user_id) for a in cfg.accounts] == [("pbx.example.com", "1001")]


# ---------------------------------------------------------------- error messages


def test_toml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[phone]\nlanguage = "en"\nlines = \n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: line 3, column 9: Invalid value"
    assert caught.value.line == 3


def test_bad_enum_names_key_path_allowed_values_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, ACCOUNT + ACCOUNT + 'srtp = "maybe"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: accounts[1].srtp: must be one of off, optional, mandatory (got 'maybe')"


def test_unknown_key_is_named_with_a_suggestion() -> None:
    assert problems_of(ACCOUNT + "srtpp = 1\n") == "c.toml: accounts[0].srtpp: unknown key (did you mean 'srtp'?)"
    assert problems_of("[fone]\n") == "c.toml: fone: unknown key (did you mean 'phone'?)"


def test_every_problem_gets_its_own_line() -> None:
    lines = problems_of('[phone]\nlines = 30\nlanguage = "fr"\n[sip]\nport = "5060"\ntransports = []\n').splitlines()
    assert lines == [
        "c.toml: phone.language: must be one of en, zh_CN (got 'fr')",
        "c.toml: phone.lines: must be between 1 and 24 (got 30)",
        "c.toml: sip.port: must be a whole number (got '5060')",
        "c.toml: sip.transports: must not be empty (got [])",
    ]


def test_rtp_timeout_is_seconds_from_0_to_3600() -> None:
    assert problems_of("[features]\nrtp_timeout = -1\n") == (
        "c.toml: features.rtp_timeout: must be between 0 and 3600 (got -1)")
    assert "features.rtp_timeout: must be a whole number" in problems_of('[features]\nrtp_timeout = "30"\n')
    assert parse_config_text("[features]\nrtp_timeout = 0\n", "c.toml").features.rtp_timeout == 0


def test_values_must_have_their_toml_type() -> None:
    assert "accounts[0].register: must be true or false (got 1)" in problems_of(ACCOUNT + "register = 1\n")
    assert "phone.admin_password: must be text in quotes (got 1234)" in problems_of("[phone]\nadmin_password = 1234\n")


def test_cti_enabled_needs_a_passcode_or_admin_password() -> None:
    assert problems_of("[cti]\nenabled = true\n") == (
        "c.toml: cti.passcode: is empty and so is phone.admin_password; set one of them, "
        "or set cti.enabled = false"
    )
    assert parse_config_text('[cti]\nenabled = true\npasscode = "9876"\n').cti.enabled
    assert parse_config_text('[phone]\nadmin_password = "1"\n[cti]\nenabled = true\n').cti.enabled


@pytest.mark.parametrize("address", ["224.0.1.0:4009", "238.255.255.255:1", "230.1.2.3:65535"])
def test_paging_groups_inside_the_multicast_range_load(address: str) -> None:
    cfg = parse_config_text(f'[[paging.listen]]\naddress = "{address}"\n')
    assert cfg.paging.listen[0].address == address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("224.0.0.255:4009", "outside the paging range 224.0.1.0–238.255.255.255"),
        ("239.0.0.1:4009", "outside the paging range"),
        ("10.0.0.1:4009", "outside the paging range"),
        ("224.1.1.1", "the port is missing"),
        ("224.1.1.1:0", "the port must be a number from 1 to 65535"),
        ("paging.local:4009", "is not an IPv4 address"),
    ],
)
def test_paging_groups_outside_the_multicast_range_are_refused(address: str, reason: str) -> None:
    message = problems_of(f'[[paging.listen]]\naddress = "{address}"\n')
    assert message.startswith("c.toml: paging.listen[0].address: must be a multicast address and port")
    assert reason in message


def test_at_most_ten_paging_groups_and_no_port_clash_with_sip() -> None:
    groups = "".join(f'[[paging.listen]]\naddress = "224.1.1.{i}:4009"\n' for i in range(1, 12))
    assert problems_of(groups) == "c.toml: paging.listen: has 11 entries; at most 10 are allowed"
    clash = problems_of('[[paging.listen]]\naddress = "224.1.1.1:5060"\n')
    assert clash == "c.toml: paging.listen[0].address: uses port 5060, which sip.port already uses; pick another port"


def test_registering_account_needs_a_server_but_direct_call_accounts_do_not() -> None:
    assert problems_of("[[accounts]]\nuser_id = \"1001\"\n") == (
        "c.toml: accounts[0].sip_server: is empty; set it, or set register = false to make direct calls only"
    )
    assert parse_config_text("[[accounts]]\nregister = false\n").accounts[0].sip_server == ""
    assert not parse_config_text("[[accounts]]\nenabled = false\n").accounts[0].enabled


@pytest.mark.parametrize(
    "server", ["pbx.example.com", "pbx.example.com:5080", "192.0.2.10", "[2001:db8::1]:5060", "[::1]"]
)
def test_sip_server_accepts_host_ipv4_and_bracketed_ipv6(server: str) -> None:
    assert parse_config_text(ACCOUNT.replace("pbx.example.com", server)).accounts[0].sip_server == server


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        ("sip:pbx.example.com", "without the 'sip:' prefix"),
        ("2001:db8::1", "an IPv6 address needs brackets"),
        ("pbx.example.com:99999", "the port must be a number from 1 to 65535"),
        ("300.1.1.1", "'300.1.1.1' is not a valid IPv4 address"),
        ("pbx_example.com", "is not a valid host name"),
        ("pbx example.com", "must be host[:port]"),
    ],
)
def test_sip_server_refuses_what_is_not_host_port(server: str, reason: str) -> None:
    message = problems_of(ACCOUNT.replace("pbx.example.com", server))
    assert message.startswith("c.toml: accounts[0].sip_server: ") and reason in message


def test_codecs_are_checked_case_insensitively_and_normalised() -> None:
    cfg = parse_config_text(ACCOUNT + 'codecs = ["pcmu", "ILBC", "g722"]\n')
    assert cfg.accounts[0].codecs == ["PCMU", "iLBC", "G722"]
    assert problems_of(ACCOUNT + 'codecs = ["PCMU", "opus"]\n') == (
        "c.toml: accounts[0].codecs[1]: must be one of G722, PCMU, PCMA, speex, iLBC, GSM (got 'opus')"
    )
    assert "lists 'PCMU' more than once" in problems_of(ACCOUNT + 'codecs = ["PCMU", "pcmu"]\n')


@pytest.mark.parametrize(
    "zone", ["system", "Asia/Shanghai", "UTC", "MTZ-8MDT-8,M3.2.0,M11.1.0", "CST-8", "<+0330>-3:30"]
)
def test_timezone_accepts_system_iana_and_posix(zone: str) -> None:
    assert parse_config_text(f'[phone]\ntimezone = "{zone}"\n').phone.timezone == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "MTZ-8MDT-8,M13.2.0,M11.1.0", "../etc/passwd"])
def test_timezone_refuses_unknown_names(zone: str) -> None:
    assert problems_of(f'[phone]\ntimezone = "{zone}"\n').startswith('c.toml: phone.timezone: must be "system"')


def test_account_transport_must_be_opened_and_key_account_must_exist() -> None:
    text = ACCOUNT + 'transport = "tls"\n[[keys]]\nmode = "speed_dial"\naccount = 2\nvalue = "200"\n'
    assert problems_of(text).splitlines() == [
        'c.toml: accounts[0].transport: is "tls" but sip.transports does not open it; add "tls" to sip.transports',
        "c.toml: keys[0].account: is 2 but there is only 1 [[accounts]] block (numbered from 1)",
    ]


def test_devices_ringtones_and_tls_port_are_checked() -> None:
    cfg = parse_config_text('[audio]\ninput_device = 2\noutput_device = "file:/tmp/out.wav"\n')
    assert (cfg.audio.input_device, cfg.audio.output_device) == ("2", "file:/tmp/out.wav")
    assert problems_of('[audio]\ninput_device = "file:/tmp/in.mp3"\n') == (
        "c.toml: audio.input_device: a file device must name a WAV file, like \"file:/tmp/in.wav\" "
        "(got 'file:/tmp/in.mp3')"
    )
    assert problems_of(ACCOUNT + 'ringtone = "ring9"\n') == (
        "c.toml: accounts[0].ringtone: must be ring1, ring2, ring3 or the path of a .wav file (got 'ring9')"
    )
    assert problems_of('[sip]\ntransports = ["udp", "tcp", "tls"]\n[sip.tls]\nport = 5060\n') == (
        "c.toml: sip.tls.port: is the same as sip.port (5060); TCP and TLS need different ports"
    )


def test_auth_id_falls_back_to_user_id() -> None:
    assert AccountConfig(user_id="1001", sip_server="pbx").effective_auth_id == "1001"
    assert AccountConfig(user_id="1001", auth_id="a1001", sip_server="pbx").effective_auth_id == "a1001"


def test_settings_changed_in_code_are_validated_with_the_same_messages() -> None:
    cfg = parse_config_text(ACCOUNT)
    with pytest.raises(ValidationError) as caught:
        cfg.accounts[0].srtp = "sometimes"  # type: ignore[assignment]
    assert validation_problems(caught.value, ("accounts", 0)) == [
        "accounts[0].srtp: must be one of off, optional, mandatory (got 'sometimes')"
    ]


# ---------------------------------------------------------------- files


def test_missing_directory_unreadable_and_non_utf8_files_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such config file; check the path$"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory, not a config file"):
        load_config(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[phone]\nidle_text = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml: line 2: is not UTF-8 text"):
        load_config(latin)
    path = write(tmp_path, "")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)  # tests run as root, so chmod 000 would not stop them
    with pytest.raises(ConfigError, match="cannot be read \\(permission denied\\); check its permissions"):
        load_config(path)


@pytest.mark.parametrize("text", ['[phone]\nlines = \n', ACCOUNT + 'srtp = "maybe"\n', "[cti]\nenabled = true\n"])
def test_a_failing_load_leaves_the_file_untouched(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with pytest.raises(ConfigError):
        load_config(path)
    with pytest.raises(ConfigError):
        load_or_create(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_save_keeps_a_backup_replaces_atomically_and_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, ACCOUNT)
    path.chmod(0o640)
    original = path.read_bytes()
    cfg = load_config(path)
    cfg.accounts[0].password = 'pa"ss\\wörd'
    cfg.phone.lines = 8
    save_config(cfg, path)
    assert (tmp_path / "config.toml.bak.1").read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.bak.1"]  # no temp file left
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_config(path) == cfg


def test_a_new_file_is_written_whole_with_every_key(tmp_path: Path) -> None:
    cfg = parse_config_text(ACCOUNT)
    cfg.phone.lines = 8
    path = tmp_path / "config.toml"
    save_config(cfg, path)
    assert load_config(path) == cfg
    # Every key is written out; only empty [[...]] lists cannot be, and appear as commented examples.
    assert tomllib.loads(path.read_text(encoding="utf-8")) == _without_empty_lists(config_to_dict(cfg))


def _without_empty_lists(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _without_empty_lists(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value != [] or key not in ("accounts", "keys", "ring_rules", "listen")
    }


def test_a_new_saved_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    save_config(Config(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (tmp_path / "new" / "config.toml.bak.1").exists()


def test_a_failed_save_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, ACCOUNT)
    original = path.read_bytes()
    bad = load_config(path).model_copy(update={"phone": cfgmod.PhoneConfig.model_construct(lines=99)})
    with pytest.raises(ConfigError, match="phone.lines: must be between 1 and 24"):
        save_config(bad, path)
    assert path.read_bytes() == original

    real_replace = os.replace

    def disk_full(src: str, dst: str) -> None:
        if str(dst) == str(path):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(ConfigError, match="cannot be saved: No space left on device; nothing was changed"):
        save_config(Config(), path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.bak.1"]


def test_save_writes_through_a_symlinked_config(tmp_path: Path) -> None:
    real = write(tmp_path, ACCOUNT, "dotfiles.toml")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    save_config(Config(), link)
    assert link.is_symlink() and load_config(real) == Config()


def test_first_run_writes_the_default_config_once(tmp_path: Path) -> None:
    path = tmp_path / "tuiphone" / "config.toml"
    cfg, created = load_or_create(path)
    assert created and cfg == Config()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    assert first.decode().startswith("# tuiphone configuration")
    cfg, created = load_or_create(path)
    assert not created and cfg == Config() and path.read_bytes() == first


def test_an_existing_config_is_loaded_not_replaced(tmp_path: Path) -> None:
    path = write(tmp_path, "[phone]\nlines = 3\n")
    cfg, created = load_or_create(path)
    assert (created, cfg.phone.lines, path.read_text()) == (False, 3, "[phone]\nlines = 3\n")


def test_config_check_reports_ok_with_a_summary_or_the_problems(tmp_path: Path) -> None:
    code, text = check_config_cli(EXAMPLE)
    assert code == 0
    assert text == (
        f"OK: {EXAMPLE}: 3 accounts (1 enabled, 1 registering), 6 lines, SIP on port 5060 over udp/tcp, CTI off"
    )
    bad = write(tmp_path, ACCOUNT + 'srtp = "maybe"\n')
    srtp_problem = "accounts[0].srtp: must be one of off, optional, mandatory (got 'maybe')"
    assert check_config_cli(str(bad)) == (2, f"{bad}: {srtp_problem}")
    missing = tmp_path / "none.toml"
    assert check_config_cli(missing) == (2, f"{missing}: no such config file; check the path")
    assert not (tmp_path / "none.toml").exists()


def test_config_check_of_the_default_file_before_first_start_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUIPHONE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code, text = check_config_cli()
    assert (code, text) == (2, f"{tmp_path}/tuiphone/config.toml: no config file yet; "
                               "tuiphone writes this default one when it first starts")
    assert not (tmp_path / "tuiphone").exists()


# ---------------------------------------------------------------- properties


@SETTINGS
@given(port=st.integers(0, 65535))
def test_any_valid_port_loads(port: int) -> None:
    assert parse_config_text(f"[sip]\nport = {port}\n").sip.port == port


@SETTINGS
@given(port=st.one_of(st.integers(max_value=-1), st.integers(min_value=65536)))
def test_any_port_out_of_range_is_refused_by_name(port: int) -> None:
    assert problems_of(f"[sip]\nport = {port}\n") == f"c.toml: sip.port: must be between 0 and 65535 (got {port})"


@SETTINGS
@given(junk=TEXT.filter(lambda s: s not in ("off", "optional", "mandatory")))
def test_any_other_srtp_value_is_refused_with_its_key_path(junk: str) -> None:
    text = ACCOUNT + ACCOUNT + tomli_w.dumps({"srtp": junk})
    message = problems_of(text)
    assert message.startswith("c.toml: accounts[1].srtp: must be one of off, optional, mandatory (got ")


@SETTINGS
@given(password=TEXT, display=TEXT, idle=TEXT, lines=st.integers(1, 24))
def test_saved_configs_load_back_unchanged(tmp_path: Path, password: str, display: str, idle: str, lines: int) -> None:
    cfg = Config.model_validate(
        {
            "phone": {"idle_text": idle, "lines": lines},
            "accounts": [{"sip_server": "pbx", "user_id": "1", "password": password, "display_name": display}],
        }
    )
    path = tmp_path / "round.toml"
    save_config(cfg, path)
    assert load_config(path) == cfg


# ---------------------------------------------------------------- saving into a hand-written file

HAND_WRITTEN = """\
# My desk phone. Keep this short!
[phone]
language = "en"
lines = 4            # four lines are plenty

[audio]
speaker_volume = 80  # loud office
ring_volume = 60

[features]
dnd = false          # quiet hours: true

# the office PBX
[[accounts]]
name = "Office"
sip_server = "pbx.example.com"
user_id = "1001"
password = 'old secret'   # from IT

# the home line
[[accounts]]
name = "Home"
sip_server = "home.example.net"
user_id = "2002"
"""


def _changed_lines(before: str, after: str) -> list[str]:
    import difflib

    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.mark.parametrize("change, diff", [
    (lambda c: setattr(c.features, "dnd", True),
     ["-dnd = false          # quiet hours: true", "+dnd = true          # quiet hours: true"]),
    (lambda c: setattr(c.audio, "ring_volume", 35), ["-ring_volume = 60", "+ring_volume = 35"]),
    # the file's literal string stays one (tomlkit 0.15.3 on); tomlkit before 0.15.3 wrote a basic string
    (lambda c: setattr(c.accounts[0], "password", "new secret"),
     ["-password = 'old secret'   # from IT", "+password = 'new secret'   # from IT"]),
    (lambda c: setattr(c.accounts[0], "password", "it's new"),      # no literal string can hold it
     ["-password = 'old secret'   # from IT", '''+password = "it's new"   # from IT''']),
])
def test_saving_one_setting_changes_only_its_line_and_keeps_the_comments(tmp_path: Path, change, diff) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    cfg = load_config(path)
    change(cfg)
    save_config(cfg, path)
    after = path.read_text(encoding="utf-8")
    changed = _changed_lines(HAND_WRITTEN, after)
    if tuple(int(n) for n in package_version("tomlkit").split(".")[:3]) < (0, 15, 3):
        changed = [line.replace('"new secret"', "'new secret'") for line in changed]
    assert changed == diff
    assert "# My desk phone. Keep this short!" in after and "# the home line" in after
    assert load_config(path) == cfg


def test_a_key_the_file_leaves_out_is_added_with_its_comment_only_when_not_default(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    cfg = load_config(path)
    cfg.sip.stun_server = "stun.example.com"
    cfg.accounts[1].srtp = "optional"
    save_config(cfg, path)
    added = [line for line in _changed_lines(HAND_WRITTEN, path.read_text(encoding="utf-8")) if line != "+"]
    assert all(line.startswith("+") for line in added), added
    assert '+srtp = "optional" # Media encryption: off | optional | mandatory' in added
    assert any(line.startswith('+stun_server = "stun.example.com"') for line in added)
    assert "+[sip]" in added
    assert load_config(path) == cfg


def test_accounts_added_and_deleted_are_appended_and_removed_in_place(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    cfg = load_config(path)
    cfg.accounts.append(AccountConfig(name="Lab", sip_server="127.0.0.1:5070", user_id="3003", password="p"))
    save_config(cfg, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HAND_WRITTEN)
    assert text[len(HAND_WRITTEN):].count("[[accounts]]") == 1 and 'user_id = "3003"' in text
    assert "enabled" not in text      # defaults are not written out
    assert load_config(path) == cfg

    del cfg.accounts[1]              # the middle block goes with its comment; the others keep their text
    save_config(cfg, path)
    text = path.read_text(encoding="utf-8")
    assert "Home" not in text and "# the home line" not in text and "# the office PBX" in text
    assert "password = 'old secret'   # from IT\n" in text
    assert [a.name for a in load_config(path).accounts] == ["Office", "Lab"]

    cfg.accounts.insert(1, AccountConfig(name="Mid", register=False))   # between two: the comments stay put
    cfg.accounts[0].user_id = "1009"
    save_config(cfg, path)
    text = path.read_text(encoding="utf-8")
    assert text.index("# the office PBX") < text.index('"Office"') < text.index('"Mid"') < text.index('"Lab"')
    assert 'user_id = "1009"\npassword' in text
    assert [a.name for a in load_config(path).accounts] == ["Office", "Mid", "Lab"]


def test_backups_are_numbered_newest_first_and_five_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    cfg = load_config(path)
    saved = [path.read_text(encoding="utf-8")]
    for volume in range(1, 8):
        cfg.audio.ring_volume = volume
        save_config(cfg, path)
        saved.append(path.read_text(encoding="utf-8"))
    backups = sorted(p.name for p in tmp_path.iterdir() if p.name != "config.toml")
    assert backups == [f"config.toml.bak.{n}" for n in range(1, 6)]
    for n in range(1, 6):      # .bak.1 is the file before the last save, .bak.5 five saves back
        assert (tmp_path / f"config.toml.bak.{n}").read_text(encoding="utf-8") == saved[-1 - n]


def test_saving_an_unchanged_config_leaves_the_file_and_the_backups_alone(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    save_config(load_config(path), path)
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_keymap_entry_removed_is_removed_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[keymap]\nhold = "H"   # capital\nmute = "M"\n')
    cfg = load_config(path)
    cfg.keymap = cfgmod.KeymapConfig.model_validate({"hold": "H"})
    save_config(cfg, path)
    assert path.read_text(encoding="utf-8") == '[keymap]\nhold = "H"   # capital\n'
