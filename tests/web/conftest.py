"""Fixtures of the web admin tests: a daemon with its web admin, started once per module and stopped by PID."""

from __future__ import annotations

import pytest

from tests.web.helpers import Browser, wait_web, web_daemon


@pytest.fixture(scope="module")
def admin(tmp_path_factory):
    """(daemon PhoneProc, base URL) of a daemon with no accounts and the web admin on; shared by a module."""
    workdir = tmp_path_factory.mktemp("web")
    proc, base = web_daemon(workdir)
    proc.start()
    try:
        wait_web(base, proc)
        yield proc, base
    finally:
        proc.stop()


@pytest.fixture
def browser(admin):
    """A fresh, signed-in client of the module's web admin."""
    client = Browser(admin[1])
    assert client.sign_in().status_code == 303
    return client
