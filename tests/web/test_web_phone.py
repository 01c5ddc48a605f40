"""The web admin driving the phone: a config upload re-registers at a real Kamailio, Click-to-dial reaches a real
tuiphone peer."""

from __future__ import annotations

import time

import pytest

from tests.web.helpers import text_of

pytestmark = pytest.mark.peers


def wait_page(browser, path: str, words: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    page = ""
    while time.monotonic() < deadline:
        page = text_of(browser.get(path))
        if words in page:
            return page
        time.sleep(0.2)
    pytest.fail(f"{path} never showed {words!r}: {page[-600:]}")


def test_a_good_config_upload_registers_the_account_and_a_config_txt_re_registers_it(admin, browser, kamailio):
    config = admin[0].config_path
    current = browser.get("/config/download?secrets=1").text
    server = f"{kamailio.host}:{kamailio.port}"
    account = (f'\n[[accounts]]\nname = "Desk"\nsip_server = "{server}"\nuser_id = "1001"\n'
               f'password = "{kamailio.users["1001"]}"\nreg_expires = 60\n')
    response = browser.post("/config/upload", files={"file": ("config.toml", (current + account).encode())})
    page = text_of(response)
    assert response.status_code == 200, page
    assert "account 1 (1001) applied" in page and f"{config.name}.bak.1" in page
    assert config.with_name(config.name + ".bak.1").read_text() == current
    assert 'user_id = "1001"' in config.read_text()
    status = wait_page(browser, "/status", "registered")
    assert f"1001 {server} registered" in status
    pvalues = f"P47 = {server}\nP35 = 1002\nP36 = 1002\nP34 = {kamailio.users['1002']}\nP999 = 7\n".encode()
    response = browser.post("/config/upload", files={"file": ("config.txt", pvalues)})
    page = text_of(response)
    assert response.status_code == 200, page
    assert "account 1 (1002) applied" in page and "P999" in page
    wait_page(browser, "/status", f"1002 {server} registered")
    assert 'user_id = "1002"' in config.read_text()


def test_click_to_dial_reaches_a_real_peer(admin, browser, phones):
    callee = phones("callee", ["answer", "--timeout", "30", "--duration", "2", "--json"], ready=True)
    refused = browser.post("/dial", {"number": "", "account": ""})
    assert refused.status_code == 400 and "Phonenumber is missing" in text_of(refused)
    bad = browser.post("/dial", {"number": "100", "account": "7"})
    assert bad.status_code == 400 and ("Account must be 0 to" in text_of(bad) or "has no accounts" in text_of(bad))
    response = browser.post("/dial", {"number": callee.keypad, "account": ""})
    assert response.status_code == 200 and "on line 1" in text_of(response), text_of(response)
    wait_page(browser, "/status", "1 talking")
    rc, report = callee.result()
    assert rc == 0 and report["answered"] == 1, callee.stderr()
