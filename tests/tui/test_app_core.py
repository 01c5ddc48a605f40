"""The app's plumbing: string tables, the language switch, logging to a file, engine events as messages."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

from tests.tui.conftest import build, screen_text, until
from tuiphone import i18n
from tuiphone.engine.events import Notice
from tuiphone.tui_run import log_to_file

PACKAGE = Path(i18n.__file__).parent
# words that stay as they are in the Chinese UI: protocol and product names
KEEP_IN_CHINESE = {"SIP", "IP", "DTMF", "MOS", "RTT", "URI", "TLS", "UDP", "TCP", "Python", "Textual",
                   "pjsip", "pjsua", "tuiphone", "OS", "IPv6", "RTP", "SDP", "OK", "AM", "PM",
                   "Tab", "Esc", "Alt", "End", "DNS", "MAC", "ID",
                   "NetworkManager", "nmcli", "polkit", "CTI", "URL", "Action", "syslog", "ms", "Hz", "dB", "python",
                   # tool and package names, SIP methods: the same words in a Chinese UI
                   "dumpcap", "Wireshark", "tshark", "Debian", "wireshark", "common", "INVITE", "pjmedia",
                   "STUN", "NAT", "RTCP"}


def test_both_languages_have_the_same_keys():
    en = json.loads((PACKAGE / "locale" / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((PACKAGE / "locale" / "zh_CN.json").read_text(encoding="utf-8"))
    assert sorted(set(en) ^ set(zh)) == []


def test_every_key_the_code_uses_is_in_the_tables():
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "engine" in path.parts or "audio" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", text))
        used |= set(re.findall(r"""SoftKey\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", text))
        used |= set(re.findall(r"""MenuEntry\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", text))
    assert used, "the scan found no keys at all"
    missing = sorted(k for k in used if k not in i18n.table("en"))
    assert missing == []


def test_chinese_table_has_no_english_left():
    english = []
    for key, text in i18n.table("zh_CN").items():
        # config keys (dial_plan) and {fields} are names, not English
        words = {w for w in re.findall(r"[A-Za-z_]{2,}", re.sub(r"\{[^}]*\}", "", text)) if "_" not in w}
        if words - KEEP_IN_CHINESE:
            english.append((key, text))
    assert english == []


def test_unknown_language_is_refused_with_the_choices():
    try:
        i18n.set_language("fr")
    except ValueError as exc:
        assert "en, zh_CN" in str(exc)
    else:
        raise AssertionError("fr was accepted")


async def test_switching_to_chinese_relabels_the_screen_at_once():
    app, _ = build()
    async with app.run_test(size=(80, 24)) as pilot:
        assert "no audio device" in screen_text(app)
        app.switch_language("zh_CN")
        await until(pilot, lambda: "无音频设备" in screen_text(app))
        assert "输入号码拨号" in screen_text(app)
        assert "Type a number" not in screen_text(app)
        assert app.config.phone.language == "zh_CN"


async def test_engine_notice_from_the_sip_thread_is_shown_as_a_toast():
    app, phone = build()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        phone.fire(Notice("Account 2: registration failed (503); trying backup.", "warning"))
        await until(pilot, lambda: "registration failed" in screen_text(app))


def test_logs_go_to_a_file_and_not_to_the_terminal(tmp_path, capsys):
    root = logging.getLogger()
    before = root.handlers[:]
    with log_to_file(tmp_path / "logs") as path:
        assert not any(getattr(h, "stream", None) in (sys.stderr, sys.stdout) for h in root.handlers)
        logging.getLogger("tuiphone.test").warning("registrar went away")
    assert root.handlers == before
    assert "registrar went away" in path.read_text(encoding="utf-8")
    assert "registrar went away" not in capsys.readouterr().err


class Services:
    """Stands in for services.runner.Services: records start and stop, or refuses to start."""

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.calls: list[str] = []

    async def start(self) -> None:
        from tuiphone.services.runner import ServiceError

        self.calls.append("start")
        if self.refuse:
            raise ServiceError(self.refuse)

    async def stop(self) -> None:
        self.calls.append("stop")


async def test_services_start_on_the_apps_loop_and_stop_with_it():
    services = Services()
    app, _ = build(services=services)
    async with app.run_test() as pilot:
        await until(pilot, lambda: services.calls == ["start"])
    assert services.calls == ["start", "stop"]


async def test_services_that_cannot_start_are_named_and_the_phone_goes_on():
    app, _ = build(services=Services("the CTI API cannot listen on 127.0.0.1:8088"))
    async with app.run_test(notifications=True) as pilot:
        await until(pilot, lambda: "without its services" in screen_text(app))
        assert "8088" in screen_text(app)


async def test_the_log_file_at_the_default_level_tells_registrations_calls_and_errors(tmp_path):
    from tuiphone.engine.events import LineState, RegState

    app, phone = build()
    root = logging.getLogger()
    saved_level = root.level
    root.setLevel(logging.WARNING)          # what `--log-level warning` (the default) leaves on the root logger
    try:
        with log_to_file(tmp_path / "logs") as path:
            async with app.run_test() as pilot:
                phone.fire(RegState(account=0, registered=True, sip_status=200, reason="OK", expires=3600,
                                    server="127.0.0.1:5090"))
                app.place_call("200", 0)
                await until(pilot, lambda: 1 in app.lines)
                phone.set_state(1, LineState.TALKING, codec="PCMU")
                await until(pilot, lambda: app.lines[1].call.state == LineState.TALKING)
                phone.set_state(1, LineState.ENDED, sip_status=200, reason="OK")
                await until(pilot, lambda: not app.lines)
                app.show_error("The SIP server did not answer.")
                await pilot.pause()
        text = path.read_text(encoding="utf-8")
    finally:
        root.setLevel(saved_level)
    assert "account 1: registered with 127.0.0.1:5090 (200 OK, expires in 3600 s)" in text
    assert "line 1: calling sip:200@127.0.0.1 (account 1)" in text
    assert "line 1: talking with sip:200@127.0.0.1 (PCMU)" in text
    assert "line 1: call with sip:200@127.0.0.1 ended after" in text
    assert "The SIP server did not answer." in text
