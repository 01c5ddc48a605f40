"""The attached TUI starts on the config as plain data (config.view.ConfigView, sent by the phone process: no
pydantic at start); what changes the config gets the schema's models, built from the same data, at the
first change, and sections read before it still lead to the right place."""

from __future__ import annotations

import pytest

from tests.tui.conftest import ACCOUNTS, Clock, make_config, screen_text, until
from tests.tui.fake_phone import FakePhone
from tuiphone.app import make_app
from tuiphone.config import Config, load_config
from tuiphone.config.view import ConfigView, plain_config, same_section
from tuiphone.screens.menu import MenuScreen
from tuiphone.store import Store


def attached_build(text: str = ACCOUNTS, **kwargs):
    """As tests.tui.conftest.build, the app given the phone's plain view of the config instead of the models."""
    config = make_config(text)
    phone = FakePhone(config)
    app = make_app(phone, ConfigView(plain_config(config)), clock=Clock(), blink=False, store=Store(":memory:"),
                   **kwargs)
    return app, phone


def test_a_view_reads_as_the_models_do_and_cannot_be_changed():
    config = make_config(ACCOUNTS + '\n[keymap]\nhold = "H"\n')
    view = ConfigView(plain_config(config))
    assert view.accounts[1].user_id == config.accounts[1].user_id == "2002"
    assert view.sip.tls.port == config.sip.tls.port and list(view.sip.transports) == config.sip.transports
    assert view.keymap.model_extra == config.keymap.model_extra == {"hold": "H"}
    assert view.accounts[0] is view.accounts[0]          # a section is one object, as a model's is
    assert same_section(config, view.accounts[1]) is config.accounts[1]
    assert same_section(config, view.sip.tls) is config.sip.tls
    assert same_section(config, config.features) is config.features
    with pytest.raises(TypeError, match="read-only"):
        view.phone.language = "zh_CN"
    with pytest.raises(AttributeError, match="accounts.0.nosuch"):
        _ = view.accounts[0].nosuch


async def test_a_setting_changed_twice_from_a_menu_opened_on_the_view_is_saved_each_time(tmp_path):
    path = tmp_path / "config.toml"
    app, _ = attached_build(config_path=path)
    assert isinstance(app.config, ConfigView)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "7", "4")
        await until(pilot, lambda: "Hold * for" in screen_text(app))
        before = app.config.features.star_key_lock
        await pilot.press("2")
        await until(pilot, lambda: path.exists() and load_config(path).features.star_key_lock is (not before))
        assert isinstance(app.config, Config) and app.config.features.star_key_lock is (not before)
        await pilot.press("2")          # the menu read the view before the change: the second flip flips back
        await until(pilot, lambda: load_config(path).features.star_key_lock is before)
        assert isinstance(app.screen, MenuScreen)


async def test_the_language_and_an_account_edited_in_settings_are_saved_from_the_view(tmp_path):
    path = tmp_path / "config.toml"
    app, _ = attached_build(config_path=path)
    async with app.run_test(size=(100, 40)) as pilot:
        app.switch_language("zh_CN")
        assert load_config(path).phone.language == "zh_CN"
        app.switch_language("en")
        await pilot.pause()
        await pilot.press("m", "8", "1", "enter")       # Settings › Accounts › edit the first one
        await until(pilot, lambda: app.screen.query("#acc-name"))
        app.screen.query_one("#acc-name").value = "Front desk"
        await pilot.press("f1")
        await until(pilot, lambda: load_config(path).accounts[0].name == "Front desk")
        assert load_config(path).accounts[1].user_id == "2002" and load_config(path).phone.language == "en"
