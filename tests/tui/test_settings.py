"""Status › Network, Settings behind the admin password (accounts, call features, saved atomically), Wi-Fi."""

from __future__ import annotations

from tests.tui.conftest import ACCOUNTS, build, screen_text, until
from tests.tui.test_netinfo_nmcli import NM_DEVICES, NM_WIFI
from tuiphone.config import load_config, save_config
from tuiphone.engine.events import RegState
from tuiphone.screens import nmcli
from tuiphone.screens.menu import MenuScreen
from tuiphone.screens.network import NetworkStatusScreen
from tuiphone.screens.prompt import TextPromptScreen
from tuiphone.screens.settings import AccountEditScreen, AccountsSettingsScreen
from tuiphone.screens.wifi import WifiScreen

ADMIN = '[phone]\nadmin_password = "4321"\n' + ACCOUNTS


def soft_keys(app) -> str:
    return " | ".join(app.screen.query_one("SoftKeyBar").labels())


async def test_status_network_shows_the_sip_address_and_the_interfaces():
    app, _ = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "6", "2")
        assert isinstance(app.screen, NetworkStatusScreen)
        await until(pilot, lambda: "127.0.0.1/8" in screen_text(app))
        text = screen_text(app)
        assert "SIP address" in text and "127.0.0.1:5060" in text
        assert "lo  " in text and "Gateway" in text and "DNS servers" in text


async def test_settings_ask_for_the_admin_password_then_disable_an_account_and_save_it(tmp_path):
    path = tmp_path / "config.toml"
    app, phone = build(ADMIN, config_path=path)
    save_config(app.config, path)        # a file to back up
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "8")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*"1111", "enter")
        assert "That is not the admin password" in screen_text(app)
        await pilot.press("ctrl+u", *"4321", "enter")
        await until(pilot, lambda: isinstance(app.screen, MenuScreen))
        assert "1. Accounts" in screen_text(app) and "3. Network & Wi-Fi" in screen_text(app)
        await pilot.press("1")
        assert isinstance(app.screen, AccountsSettingsScreen)
        phone.fire(RegState(account=1, registered=True, sip_status=200, reason="OK", expires=3600,
                            server="127.0.0.2"))
        await pilot.press("down")
        assert soft_keys(app) == "F1 Edit | F2 Disable | F3 Register | F4 More"
        await pilot.press("f2")
        await until(pilot, lambda: ("register", 1, False) in phone.commands)
        assert "Disabled" in screen_text(app)
        assert load_config(path).accounts[1].enabled is False
        assert (tmp_path / "config.toml.bak.1").exists()


async def test_account_edit_checks_the_fields_and_saves_a_valid_change(tmp_path):
    path = tmp_path / "config.toml"
    app, _ = build(config_path=path)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("m", "8", "1", "enter")
        assert isinstance(app.screen, AccountEditScreen)
        app.screen.query_one("#acc-name").value = "Front desk"
        app.screen.query_one("#acc-no_key_timeout").value = "99"
        await pilot.press("f1")
        await until(pilot, lambda: "(no_key_timeout): must be between 0 and 60 (got 99)." in screen_text(app))
        assert not path.exists()
        app.screen.query_one("#acc-no_key_timeout").value = "6"
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, AccountsSettingsScreen))
        saved = load_config(path).accounts[0]
        assert (saved.name, saved.no_key_timeout) == ("Front desk", 6)
        assert "Front desk" in screen_text(app)


async def test_feature_settings_are_checked_by_the_schema():
    app, _ = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "8", "2")
        assert "6. Conference size: up to 5 parties" in screen_text(app)
        await pilot.press("6", "ctrl+u", *"11", "enter")
        assert "conference_max" in screen_text(app) and isinstance(app.screen, TextPromptScreen)
        await pilot.press("ctrl+u", "4", "enter")
        await until(pilot, lambda: "6. Conference size: up to 4 parties" in screen_text(app))
        await pilot.press("5")
        await until(pilot, lambda: "Call recording: every call" in screen_text(app))
        assert app.config.features.record == "auto" and app.config.features.conference_max == 4


def fake_nmcli(monkeypatch, replies: dict[str, tuple[int, str, str]]) -> list:
    calls: list = []

    def run(args: list[str], stdin: str = ""):
        calls.append((args, stdin))
        for key, reply in replies.items():
            if key in " ".join(args):
                return reply
        return 0, "", ""
    monkeypatch.setattr(nmcli, "run_nmcli", run)
    return calls


async def test_wifi_lists_networks_and_connects_with_the_password(monkeypatch):
    calls = fake_nmcli(monkeypatch, {"DEVICE": (0, NM_DEVICES, ""), "radio wifi": (0, "enabled\n", ""),
                                     "wifi list": (0, NM_WIFI, "")})
    app, _ = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "8", "3", "7")
        assert isinstance(app.screen, WifiScreen)
        await until(pilot, lambda: "wlp2s0 is connected to Office: 5G." in screen_text(app))
        text = screen_text(app)
        assert "Home\\Net" in text and "▂▄▆· 67%" in text and "open" in text
        assert soft_keys(app) == "F1 Scan | F2 Connect | F3 Wi-Fi off | F4 Back"
        await pilot.press("down", "down", "enter")
        assert isinstance(app.screen, TextPromptScreen) and "Password for Lab" in screen_text(app)
        await pilot.press(*"s3cret", "enter")
        await until(pilot, lambda: any("connect" in args for args, _ in calls))
        assert (["--ask", "device", "wifi", "connect", "Lab"], "s3cret\n") in calls


async def test_wifi_says_so_when_there_is_no_networkmanager_or_no_permission(monkeypatch):
    fake_nmcli(monkeypatch, {"DEVICE": (nmcli.NOT_FOUND, "", "")})
    app, _ = build()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("m", "8", "3", "7")
        await until(pilot, lambda: "NetworkManager (nmcli) is not installed here" in screen_text(app))
        assert soft_keys(app) == " |  |  | F4 Back"
        fake_nmcli(monkeypatch, {"DEVICE": (0, NM_DEVICES, ""), "radio wifi on": (0, "", ""),
                                 "radio wifi off": (1, "", "Error: Not authorized to control networking."),
                                 "radio wifi": (0, "enabled\n", ""), "wifi list": (0, NM_WIFI, "")})
        await pilot.press("escape", "7")
        await until(pilot, lambda: "F3 Wi-Fi off" in soft_keys(app))
        await pilot.press("f3")
        await until(pilot, lambda: "You are not allowed to change the network" in screen_text(app))


async def test_a_wrong_admin_password_is_cleared_and_a_right_one_is_remembered_until_the_phone_locks():
    app, _ = build(ADMIN)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "8")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*"1234", "enter")
        await until(pilot, lambda: "That is not the admin password" in screen_text(app))
        assert app.screen.query_one("#prompt-input").value == ""        # not 1234 plus what comes next
        await pilot.press(*"4321", "enter")
        await until(pilot, lambda: isinstance(app.screen, MenuScreen) and "Accounts" in screen_text(app))
        await pilot.press("escape")
        await pilot.press("8")                  # Settings again: no second question
        await until(pilot, lambda: isinstance(app.screen, MenuScreen) and "Accounts" in screen_text(app))
        await pilot.press("escape", "escape")
        app.action_lock()
        await pilot.pause()
        app.unlock()
        await pilot.press("m", "8")             # after a lock the password is asked again
        await until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
