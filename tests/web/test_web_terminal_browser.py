"""The web terminal in a real browser (headless Debian chromium, one session): sign in, open Terminal, read the
screen from the page's xterm buffer, type into it, check that no request left 127.0.0.1 and that the page ran
under its CSP without a violation, sign out (the terminal's socket closes)."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.web.helpers import PASSWORD
from tests.web.terminal_helpers import gone, inprocess_admin

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="chromium and chromium-driver are not installed")

# Test-only, injected through DevTools before the page's own scripts (CSP does not apply to it): textual.js keeps
# its xterm Terminal in `this.terminal` of an object it does not export; a setter on Object.prototype records it
# in window.__terminals so that the test can read the terminal's buffer, the text the user sees.
KEEP_TERMINALS = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active) { window.__terminals.push(value); }
  },
});
"""
READ_SCREEN = """
const t = window.__terminals[0];
if (!t) { return null; }
const lines = [];
for (let i = 0; i < t.buffer.active.length; i++) {
  const line = t.buffer.active.getLine(i);
  lines.push(line ? line.translateToString(true) : "");
}
return lines.join("\\n");
"""


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
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_TERMINALS})
    try:
        yield driver
    finally:
        driver.quit()        # chromedriver stops the browser it started, by its own PID


def wait_screen(driver, words: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    screen = None
    while time.monotonic() < deadline:
        screen = driver.execute_script(READ_SCREEN)
        if screen and words in screen:
            return screen
        time.sleep(0.1)
    pytest.fail(f"the terminal in the page never showed {words!r}: {screen!r}")


def requested_urls(driver) -> list[str]:
    """Every URL the browser asked for since the last call (pages, scripts, fonts, websockets), from its log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def sign_in(driver, base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/terminal")
    assert driver.current_url == base + "/login"
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "signin").click()
    WebDriverWait(driver, 10).until(shown.url_to_be(base + "/status"))


def test_the_terminal_in_the_page_shows_the_screen_takes_keys_and_closes_on_sign_out(chromium, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    started = time.monotonic()
    with inprocess_admin(tmp_path) as (admin, base, _):
        requested_urls(chromium)              # drained: what the browser's own start page loaded is not ours
        sign_in(chromium, base)
        chromium.find_element(By.LINK_TEXT, "Terminal").click()
        screen = wait_screen(chromium, "ECHO APP READY")
        pid = int(screen.split("pid=")[1].split()[0])
        assert admin.terminals.pids() == [pid]
        chromium.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("42" + Keys.ENTER)
        wait_screen(chromium, "typed: 42<enter>")
        urls = requested_urls(chromium)
        ws = base.replace("http", "ws", 1)
        assert base + "/static/terminal/js/textual.js" in urls and ws + "/terminal/ws?width=" in " ".join(urls)
        assert base + "/static/terminal/fonts/RobotoMono-VariableFont_wght.ttf" in urls
        outside = [u for u in urls if not (u.startswith(base + "/") or u.startswith(ws + "/"))]
        assert not outside, f"the page fetched from elsewhere: {outside}"
        resources = chromium.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources and all(u.startswith(base + "/") or u.startswith(ws + "/") for u in resources), resources
        # under the page's CSP: the only refusals are xterm's first (DOM) renderer's two <style> elements, which
        # the canvas renderer replaces before anything is drawn; a refused connection or script would show here
        console = [e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"
                   and "favicon.ico" not in e["message"]
                   and not ("textual.js" in e["message"] and "Applying inline style violates" in e["message"])]
        assert not console, console
        chromium.find_element(By.CSS_SELECTOR, ".logout button").click()
        assert gone(pid)                      # sign-out closed the socket: the front-end ended, waited for
        assert admin.terminals.pids() == []
    assert time.monotonic() - started < 30
