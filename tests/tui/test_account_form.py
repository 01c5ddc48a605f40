"""Settings › Accounts: add, edit (every key of [[accounts]], checked as the config is) and delete accounts;
Status › System names the config file and the data folder. One test registers a new account with Kamailio."""

from __future__ import annotations

import asyncio

import pytest

from tests.tui.conftest import ACCOUNTS, build, screen_text, until
from tuiphone.config import AccountConfig, load_config, save_config
from tuiphone.screens.account_form import FORM_FIELDS, AccountEditScreen
from tuiphone.screens.confirm import ConfirmScreen
from tuiphone.screens.settings import AccountsSettingsScreen

NO_ACCOUNTS = "[phone]\nlines = 2\n"


def soft_keys(app) -> str:
    return " | ".join(app.screen.query_one("SoftKeyBar").labels())


def flat(app) -> str:
    return " ".join(screen_text(app).replace("▌", " ").split())


def fill(screen, **values) -> None:
    for name, value in values.items():
        screen.query_one(f"#acc-{name}").value = value


def test_the_form_has_every_key_of_an_account_once():
    assert sorted(FORM_FIELDS) == sorted(AccountConfig.model_fields)


async def test_with_no_accounts_f1_adds_one_from_a_form_with_every_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("# my phone\n[phone]\nlines = 2   # two is enough\n")
    app, phone = build(NO_ACCOUNTS, config_path=path)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("m", "8", "1")
        assert isinstance(app.screen, AccountsSettingsScreen)
        assert "There are no accounts yet: press F1 Add to add one." in screen_text(app)
        assert soft_keys(app) == "F1 Add |  |  | F4 Back"
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, AccountEditScreen))
        assert "New account 1" in screen_text(app)
        fill(app.screen, sip_server="127.0.0.1:5090", user_id="1001", password="s3cret", codecs="pcmu g722",
             srtp="optional", reg_expires="120", outbound_proxy="127.0.0.1:5091", anonymous=True,
             auto_answer="intercom", register=True)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, AccountsSettingsScreen))
        await until(pilot, lambda: any(c[0] == "reconfigure_account" for c in phone.commands))
        assert ("reconfigure_account", 0, "127.0.0.1:5090", "1001") in phone.commands
        assert "127.0.0.1:5090" in screen_text(app)
        assert soft_keys(app) == "F1 Edit | F2 Disable | F3 Register | F4 More"
        await pilot.press("f4")
        assert soft_keys(app) == "F1 Add | F2 Delete | F3 Back | F4 More"
    saved = load_config(path).accounts[0]
    assert (saved.codecs, saved.srtp, saved.reg_expires, saved.outbound_proxy, saved.anonymous,
            saved.auto_answer) == (["PCMU", "G722"], "optional", 120, "127.0.0.1:5091", True, "intercom")
    text = path.read_text()
    assert text.startswith("# my phone\n[phone]\nlines = 2   # two is enough\n")
    assert "[[accounts]]" in text and "enabled" not in text      # only the keys that differ from the defaults


async def test_each_problem_is_a_sentence_naming_the_field_and_nothing_is_saved(tmp_path):
    path = tmp_path / "config.toml"
    app, phone = build(config_path=path)
    save_config(app.config, path)
    before = path.read_text()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("m", "8", "1", "enter")
        await until(pilot, lambda: isinstance(app.screen, AccountEditScreen))
        fill(app.screen, reg_expires="5", codecs="G722 opus", options_interval="often")
        await pilot.press("f1")
        await until(pilot, lambda: "(reg_expires)" in screen_text(app))
        text = flat(app)
        assert "Registration expiry in seconds (30–86400) (reg_expires): must be between 30 and 86400 (got 5)." \
            in text
        assert "(codecs[1]): must be one of G722, PCMU, PCMA, speex, iLBC, GSM (got 'opus')." in text
        assert "(options_interval): must be a whole number (got 'often')." in text
        assert app.focused is app.screen.query_one("#acc-options_interval") or \
            app.focused is app.screen.query_one("#acc-reg_expires")
        # checked as the whole config is: the transport must be one sip.transports opens
        fill(app.screen, reg_expires="60", codecs="G722", options_interval="30", transport="tls")
        await pilot.press("f1")
        await until(pilot, lambda: "(transport): is \"tls\" but sip.transports" in flat(app))
        assert isinstance(app.screen, AccountEditScreen)
        assert not any(c[0] == "reconfigure_account" for c in phone.commands)
    assert path.read_text() == before


async def test_delete_asks_then_removes_the_account_and_the_later_ones_move_up(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(ACCOUNTS)
    app, phone = build(config_path=path)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("m", "8", "1")
        await pilot.press("f4", "f2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Delete account 1 (Office) from the phone and the config file?"
        await pilot.press("escape")
        assert [a.name for a in app.config.accounts] == ["Office", "Home"]
        await pilot.press("f4", "f2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: [a.name for a in app.config.accounts] == ["Home"])
        # both numbers are retired first, then account 2 is applied as account 1
        await until(pilot, lambda: ("reconfigure_account", 0, "127.0.0.2", "2002") in phone.commands)
        assert [c for c in phone.commands if c[0] == "reconfigure_account"] == [
            ("reconfigure_account", 0, "127.0.0.1:5090", "1001"), ("reconfigure_account", 1, "127.0.0.2", "2002"),
            ("reconfigure_account", 0, "127.0.0.2", "2002")]
        await until(pilot, lambda: "Account 1 (Office) is deleted" in " ".join(n.message for n in app._notifications))
        assert "Office" not in screen_text(app) and "Home" in screen_text(app)
    assert [a.name for a in load_config(path).accounts] == ["Home"]
    assert "Office" not in path.read_text() and 'name = "Home"\nsip_server = "127.0.0.2"\n' in path.read_text()


async def test_status_system_names_the_config_file_and_the_data_folder(tmp_path):
    path = tmp_path / "config.toml"
    app, phone = build(config_path=path)
    phone.data_dir = str(tmp_path / "data")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("m", "6", "3")
        await until(pilot, lambda: "Config file" in screen_text(app))
        lines = [" ".join(line.split()) for line in str(app.screen.query_one("#system-facts").render()).splitlines()]
        assert f"Config file {path}" in lines and f"Data folder {tmp_path / 'data'}" in lines


@pytest.mark.peers
def test_an_account_added_from_the_form_registers_with_kamailio(kamailio, tmp_path):
    from tests.inprocess import phone_factory
    from tuiphone.app import make_app

    path = tmp_path / "config.toml"
    path.write_text("# nothing yet\n")
    with phone_factory() as make:
        phone = make({})
        app = make_app(phone, phone.config, config_path=path, blink=False)

        async def drive() -> None:
            async with app.run_test(size=(100, 40)) as pilot:
                await pilot.press("m", "8", "1", "f1")
                await until(pilot, lambda: isinstance(app.screen, AccountEditScreen))
                fill(app.screen, sip_server=f"{kamailio.host}:{kamailio.port}", user_id="1001",
                     password=kamailio.users["1001"], reg_expires="60")
                await pilot.press("f1")
                await until(pilot, lambda: isinstance(app.screen, AccountsSettingsScreen))
                await until(pilot, lambda: app.registrations.get(0) is not None and app.registrations[0].registered,
                            timeout=10)
                assert "Registered" in screen_text(app)

        asyncio.run(drive())
        assert phone.registrations()[0].registered
    assert load_config(path).accounts[0].user_id == "1001"


@pytest.mark.peers
def test_deleting_the_first_account_moves_the_second_up_and_unregisters_the_first(kamailio, tmp_path):
    from tests.inprocess import phone_factory
    from tuiphone.app import make_app
    from tuiphone.engine.events import SipMessage

    server = f"{kamailio.host}:{kamailio.port}"
    accounts = [{"name": name, "sip_server": server, "user_id": user, "password": kamailio.users[user],
                 "reg_expires": 60} for name, user in (("First", "1001"), ("Second", "1002"))]
    path = tmp_path / "config.toml"
    with phone_factory() as make:
        phone = make({"accounts": accounts})
        save_config(phone.config, path)
        app = make_app(phone, phone.config, config_path=path, blink=False)

        def registered(index: int) -> bool:
            reg = phone.registrations().get(index)
            return reg is not None and reg.registered

        async def drive() -> None:
            async with app.run_test(size=(100, 40)) as pilot:
                await until(pilot, lambda: registered(0) and registered(1), timeout=10)
                await pilot.press("m", "8", "1", "f4", "f2")
                await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                await pilot.press("enter")
                await until(pilot, lambda: len(app.config.accounts) == 1 and 1 not in phone.registrations(),
                            timeout=10)
                await until(pilot, lambda: registered(0), timeout=10)

        asyncio.run(drive())
        assert [a.user_id for a in phone.config.accounts] == ["1002"]
        unregister = [m for m in phone.seen if isinstance(m, SipMessage) and m.direction == "out"
                      and m.first_line.startswith("REGISTER") and "sip:1001@" in m.text
                      and ("Expires: 0" in m.text or "expires=0" in m.text)]
        assert unregister, "account 1001 was never unregistered"
        # 1002 moved from number 2 to 1: its old binding went first, so the registrar keeps the new one
        last_1002 = [m for m in phone.seen if isinstance(m, SipMessage) and m.direction == "out"
                     and m.first_line.startswith("REGISTER") and "sip:1002@" in m.text][-1]
        assert "Expires: 0" not in last_1002.text and "expires=0" not in last_1002.text
    assert [a.user_id for a in load_config(path).accounts] == ["1002"]


async def test_the_form_in_chinese_has_no_english_labels_or_choices():
    import re

    from textual.widgets import Select, Static

    from tests.tui.test_app_core import KEEP_IN_CHINESE
    from tuiphone import i18n

    app, _ = build(NO_ACCOUNTS)
    i18n.set_language("zh_CN")
    async with app.run_test(size=(100, 40)) as pilot:
        app.push_screen(AccountEditScreen(0))
        await until(pilot, lambda: isinstance(app.screen, AccountEditScreen))
        texts = [str(w.render()) for w in app.screen.query(Static)
                 if w.has_class("field-label") or w.has_class("form-section")]
        texts += [str(prompt) for select in app.screen.query(Select) for prompt, _ in select._options]
        assert len(texts) > 2 * len(FORM_FIELDS)
        english = {word for text in texts for word in re.findall(r"[A-Za-z_]{2,}", text)} - KEEP_IN_CHINESE
        assert english == set()


async def test_disabling_an_account_in_a_hand_written_file_adds_just_that_line(tmp_path):
    path = tmp_path / "config.toml"
    hand = "# my accounts\n" + ACCOUNTS.replace('name = "Home"', 'name = "Home"   # the flat')
    path.write_text(hand)
    app, _ = build(hand, config_path=path)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("m", "8", "1", "down", "f2")
        await until(pilot, lambda: not app.config.accounts[1].enabled)
    lines = path.read_text().splitlines()
    assert [line for line in lines if line not in hand.splitlines()] == ["enabled = false # Use this account"]
    assert len(lines) == len(hand.splitlines()) + 1 and lines[0] == "# my accounts"
    assert (tmp_path / "config.toml.bak.1").read_text() == hand
