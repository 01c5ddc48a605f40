"""`tuiphone page` and `tuiphone listen` as a user runs them, inside a private network namespace:
the tone that is paged is the tone that is heard, for every codec, with no SIP involved."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.paging.procs import finish, start, tuiphone_argv, wait_for_stderr
from tuiphone.audio.analysis import has_tone, level_dbfs
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import read_wav, write_wav
from tuiphone.cli.paging import listen, page

pytestmark = pytest.mark.timeout(60)

# G.722 gets a tone G.711 cannot carry: it shows the wideband path end to end
CODECS = [("pcmu", "224.1.1.1:5004", 500.0), ("pcma", "224.1.1.2:5004", 1000.0), ("g722", "224.1.1.3:5004", 6000.0)]


def test_a_page_is_heard_by_a_listener_for_each_codec(netns, tmp_path):
    config = tmp_path / "none.toml"           # no config file: the commands need none
    listeners = {}
    for codec, group, _ in CODECS:
        argv = tuiphone_argv("listen", group, "--count", "1", "--duration", "20", "--json",
                             "--record", str(tmp_path / f"{codec}.wav"), config=config)
        listeners[codec] = start(netns, argv)
    for proc in listeners.values():
        wait_for_stderr(proc, "listening to")
    # PCMA pages a 44.1 kHz WAV file, played once; the others a tone for one second
    write_wav(tmp_path / "announce.wav", sine(1000, 1.0, rate=44100), 44100)
    what = {"pcma": ["--play", str(tmp_path / "announce.wav")]}
    pagers = {codec: start(netns, tuiphone_argv("page", group, "--codec", codec, "--json",
                                                *what.get(codec, ["--tone", str(freq), "--duration", "1"]),
                                                config=config))
              for codec, group, freq in CODECS}
    for codec, group, freq in CODECS:
        code, sent, _ = finish(pagers[codec])
        assert code == 0 and sent["packets"] == 50 and sent["codec"] == codec.upper(), sent
        code, heard, err = finish(listeners[codec])
        assert code == 0, err
        assert heard["group"] == group and heard["codec"] == codec.upper() and heard["pages"] == 1
        assert heard["packets"] == 50 and heard["lost"] == 0
        assert 0.9 <= heard["seconds"] <= 1.05 and abs(heard["level"] + 12) < 1.0, heard
        audio = read_wav(tmp_path / f"{codec}.wav")
        assert has_tone(audio[1600:-1600], 16000, freq, tol_hz=10, min_ratio=0.9), codec
        assert abs(level_dbfs(audio[1600:-1600]) + 12) < 1.0


def test_listen_with_no_page_says_so_and_fails(netns, tmp_path):
    proc = start(netns, tuiphone_argv("listen", "224.1.1.4:5004", "--duration", "0.3", config=tmp_path / "x"))
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert out.strip() == "224.1.1.4:5004: no page heard (0 packets)"


def _run_here(netns, tmp_path, command, args, port=None):
    """Run a paging command in this process (fast), its sockets in the namespace should it open any."""
    from dataclasses import fields

    from tuiphone.runtime import RunOptions as Common

    given = {"config": str(tmp_path / "config.toml"), "port": port, "bind": "127.0.0.1", "log_level": "warning"}
    common = Common(**{f.name: given.get(f.name) for f in fields(Common)})
    with netns.inside():
        return CliRunner().invoke(command, args, obj=common)


@pytest.mark.parametrize("command, args, port, message", [
    (page, ["239.1.1.1:5004", "--tone", "800"], None, "outside the paging range 224.0.1.0–238.255.255.255"),
    (page, ["224.1.1.1", "--tone", "800"], None, "the port is missing"),
    (page, ["224.1.1.1:5004"], None, "choose what to page: --play WAV or --tone HZ"),
    (page, ["224.1.1.1:5004", "--tone", "800", "--play", "x.wav"], None, "choose one of --play and --tone"),
    (page, ["224.1.1.1:5004", "--tone", "9000"], None, "--tone 9000 Hz is outside 20-7900 Hz"),
    (page, ["224.1.1.1:5004", "--play", "/no/such.wav"], None, "There is no WAV file at /no/such.wav"),
    (listen, ["224.1.1.1:5070"], 5070, "uses port 5070, which --port (SIP) already uses; pick another port"),
    (listen, ["224.1.1.1:5004", "--record", "/no/such/dir/x.wav"], None, "the folder /no/such/dir does not exist"),
])
def test_bad_groups_and_options_are_usage_errors(netns, tmp_path, command, args, port, message):
    result = _run_here(netns, tmp_path, command, args, port)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert result.stdout == "" and result.exception is None or isinstance(result.exception, SystemExit)


def test_a_port_the_config_gives_to_sip_is_refused(netns, tmp_path):
    (tmp_path / "config.toml").write_text("[sip]\nport = 5090\n")
    result = _run_here(netns, tmp_path, page, ["224.1.1.1:5090", "--tone", "800"])
    assert result.exit_code == 2
    assert "paging group 224.1.1.1:5090 uses port 5090, which sip.port already uses; pick another port" \
        in result.stderr
