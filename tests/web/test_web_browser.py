"""The web admin in a real browser: headless Debian chromium signs in with a wrong then the right password, sees
Status, and saves a screenshot (into docs/web-status.png, the one the README shows, with
TUIPHONE_SCREENSHOTS=1). One browser session."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.web.helpers import PASSWORD

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="chromium and chromium-driver are not installed")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1100,760", "--no-first-run", "--disable-extensions",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()        # chromedriver stops the browser it started, by its own PID


def test_sign_in_wrong_then_right_and_status_screenshot(admin, chromium, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    base = admin[1]
    started = time.monotonic()
    chromium.get(base + "/status")
    assert chromium.current_url == base + "/login"              # sent to the sign-in page
    chromium.find_element(By.ID, "password").send_keys("not-the-password")
    chromium.find_element(By.ID, "signin").click()
    problem = WebDriverWait(chromium, 10).until(shown.presence_of_element_located((By.CSS_SELECTOR, ".problem")))
    assert "Wrong password." in problem.text
    assert chromium.get_cookies() == []                          # refused: no cookie
    chromium.find_element(By.ID, "password").send_keys(PASSWORD)
    chromium.find_element(By.ID, "signin").click()
    WebDriverWait(chromium, 10).until(shown.url_to_be(base + "/status"))
    assert chromium.find_element(By.TAG_NAME, "h1").text == "Status"
    lines = chromium.find_element(By.ID, "lines").text
    assert "1 idle" in lines
    cookie = next(c for c in chromium.get_cookies() if c["name"] == "tuiphone_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert chromium.execute_script("return document.cookie") == ""      # HttpOnly: scripts cannot read it
    # the README's picture: taken by this test; written into docs/ only when asked (TUIPHONE_SCREENSHOTS=1),
    # so that a test run does not leave the tree changed
    shots = DOCS if os.environ.get("TUIPHONE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(exist_ok=True)
    assert chromium.save_screenshot(str(shots / "web-status.png"))
    assert (shots / "web-status.png").stat().st_size > 1000
    assert time.monotonic() - started < 20
