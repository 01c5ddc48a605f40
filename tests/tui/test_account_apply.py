"""Settings › Accounts: a saved account is handed to the engine at once, which registers it again."""

from __future__ import annotations

from concurrent.futures import Future

from tests.tui.conftest import build, screen_text, until
from tuiphone.config import load_config
from tuiphone.engine.phone import PhoneError
from tuiphone.screens.settings import AccountEditScreen, AccountsSettingsScreen


def flat(app) -> str:
    """The screen's words in one line (a toast wraps its sentence)."""
    return " ".join(screen_text(app).replace("▌", " ").split())


async def save_server(app, pilot, server: str) -> None:
    await pilot.press("m", "8", "1", "enter")
    await until(pilot, lambda: isinstance(app.screen, AccountEditScreen))
    app.screen.query_one("#acc-sip_server").value = server
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(app.screen, AccountsSettingsScreen))


async def test_saved_account_is_reconfigured_at_once_and_says_so(tmp_path):
    path = tmp_path / "config.toml"
    app, phone = build(config_path=path)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await save_server(app, pilot, "127.0.0.9:5070")
        await until(pilot, lambda: ("reconfigure_account", 0, "127.0.0.9:5070", "1001") in phone.commands)
        await until(pilot, lambda: "saved and applied: it registers again with the new settings" in flat(app))
        assert load_config(path).accounts[0].sip_server == "127.0.0.9:5070"


async def test_an_account_the_engine_cannot_apply_stays_saved_and_the_reason_is_shown(tmp_path):
    path = tmp_path / "config.toml"
    app, phone = build(config_path=path)

    def refuse(index, account) -> Future:
        future: Future = Future()
        future.set_exception(PhoneError("Account 1 cannot change transport while a call is up: end it first."))
        return future
    phone.reconfigure_account = refuse
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await save_server(app, pilot, "127.0.0.9:5070")
        await until(pilot, lambda: "could not apply it now: Account 1 cannot change transport while a call is up: "
                                   "end it first." in flat(app))
        assert load_config(path).accounts[0].sip_server == "127.0.0.9:5070"
