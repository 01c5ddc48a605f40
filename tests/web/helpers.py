"""The web admin under test: a real `tuiphone daemon` with [web] on a free loopback port, and a browser-like
HTTP client (requests, cookies kept) that signs in and reads the CSRF token from the pages."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.phoneproc import PhoneProc, sip_port
from tests.services.helpers import daemon_proc

PASSWORD = "web-secret-1"


def web_daemon(workdir: Path, name: str = "webphone", config: dict[str, Any] | None = None,
               enabled: bool = True) -> tuple[PhoneProc, str]:
    """A daemon (not started) with the web admin on a free port; returns (proc, base URL)."""
    cfg = dict(config or {})
    port = sip_port()
    cfg.setdefault("phone", {"admin_password": "admin-not-web"})
    cfg.setdefault("web", {"enabled": enabled, "listen": f"127.0.0.1:{port}", "password": PASSWORD})
    proc, _ = daemon_proc(workdir, name, cfg, cti=False)
    return proc, f"http://127.0.0.1:{port}"


def wait_web(base: str, proc: PhoneProc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/login", timeout=2)
            return
        except requests.ConnectionError:
            if proc._popen is not None and proc._popen.poll() is not None:
                pytest.fail(f"the daemon exited: {proc.stderr()}")
            time.sleep(0.1)
    pytest.fail(f"the web admin did not answer at {base}: {proc.stderr()}")


class Browser:
    """A signed-in (or not) HTTP client of one web admin."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.http.verify)    # per request: REQUESTS_CA_BUNDLE would override the session's
        response = self.http.get(self.base + path, allow_redirects=False, timeout=20, **kwargs)
        self._learn(response)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, csrf: bool = True,
             **kwargs: Any) -> requests.Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        kwargs.setdefault("verify", self.http.verify)
        response = self.http.post(self.base + path, data=form, allow_redirects=False, timeout=30, **kwargs)
        self._learn(response)
        return response

    def sign_in(self, password: str = PASSWORD) -> requests.Response:
        response = self.post("/login", {"password": password}, csrf=False)
        if response.status_code == 303:
            self.get("/status")
        return response

    def _learn(self, response: requests.Response) -> None:
        match = re.search(r'name="csrf" value="([^"]+)"', response.text if "html" in
                          response.headers.get("Content-Type", "") else "")
        if match:
            self.csrf = match.group(1)


def text_of(response: requests.Response) -> str:
    """The page's visible sentences (tags dropped), for asserts."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())
