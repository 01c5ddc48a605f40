"""The web admin in a real browser: headless Debian chromium signs in with a wrong then the right password, sees
Status, and saves a screenshot (into docs/web-status.png, the one the README shows, with
TUIPHONE_SCREENSHOTS=1); then uploads a bad and a good config and downloads a SIP capture read with tshark.
One browser session."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tools import SIP_ON_ANY_PORT, require_tool
from tests.web.helpers import PASSWORD

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="chromium and chromium-driver are not installed")


def gone(element):
    """A wait condition: `element` left the page. Selenium's staleness_of expects StaleElementReference, but
    while the next page loads chromedriver may say "Node with given id does not belong to the document"
    instead (a plain WebDriverException): either means the element's page is gone."""
    from selenium.common.exceptions import WebDriverException

    def check(_driver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False
    return check


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    """The folder chromium saves downloads into."""
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory, downloads):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1100,760", "--no-first-run", "--disable-extensions",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
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


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_config_upload_bad_then_good_and_a_capture_downloaded(admin, chromium, downloads, tmp_path):
    require_tool("tshark", "tshark")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    from tuiphone.engine.options import OptionsPinger, OptionsTarget

    proc, base = admin
    config = proc.config_path
    chromium.get(base + "/config")
    if chromium.current_url == base + "/login":                  # run alone: this session is not signed in yet
        chromium.find_element(By.ID, "password").send_keys(PASSWORD)
        chromium.find_element(By.ID, "signin").click()
        WebDriverWait(chromium, 10).until(shown.url_to_be(base + "/status"))
        chromium.get(base + "/config")
    assert chromium.find_element(By.TAG_NAME, "h1").text == "Config"

    def upload(name: str, text: str) -> None:
        (tmp_path / name).write_text(text)
        field = chromium.find_element(By.ID, "config-file")
        field.send_keys(str(tmp_path / name))
        chromium.find_element(By.ID, "config-upload").click()
        WebDriverWait(chromium, 10).until(gone(field))                   # the answer's page replaced this one
        WebDriverWait(chromium, 10).until(shown.presence_of_element_located((By.ID, "config-file")))

    before = sha256(config)
    upload("bad.toml", '[[accounts]]\nsip_server = "pbx.example.com"\nuser_id = "1001"\n'
                       'transport = "carrier-pigeon"\n[phone]\nlines = 99\n')
    problems = " ".join(p.text for p in chromium.find_elements(By.CSS_SELECTOR, ".problem"))
    assert "accounts[0].transport" in problems and "phone.lines" in problems
    assert chromium.find_elements(By.ID, "outcome") == []
    assert sha256(config) == before and not config.with_name(config.name + ".bak.1").exists()

    current = config.read_text()                                 # the file with its passwords, as downloaded
    assert "[phone]\n" in current and "idle_text" not in current
    upload("good.toml", current.replace("[phone]\n", '[phone]\nidle_text = "from the browser"\n', 1))
    outcome = chromium.find_element(By.ID, "outcome").text
    assert "Saved; the old file is kept as" in outcome and f"{config.name}.bak.1" in outcome
    assert "[phone] changed; it takes effect when the phone restarts" in outcome
    assert chromium.find_elements(By.CSS_SELECTOR, ".problem") == []
    assert 'idle_text = "from the browser"' in config.read_text()
    assert config.with_name(config.name + ".bak.1").read_text() == current

    chromium.get(base + "/captures")
    chromium.find_element(By.XPATH, "//form[@action='/captures/start']//button").click()
    running = WebDriverWait(chromium, 10).until(shown.presence_of_element_located((By.ID, "running")))
    assert "Capturing into sip-" in running.text
    with OptionsPinger(OptionsTarget.parse(proc.address), bind="127.0.0.1", timeout=2) as pinger:
        assert pinger.ping().sip_status == 200       # an OPTIONS in and its 200 out: two SIP messages
    chromium.find_element(By.XPATH, "//form[@action='/captures/stop']//button").click()
    notice = WebDriverWait(chromium, 10).until(
        shown.presence_of_element_located((By.XPATH, "//p[@class='notice'][starts-with(., 'Capture stopped')]")))
    name = notice.text.split("Capture stopped: ", 1)[1].split(",", 1)[0]
    assert name.startswith("sip-") and name.endswith(".pcap")
    chromium.find_element(By.XPATH, f"//table[@id='files']//a[.='{name}']").click()
    pcap = downloads / name
    WebDriverWait(chromium, 10, poll_frequency=0.1).until(
        lambda _: pcap.exists() and pcap.stat().st_size > 0 and not list(downloads.glob("*.crdownload")))
    read = subprocess.run(["tshark", "-r", str(pcap), *SIP_ON_ANY_PORT, "-Y", "sip", "-T", "fields", "-e", "sip.Method",
                           "-e", "sip.Status-Code"], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert "OPTIONS" in read.stdout and "200" in read.stdout
