"""The command line: bad input gets a sentence and exit code 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.phoneproc import sip_port


def run(*args: str, config: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "tuiphone"]
    if config is not None:
        argv += ["--config", str(config)]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def good_config(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[sip]\nport = 0\n")
    return path


def assert_clean_usage_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_config_check_accepts_the_example():
    proc = run("config", "check", str(Path(__file__).resolve().parents[1] / "config.toml.example"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK")


def test_config_with_a_syntax_error_names_the_line_and_is_left_alone(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[phone]\nlines = 6\nlanguage = en\n")
    before = path.read_bytes()
    proc = run("call", "127*0*0*1#5070", config=path)
    assert_clean_usage_error(proc, "line 3")
    assert path.read_bytes() == before


def test_config_with_a_bad_value_names_the_key_and_allowed_values(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[accounts]]\nsip_server = "pbx"\nuser_id = "1"\n[[accounts]]\nsip_server = "pbx"\n'
                    'user_id = "2"\nsrtp = "maybe"\n')
    proc = run("register", config=path)
    assert_clean_usage_error(proc, "accounts[1].srtp", "off, optional, mandatory")


def test_first_run_writes_the_default_config(tmp_path):
    path = tmp_path / "new" / "config.toml"
    proc = run("--port", "0", "--bind", "127.0.0.1", "call", "999*1*1*1", "--json", config=path)
    assert path.exists()
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["result"] == "failed"


@pytest.mark.parametrize("args, words", [
    (["call", "x", "--tone", "5"], ["--tone"]),
    (["call", "x", "--dtmf", "12x"], ["DTMF"]),
    (["call", "x", "--play", "/nonexistent.wav"], ["nonexistent.wav"]),
    (["call", "x", "--record", "/no/such/dir/a.wav"], ["does not exist"]),
    (["call", "x", "--account", "0"], ["--account"]),
    (["call", "x", "--tone", "440", "--play", "a.wav"], ["one of"]),
    (["answer", "--count", "0"], ["--count"]),
    (["options", "not a host"], ["not a SIP address"]),
    (["options", "sip:h:99999"], ["out of range"]),
    (["call"], ["TARGET"]),
])
def test_bad_options_are_usage_errors(good_config, args, words):
    assert_clean_usage_error(run(*args, config=good_config), *words)


def test_number_with_no_account_is_refused_with_a_sentence(good_config):
    proc = run("--port", "0", "--bind", "127.0.0.1", "call", "1002", "--json", config=good_config)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["result"] == "failed"
    assert "no account" in report["reason"]


def test_dial_plan_blocks_before_any_sip(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[accounts]]\nsip_server = "127.0.0.1:9"\nuser_id = "1"\nregister = false\n'
                    'dial_plan = "{ ^1900x+ | x+ }"\n')
    proc = run("--port", "0", "--bind", "127.0.0.1", "--sip-trace", str(tmp_path / "t.txt"), "call",
               "19005551234", "--json", config=path)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["result"] == "blocked_by_dial_plan"
    assert "INVITE" not in (tmp_path / "t.txt").read_text()


def test_register_without_an_account_says_what_to_set(good_config):
    proc = run("--port", "0", "--bind", "127.0.0.1", "register", "--json", config=good_config)
    assert proc.returncode == 2
    assert "no account 1" in proc.stderr


def test_busy_sip_port_is_a_usage_error_that_names_the_option(good_config):
    import socket
    port = sip_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        proc = run("--port", str(port), "--bind", "127.0.0.1", "call", "127*0*0*1#5070", config=good_config)
    assert_clean_usage_error(proc, f"SIP UDP port {port}", "choose another port with --port")
    assert "Aborted" not in proc.stderr


def test_busy_sip_port_from_the_config_names_the_key_for_the_daemon_too(tmp_path):
    import socket
    port = sip_port()
    path = tmp_path / "config.toml"
    path.write_text(f'[sip]\nport = {port}\nbind_address = "127.0.0.1"\n')
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        for command in ("daemon", "call"):
            args = [command, "127*0*0*1#5070"] if command == "call" else [command]
            proc = run("--data-dir", str(tmp_path / "data"), *args, config=path)
            assert_clean_usage_error(proc, f"SIP UDP port {port}", "set another port in sip.port")


def test_common_options_work_after_the_command_as_before_it(tmp_path):
    """`tuiphone call X --pcap f` is `tuiphone --pcap f call X`: every common option, in either place."""
    for where in ("before", "after"):
        folder = tmp_path / where
        folder.mkdir()
        common = ["--config", str(folder / "new.toml"), "--data-dir", str(folder / "data"), "--port", "0",
                  "--bind", "127.0.0.1", "--log-level", "info", "--sip-trace", str(folder / "sip.txt"),
                  "--pcap", str(folder / "sip.pcap")]
        command = ["call", "999*1*1*1", "--json"]
        proc = run(*(common + command if where == "before" else command + common))
        assert proc.returncode == 1, (where, proc.stderr)
        assert json.loads(proc.stdout)["result"] == "failed"
        assert f"wrote a default config to {folder / 'new.toml'}" in proc.stderr, (where, proc.stderr)
        assert (folder / "new.toml").exists() and (folder / "sip.txt").exists(), where
        assert (folder / "sip.pcap").read_bytes()[:4] == bytes.fromhex("d4c3b2a1"), where    # a pcap header
    proc = run("config", "check", "--config", str(tmp_path / "after" / "new.toml"))
    assert proc.returncode == 0 and str(tmp_path / "after" / "new.toml") in proc.stdout, proc


# every command of `tuiphone`, as the group had them all registered before they loaded on demand
COMMANDS = {"answer", "audio", "call", "config", "ctl", "daemon", "listen", "load", "options", "page", "phonebook",
            "register", "stop", "web"}


def test_help_lists_every_command_and_each_one_loads_with_the_common_options():
    import click

    from tuiphone.cli import main

    proc = run("--help")
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == COMMANDS
    ctx = click.Context(main)
    for name in sorted(COMMANDS):
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        options = {opt for p in command.params for opt in p.opts}
        assert {"--config", "--pcap", "--log-level"} <= options, name      # `tuiphone call X --pcap f` too
    status = main.get_command(ctx, "ctl").get_command(ctx, "status")       # and under a group of commands
    assert "--config" in {opt for p in status.params for opt in p.opts}


def test_the_plain_tuiphone_loads_no_command_module():
    code = ("import sys, json, tuiphone.cli, tuiphone.attach; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tuiphone.cli.'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == ["tuiphone.cli.common"]
