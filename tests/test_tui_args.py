"""The plain `tuiphone` read without click (tuiphone/tui_args.py) reads each command line it takes as the click
group does, and leaves every other one to click."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tuiphone import cli
from tuiphone.tui_args import plain_tui

TAKEN = [
    [],
    ["--standalone"],
    ["--config", "work.toml"],
    ["--config=work.toml", "--port", "5062", "--bind", "127.0.0.1"],
    ["--port", "0", "--port", "65535"],                                  # given twice: the last one
    ["--data-dir", "d", "--log-level", "debug", "--sip-trace", "t.txt", "--pcap", "s.pcap", "--pcap-full",
     "f.pcapng", "--standalone"],
    ["--log-level=error", "--config", "a b.toml"],
]
LEFT = [
    ["call", "1002"], ["--help"], ["-h"], ["--version"], ["--port", "65536"], ["--port", "+5062"],
    ["--port", " 5062"], ["--port", "5_062"], ["--port", "x"], ["--log-level", "DEBUG"], ["--config"],
    ["--config", ""], ["--config", "--port"], ["--pcap", "."], ["--conf", "x.toml"], ["--", "call"],
    ["--standalone", "daemon"], ["--port"],
]


def clicks_reading(argv: list[str], monkeypatch) -> tuple[object, bool]:
    """What the click group gives `_run_tui` for argv (the TUI itself not run)."""
    got: list[tuple[object, bool]] = []
    monkeypatch.setattr(cli, "_run_tui", lambda opts, standalone=False: got.append((opts, standalone)))
    cli.main.main(argv, standalone_mode=False)
    assert len(got) == 1, f"click ran no TUI for {argv}"
    return got[0]


@pytest.mark.parametrize("argv", TAKEN, ids=" ".join)
def test_a_plain_tuiphone_is_read_as_click_reads_it(argv, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUIPHONE_CONFIG", raising=False)
    assert plain_tui(argv) == clicks_reading(argv, monkeypatch)


def test_the_config_from_the_environment_is_read_as_click_reads_it(monkeypatch):
    monkeypatch.setenv("TUIPHONE_CONFIG", "from-env.toml")
    assert plain_tui(["--port", "5062"]) == clicks_reading(["--port", "5062"], monkeypatch)
    assert plain_tui(["--config", "given.toml"])[0].config == "given.toml"
    monkeypatch.setenv("TUIPHONE_CONFIG", "")
    assert plain_tui([]) is None


@pytest.mark.parametrize("argv", LEFT, ids=" ".join)
def test_anything_but_a_plain_tuiphone_is_left_to_click(argv, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUIPHONE_CONFIG", raising=False)
    assert plain_tui(argv) is None


def test_a_plain_tuiphone_imports_no_click_and_says_a_bad_config_as_a_sentence(tmp_path):
    """Through `python -m tuiphone`: a config with a mistake ends the start with its sentence and exit 2, as
    the click group says it, and click was never imported."""
    config = tmp_path / "bad.toml"
    config.write_text("[phone]\nlanguage = 5\n")
    probe = ("import sys, runpy; sys.argv = ['tuiphone'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('tuiphone', run_name='__main__')\n"
             "finally:\n    print('click imported' if 'click' in sys.modules else 'no click', file=sys.stderr)\n")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", probe, "--config", str(config), "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("tuiphone: ") and "language" in out.stderr, out.stderr
    assert out.stderr.rstrip().endswith("no click"), out.stderr
    via_click = subprocess.run([sys.executable, "-m", "tuiphone", "--config", str(config), "--data-dir",
                                str(tmp_path / "d"), "--log-level", "info", "--help"], capture_output=True,
                               text=True, timeout=60, env=env)
    assert via_click.returncode == 0 and "Usage:" in via_click.stdout


def test_a_ctrl_c_while_the_phone_starts_is_said_as_click_says_it_not_as_a_traceback(monkeypatch, capsys):
    import tuiphone.attach
    from tuiphone.tui_args import run_tui

    def interrupted(options):
        raise KeyboardInterrupt
    monkeypatch.setattr(tuiphone.attach, "run_attached", interrupted)
    monkeypatch.delenv("TUIPHONE_CONFIG", raising=False)
    options, standalone = plain_tui([])
    assert run_tui(options, standalone) == 1
    assert capsys.readouterr().err == "Aborted!\n"
