"""The web admin's guard against a real daemon: sign-in, lockout, CSRF, limits, hostile input, path tricks."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.tools import SIP_ON_ANY_PORT, require_tool
from tests.web.helpers import PASSWORD, Browser, text_of, wait_web, web_daemon

ADMIN_GETS = ["/status", "/config", "/config/download", "/phonebook", "/phonebook/download", "/captures",
              "/captures/file/sip-1.pcap", "/recordings", "/recordings/file/a.wav", "/dial", "/password"]
ADMIN_POSTS = ["/config/upload", "/phonebook", "/captures/start", "/captures/stop", "/dial", "/password",
               "/logout"]
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<AddressBook><Contact><FirstName>&lol3;</FirstName><Phone><phonenumber>1</phonenumber></Phone></Contact></AddressBook>
"""


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_admin_route_without_a_session_goes_to_sign_in(admin):
    anonymous = Browser(admin[1])
    for path in ADMIN_GETS:
        response = anonymous.get(path)
        assert (response.status_code, response.headers.get("Location")) == (303, "/login"), path
    for path in ADMIN_POSTS:
        response = anonymous.post(path, {"number": "100"}, csrf=False)
        assert response.status_code == 401, path
        assert "Sign in first" in text_of(response)
    stale = Browser(admin[1])
    stale.http.cookies.set("tuiphone_session", "made-up")
    assert stale.get("/status").status_code == 303


def test_wrong_password_is_refused_without_a_cookie_and_the_right_one_signs_in(admin):
    client = Browser(admin[1])
    response = client.post("/login", {"password": PASSWORD + "x"}, csrf=False)
    assert response.status_code == 401 and "Wrong password" in text_of(response)
    assert "Set-Cookie" not in response.headers and not client.http.cookies
    response = client.sign_in()
    assert response.status_code == 303 and response.headers["Location"] == "/status"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=3600" in cookie
    assert "Secure" not in cookie        # http: a Secure cookie would never come back
    page = client.get("/status")
    assert page.status_code == 200 and "Status" in page.text
    assert client.post("/logout").status_code == 303
    assert client.get("/status").status_code == 303       # the session ended on the phone too


def test_security_headers_and_no_cors(browser):
    for response in (browser.get("/status"), browser.get("/login"), browser.get("/nowhere"),
                     browser.http.options(browser.base + "/status", headers={"Origin": "http://evil.example"})):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert browser.get("/nowhere").status_code == 404
    refused = browser.post("/dial", {"number": "100"}, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403


def test_a_form_without_its_csrf_token_is_refused(browser):
    for form in ({"number": "100"}, {"number": "100", "csrf": "not-the-token"}):
        response = browser.post("/dial", form, csrf=False)
        assert response.status_code == 403 and "security token" in text_of(response)
    response = browser.post("/captures/start", csrf=False)
    assert response.status_code == 403


def test_an_oversized_upload_is_413_without_a_traceback(admin, browser):
    big = b"x" * (7 * 1024 * 1024)
    response = browser.post("/config/upload", files={"file": ("config.toml", big)})
    assert response.status_code == 413
    assert "larger than 6 MB" in text_of(response) and "Traceback" not in response.text
    assert "Traceback" not in admin[0].stderr()
    assert browser.get("/status").status_code == 200        # the phone and the session carry on


def test_hostile_xml_is_refused(admin, browser):
    response = browser.post("/phonebook", files={"file": ("phonebook.xml", BILLION_LAUGHS)})
    assert response.status_code == 400 and "DTD" in text_of(response)
    config = admin[0].config_path
    before = sha256(config)
    provision = BILLION_LAUGHS.replace(b"AddressBook", b"gs_provision")
    response = browser.post("/config/upload", files={"file": ("cfg.xml", provision)})
    assert response.status_code == 400 and "DTD or entities" in text_of(response)
    assert sha256(config) == before


@pytest.mark.parametrize("path", [
    "/captures/file/..%2F..%2Fwebphone.toml", "/captures/file/%2e%2e%2fwebphone.toml",
    "/captures/file/.hidden.pcap", "/captures/file/sip-none.pcap", "/recordings/file/..%2Fwebphone.toml",
    "/recordings/file/x.toml", "/recordings/file/%2Fetc%2Fpasswd",
])
def test_path_tricks_in_download_names_are_refused(browser, path):
    response = browser.get(path)
    assert response.status_code in (400, 404), response.status_code
    assert "admin-not-web" not in response.text and "[phone]" not in response.text


def test_a_bad_config_upload_shows_its_problems_and_changes_nothing(admin, browser):
    config = admin[0].config_path
    before = sha256(config)
    bad = (b'[[accounts]]\nsip_server = "pbx.example.com"\nuser_id = "1001"\ntransport = "carrier-pigeon"\n'
           b'[phone]\nlines = 99\n')
    response = browser.post("/config/upload", files={"file": ("config.toml", bad)})
    page = text_of(response)
    assert response.status_code == 400
    assert "accounts[0].transport" in page and "phone.lines" in page
    assert sha256(config) == before and not config.with_name(config.name + ".bak.1").exists()
    response = browser.post("/config/upload", files={"file": ("config.txt", b"P47 = pbx\nthis is not a P-value\n")})
    assert response.status_code == 400 and "line 2 is not a P-value" in text_of(response)
    assert sha256(config) == before


def test_config_download_masks_passwords_unless_asked(browser):
    masked = browser.get("/config/download")
    assert masked.status_code == 200 and 'attachment; filename="config.toml"' in masked.headers["Content-Disposition"]
    assert PASSWORD not in masked.text and "admin-not-web" not in masked.text and "********" in masked.text
    assert PASSWORD in browser.get("/config/download?secrets=1").text


def test_phonebook_upload_reports_and_downloads_in_every_format(browser):
    csv = b"First Name,Last Name,Phone 1\nAda,Lovelace,1001\nAlan,Turing,1002\n"
    response = browser.post("/phonebook", {"format": "csv"}, files={"file": ("book.csv", csv)})
    assert response.status_code == 200 and "2 contacts read; 2 added" in text_of(response)
    xml = browser.get("/phonebook/download?format=gs-xml")
    assert xml.status_code == 200 and "Lovelace" in xml.text and "<AddressBook" in xml.text
    assert "BEGIN:VCARD" in browser.get("/phonebook/download?format=vcard").text
    assert "Turing" in browser.get("/phonebook/download?format=csv").text
    assert browser.get("/phonebook/download?format=../../x").status_code == 400


def test_capture_start_stop_and_download_read_with_tshark(admin, browser, tmp_path):
    require_tool("tshark", "tshark")
    proc = admin[0]
    response = browser.post("/captures/start")
    assert response.status_code == 200 and "Capturing into sip-" in text_of(response)
    assert browser.post("/captures/start").status_code == 409          # one at a time
    from tuiphone.engine.options import OptionsPinger, OptionsTarget
    with OptionsPinger(OptionsTarget.parse(proc.address), bind="127.0.0.1", timeout=2) as pinger:
        assert pinger.ping().sip_status == 200       # an OPTIONS in and its 200 out: two SIP messages
    response = browser.post("/captures/stop")
    assert response.status_code == 200 and "Capture stopped" in text_of(response)
    name = next(part for part in response.text.split('"') if part.startswith("/captures/file/sip-"))
    pcap = browser.get(name)
    assert pcap.status_code == 200 and "attachment" in pcap.headers["Content-Disposition"]
    out = tmp_path / "got.pcap"
    out.write_bytes(pcap.content)
    read = subprocess.run(["tshark", "-r", str(out), *SIP_ON_ANY_PORT, "-Y", "sip", "-T", "fields", "-e", "sip.Method",
                           "-e", "sip.Status-Code"], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert "OPTIONS" in read.stdout and "200" in read.stdout


def test_web_password_change_is_saved_and_used(admin, browser):
    proc = admin[0]
    wrong = browser.post("/password", {"old": "nope", "new": "n3w-pass", "again": "n3w-pass"})
    assert wrong.status_code == 400 and "current password is wrong" in text_of(wrong)
    differ = browser.post("/password", {"old": PASSWORD, "new": "n3w-pass", "again": "n3w-pasz"})
    assert differ.status_code == 400 and "differ" in text_of(differ)
    done = browser.post("/password", {"old": PASSWORD, "new": "n3w-pass", "again": "n3w-pass"})
    assert done.status_code == 200 and "was changed" in text_of(done)
    assert 'password = "n3w-pass"' in proc.config_path.read_text()
    assert Browser(admin[1]).sign_in("n3w-pass").status_code == 303
    assert Browser(admin[1]).sign_in(PASSWORD).status_code == 401
    browser.post("/password", {"old": "n3w-pass", "new": PASSWORD, "again": PASSWORD})
    assert Browser(admin[1]).sign_in(PASSWORD).status_code == 303


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_gives_a_secure_cookie_and_wrong_passwords_lock_the_address_out(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    proc, base = web_daemon(tmp_path, "lockme")
    port = base.rsplit(":", 1)[1]
    base = f"https://127.0.0.1:{port}"
    proc.config_path.write_text(proc.config_path.read_text().replace(
        'password = "web-secret-1"', f'password = "web-secret-1"\ntls_cert = "{cert}"\ntls_key = "{key}"'))
    proc.start()
    try:
        client = Browser(base)
        client.http.verify = str(cert)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.get("/login")
                break
            except requests.ConnectionError as exc:
                assert time.monotonic() < deadline and proc._popen.poll() is None, (exc, proc.stderr())
                time.sleep(0.1)
        signed = client.sign_in()
        assert signed.status_code == 303 and "Secure" in signed.headers["Set-Cookie"]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/login", timeout=3)       # https only
        other = Browser(base)
        other.http.verify = str(cert)
        statuses = [other.post("/login", {"password": "guess"}, csrf=False).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 401]
        locked = other.post("/login", {"password": PASSWORD}, csrf=False)
        assert locked.status_code == 429 and "Too many wrong passwords" in text_of(locked)
        assert int(locked.headers["Retry-After"]) >= 1 and not other.http.cookies
    finally:
        proc.stop()


def test_recordings_are_listed_downloaded_and_played(admin, browser):
    folder = admin[0].workdir / "webphone-data" / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    import numpy as np

    from tuiphone.audio.wav import write_wav
    write_wav(folder / "call-1002.wav", np.zeros(1600, dtype=np.int16), 16000)
    page = browser.get("/recordings")
    assert page.status_code == 200
    assert '<audio controls preload="none" src="/recordings/file/call-1002.wav?play=1">' in page.text
    played = browser.get("/recordings/file/call-1002.wav?play=1")
    assert played.status_code == 200 and played.headers["Content-Type"] == "audio/wav"
    assert played.headers["Content-Disposition"].startswith("inline") and played.content[:4] == b"RIFF"
    assert browser.get("/recordings/file/call-1002.wav").headers["Content-Disposition"].startswith("attachment")


def test_web_disabled_opens_no_port(tmp_path):
    proc, base = web_daemon(tmp_path, "noweb", enabled=False)
    proc.start()
    try:
        proc.wait_ready()
        port = int(base.rsplit(":", 1)[1])
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
        with pytest.raises(requests.ConnectionError):
            requests.get(base + "/login", timeout=2)
    finally:
        proc.stop()
    # `tuiphone web` serves it with the same config all the same, in the foreground
    proc.argv[proc.argv.index("daemon")] = "web"
    proc.argv[:3] = [sys.executable, "-m", "tuiphone"]
    proc.start()
    try:
        wait_web(base, proc)
        assert Browser(base).sign_in().status_code == 303
        assert f"web admin on {base}" in proc.stderr()
    finally:
        proc.stop()
