"""The web terminal in a real browser (headless Debian chromium, one session for the module): sign in, open
Terminal, read the screen from the page's xterm buffer, type into it, check that no request left 127.0.0.1 and
that the page ran under its CSP without a violation, sign out (the terminal's socket closes, its front-end is
waited for). The front-end is the real one: the TUI attached to a running daemon, dialing a real tuiphone peer
from the browser. (tests/web/test_web_terminal.py checks the bridge with a test app, without a browser.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.services.helpers import wait_for
from tests.web.helpers import PASSWORD, wait_web, web_daemon
from tests.web.terminal_helpers import gone

DOCS = Path(__file__).resolve().parents[2] / "docs"
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
const t = (window.__terminals || [])[0];
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


def new_tab(driver) -> str:
    """A new tab, switched to, with the terminal-keeping script too (DevTools adds it per tab); its handle."""
    driver.switch_to.new_window("tab")
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_TERMINALS})
    return driver.current_window_handle


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


def children(pid: int) -> list[tuple[int, str]]:
    """(PID, state) of every child process of `pid`; a zombie (state Z) is one its parent did not wait for."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append((int(stat.parent.name), fields[0]))
    return found


def line_states(config: Path) -> list[tuple[int, str]]:
    from tuiphone.control.client import call_phone

    _, status = call_phone(config, "status")
    return [(item["call"]["line"], item["call"]["state"]) for item in status["lines"]]


def sign_in(driver, base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/terminal")
    assert driver.current_url == base + "/login"
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "signin").click()
    WebDriverWait(driver, 10).until(shown.url_to_be(base + "/status"))


@pytest.mark.peers
def test_the_terminal_is_the_running_phones_own_screen_and_dials_a_real_peer(chromium, phones, tmp_path,
                                                                           monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tuiphone.control.client import call_phone

    runtime = Path(tempfile.mkdtemp(prefix="tp-run-", dir="/tmp"))     # the control socket (108-byte paths)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    callee = phones("callee", ["answer", "--timeout", "40", "--duration", "40", "--json"])
    daemon, base = web_daemon(tmp_path)
    daemon.start()
    try:
        callee.wait_ready()
        wait_web(base, daemon)
        requested_urls(chromium)              # drained: what the browser's own start page loaded is not ours
        sign_in(chromium, base)
        chromium.find_element(By.LINK_TEXT, "Terminal").click()
        first = chromium.current_window_handle
        screen = wait_screen(chromium, "F4 Menu", timeout=30)
        assert "1 Idle" in screen, screen                        # the phone's idle screen, in the page
        shots = DOCS if os.environ.get("TUIPHONE_SCREENSHOTS") == "1" else tmp_path
        assert chromium.save_screenshot(str(shots / "web-terminal.png"))
        second = new_tab(chromium)                               # a second tab: a second front-end
        chromium.get(base + "/terminal")
        wait_screen(chromium, "F4 Menu", timeout=30)
        front_ends = [pid for pid, _ in children(daemon.pid)]
        assert len(front_ends) == 2, children(daemon.pid)        # each one the daemon's own child
        chromium.switch_to.window(second)
        chromium.close()                                         # closing a tab ends only its front-end
        chromium.switch_to.window(first)
        wait_for(lambda: len(children(daemon.pid)) == 1, 10, "the closed tab's front-end to end")
        (kept,) = [pid for pid, _ in children(daemon.pid)]
        keys = chromium.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        keys.send_keys(Keys.F2)                                  # the idle screen's Direct IP soft key
        wait_screen(chromium, "Direct IP Call")
        keys.send_keys(callee.keypad)                            # 127*0*0*1#PORT: * is a dot, # a colon
        wait_screen(chromium, f"Calls sip:127.0.0.1:{callee.port}")
        keys.send_keys(Keys.ENTER)
        wait_for(lambda: line_states(daemon.config_path) == [(1, "talking")], 30, "line 1 of the phone talking")
        wait_screen(chromium, "Talking")
        ctl = subprocess.run([sys.executable, "-m", "tuiphone", "--config", str(daemon.config_path), "ctl",
                              "status", "--json"], capture_output=True, text=True, timeout=30)
        status = json.loads(ctl.stdout)["result"]
        assert [(i["call"]["line"], i["call"]["state"]) for i in status["lines"]] == [(1, "talking")], ctl
        check_the_page_stayed_on_127_0_0_1(chromium, base)
        new_tab(chromium)                                        # sign out from another tab ...
        chromium.get(base + "/status")
        chromium.find_element(By.CSS_SELECTOR, ".logout button").click()
        # the sign-out's answer is the login page: closing the tab before it came could abort the request
        wait_for(lambda: chromium.current_url == base + "/login", 10, "the sign-out to be answered")
        chromium.close()
        chromium.switch_to.window(first)
        ended = chromium.find_element(By.CSS_SELECTOR, ".terminal-ended")
        wait_for(ended.is_displayed, 10, "the terminal to say it ended")   # ... the phone closed this one's socket
        assert gone(kept)                                        # its front-end ended ...
        assert children(daemon.pid) == []                        # ... and the daemon waited for it (no zombie)
        assert line_states(daemon.config_path) == [(1, "talking")]   # only the front-end went: the call goes on
        call_phone(daemon.config_path, "hangup", {"line": 1})
        rc, report = callee.result()
        assert rc == 0 and report["answered"] == 1, callee.stderr()
    finally:
        daemon.stop()
        subprocess.run(["rm", "-rf", str(runtime)], check=False)


def check_the_page_stayed_on_127_0_0_1(driver, base: str) -> None:
    """Every request of the page (its script, style sheets, font, websocket) went to the web admin, and the CSP
    refused nothing but xterm's first (DOM) renderer's two <style> elements, which the canvas renderer replaces
    before anything is drawn: a refused connection or script would show in the console."""
    urls = requested_urls(driver)
    ws = base.replace("http", "ws", 1)
    assert base + "/static/terminal/js/textual.js" in urls and ws + "/terminal/ws?width=" in " ".join(urls)
    assert base + "/static/terminal/fonts/RobotoMono-VariableFont_wght.ttf" in urls
    outside = [u for u in urls if not (u.startswith(base + "/") or u.startswith(ws + "/"))]
    assert not outside, f"the page fetched from elsewhere: {outside}"
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(u.startswith(base + "/") or u.startswith(ws + "/") for u in resources), resources
    console = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
               and "favicon.ico" not in e["message"]
               and not ("textual.js" in e["message"] and "Applying inline style violates" in e["message"])]
    assert not console, console
